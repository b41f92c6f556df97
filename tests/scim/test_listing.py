"""List and search queries (RFC 7644 §3.4.2, §3.4.3) and ListResponse bodies."""

from typing import Any

import pytest

from gateway.scim.errors import InvalidFilter, InvalidSyntax, InvalidValue
from gateway.scim.filters import matches, parse_filter
from gateway.scim.listing import (
    ListQuery,
    list_response,
    page,
    parse_list_query,
    parse_search_request,
    sort_resources,
)

SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


def numbered(how_many: int) -> list[dict[str, Any]]:
    return [{"id": str(number)} for number in range(1, how_many + 1)]


def ids(resources: list[dict[str, Any]]) -> list[str]:
    return [resource["id"] for resource in resources]


# Query parameters.


def test_no_parameters_give_the_first_page_of_everything() -> None:
    assert parse_list_query({}) == ListQuery(
        filter=None,
        filter_text=None,
        start_index=1,
        count=100,
        attributes=(),
        excluded_attributes=(),
        sort_by=None,
        sort_order="ascending",
    )


def test_okta_lookup_parameters_are_read() -> None:
    query = parse_list_query(
        {"filter": 'userName eq "jo@example.com"', "startIndex": "1", "count": "100"}
    )

    assert (query.filter_text, query.start_index, query.count) == (
        'userName eq "jo@example.com"',
        1,
        100,
    )


def test_the_filter_is_parsed() -> None:
    query = parse_list_query({"filter": 'externalId eq "ana"'})

    assert query.filter == parse_filter('externalId eq "ana"')


def test_a_filter_with_spaces_decoded_from_plus_signs_parses() -> None:
    query = parse_list_query({"filter": 'displayName eq "Data Stewards 42"'})

    assert query.filter is not None
    assert matches(query.filter, {"displayName": "Data Stewards 42"})


def test_parameter_names_are_case_insensitive() -> None:
    query = parse_list_query(
        {
            "FILTER": "title pr",
            "startindex": "3",
            "COUNT": "5",
            "Attributes": "userName",
            "EXCLUDEDATTRIBUTES": "members",
            "SORTBY": "userName",
            "SortOrder": "Descending",
        }
    )

    assert query == ListQuery(
        filter=parse_filter("title pr"),
        filter_text="title pr",
        start_index=3,
        count=5,
        attributes=("userName",),
        excluded_attributes=("members",),
        sort_by="userName",
        sort_order="descending",
    )


def test_an_invalid_filter_parameter_is_invalid_filter() -> None:
    with pytest.raises(InvalidFilter):
        parse_list_query({"filter": "userName eq"})


def test_a_blank_filter_is_no_filter() -> None:
    assert parse_list_query({"filter": "  "}).filter is None


def test_a_start_index_below_one_is_read_as_one() -> None:
    assert parse_list_query({"startIndex": "0"}).start_index == 1


def test_a_negative_start_index_is_read_as_one() -> None:
    assert parse_list_query({"startIndex": "-5"}).start_index == 1


def test_a_negative_count_is_read_as_zero() -> None:
    assert parse_list_query({"count": "-1"}).count == 0


def test_a_zero_count_is_kept() -> None:
    assert parse_list_query({"count": "0"}).count == 0


def test_a_count_above_the_maximum_is_clamped() -> None:
    assert parse_list_query({"count": "5000"}, max_count=1000).count == 1000


def test_the_default_count_applies_when_count_is_absent() -> None:
    assert parse_list_query({}, default_count=50).count == 50


def test_an_empty_count_is_the_default() -> None:
    assert parse_list_query({"count": ""}, default_count=50).count == 50


def test_a_non_integer_count_is_invalid_value() -> None:
    with pytest.raises(InvalidValue, match='"count" must be an integer'):
        parse_list_query({"count": "ten"})


def test_a_decimal_start_index_is_invalid_value() -> None:
    with pytest.raises(InvalidValue, match='"startIndex" must be an integer'):
        parse_list_query({"startIndex": "1.5"})


def test_an_absurdly_long_number_is_invalid_value() -> None:
    with pytest.raises(InvalidValue):
        parse_list_query({"count": "9" * 5000})


def test_attributes_are_comma_separated_and_trimmed() -> None:
    query = parse_list_query({"attributes": "userName, name.familyName ,,emails"})

    assert query.attributes == ("userName", "name.familyName", "emails")


def test_urn_qualified_attributes_are_accepted() -> None:
    urn = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    query = parse_list_query({"attributes": f"{urn}:department,{urn}"})

    assert query.attributes == (f"{urn}:department", urn)


def test_a_malformed_attribute_name_is_invalid_value() -> None:
    with pytest.raises(InvalidValue, match="'user name'"):
        parse_list_query({"excludedAttributes": "user name"})


def test_an_unknown_sort_order_is_invalid_value() -> None:
    with pytest.raises(InvalidValue, match='"sortOrder"'):
        parse_list_query({"sortOrder": "sideways"})


def test_unknown_parameters_are_ignored() -> None:
    assert parse_list_query({"foo": "bar"}) == parse_list_query({})


# Search requests.


def test_a_search_request_is_read() -> None:
    query = parse_search_request(
        {
            "schemas": [SEARCH],
            "filter": 'userName sw "a"',
            "startIndex": 2,
            "count": 10,
            "attributes": ["userName", "emails"],
            "excludedAttributes": ["groups"],
            "sortBy": "userName",
            "sortOrder": "descending",
        }
    )

    assert query == ListQuery(
        filter=parse_filter('userName sw "a"'),
        filter_text='userName sw "a"',
        start_index=2,
        count=10,
        attributes=("userName", "emails"),
        excluded_attributes=("groups",),
        sort_by="userName",
        sort_order="descending",
    )


def test_a_search_request_without_its_schema_is_invalid_syntax() -> None:
    with pytest.raises(InvalidSyntax, match="SearchRequest"):
        parse_search_request({"schemas": [], "filter": "title pr"})


def test_a_search_request_that_is_not_an_object_is_invalid_syntax() -> None:
    with pytest.raises(InvalidSyntax):
        parse_search_request(["not", "an", "object"])


def test_a_search_request_may_give_numbers_as_strings() -> None:
    query = parse_search_request({"schemas": [SEARCH], "startIndex": "3", "count": "4"})

    assert (query.start_index, query.count) == (3, 4)


def test_a_search_request_count_is_clamped() -> None:
    query = parse_search_request({"schemas": [SEARCH], "count": 10_000}, max_count=200)

    assert query.count == 200


def test_a_search_request_boolean_count_is_invalid_value() -> None:
    with pytest.raises(InvalidValue):
        parse_search_request({"schemas": [SEARCH], "count": True})


def test_a_search_request_filter_must_be_a_string() -> None:
    with pytest.raises(InvalidValue, match='"filter"'):
        parse_search_request({"schemas": [SEARCH], "filter": 3})


def test_a_search_request_attributes_must_be_names() -> None:
    with pytest.raises(InvalidValue, match='"attributes"'):
        parse_search_request({"schemas": [SEARCH], "attributes": [1, 2]})


def test_a_search_request_defaults_like_a_query() -> None:
    assert parse_search_request({"schemas": [SEARCH]}) == parse_list_query({})


# List responses and pages.


def test_list_response_has_integer_counts_and_the_resources() -> None:
    body = list_response([{"id": "1"}, {"id": "2"}], total=7, start_index=3)

    assert body == {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": 7,
        "startIndex": 3,
        "itemsPerPage": 2,
        "Resources": [{"id": "1"}, {"id": "2"}],
    }


def test_an_empty_list_response_still_has_resources() -> None:
    body = list_response([], total=0, start_index=1)

    assert (body["Resources"], body["itemsPerPage"], body["totalResults"]) == ([], 0, 0)


def test_page_starts_at_the_one_based_start_index() -> None:
    query = parse_list_query({"startIndex": "2", "count": "2"})

    assert ids(page(numbered(5), query)) == ["2", "3"]


def test_page_past_the_end_is_empty() -> None:
    query = parse_list_query({"startIndex": "9"})

    assert page(numbered(5), query) == []


def test_page_near_the_end_is_short() -> None:
    query = parse_list_query({"startIndex": "4", "count": "10"})

    assert ids(page(numbered(5), query)) == ["4", "5"]


def test_a_zero_count_page_is_empty() -> None:
    query = parse_list_query({"count": "0"})

    assert page(numbered(5), query) == []


# Sorting.


def test_sort_ascending_ignores_case() -> None:
    resources = [{"id": "b", "userName": "bob"}, {"id": "a", "userName": "Ann"}]

    assert ids(sort_resources(resources, "userName", "ascending")) == ["a", "b"]


def test_sort_descending_reverses() -> None:
    resources = [{"id": "a", "userName": "ann"}, {"id": "b", "userName": "Bob"}]

    assert ids(sort_resources(resources, "userName", "descending")) == ["b", "a"]


def test_sort_puts_missing_values_last_when_ascending() -> None:
    resources = [{"id": "none"}, {"id": "z", "userName": "zoe"}, {"id": "a", "userName": "ann"}]

    assert ids(sort_resources(resources, "userName", "ascending")) == ["a", "z", "none"]


def test_sort_puts_missing_values_first_when_descending() -> None:
    resources = [{"id": "a", "userName": "ann"}, {"id": "none"}]

    assert ids(sort_resources(resources, "userName", "descending")) == ["none", "a"]


def test_sort_by_sub_attribute_name_is_case_insensitive() -> None:
    resources = [
        {"id": "2", "name": {"familyName": "Silva"}},
        {"id": "1", "name": {"familyName": "chen"}},
    ]

    assert ids(sort_resources(resources, "NAME.familyname", "ascending")) == ["1", "2"]


def test_sort_by_multi_valued_attribute_uses_the_primary_value() -> None:
    resources: list[dict[str, Any]] = [
        {"id": "1", "emails": [{"value": "a@x"}, {"value": "z@x", "primary": True}]},
        {"id": "2", "emails": [{"value": "m@x"}]},
    ]

    assert ids(sort_resources(resources, "emails", "ascending")) == ["2", "1"]


def test_sort_by_datetime_compares_instants() -> None:
    resources = [
        {"id": "09:30 UTC", "meta": {"created": "2026-01-01T10:30:00+01:00"}},
        {"id": "10:00 UTC", "meta": {"created": "2026-01-01T10:00:00Z"}},
    ]

    assert ids(sort_resources(resources, "meta.created")) == ["09:30 UTC", "10:00 UTC"]


def test_sort_by_extension_attribute() -> None:
    urn = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    resources: list[dict[str, Any]] = [
        {"id": "2", urn: {"department": "Sales"}},
        {"id": "1", urn: {"department": "IT"}},
    ]

    assert ids(sort_resources(resources, f"{urn}:department", "ascending")) == ["1", "2"]


def test_no_sort_keeps_the_order() -> None:
    resources = [{"id": "b"}, {"id": "a"}]

    assert ids(sort_resources(resources, None, "descending")) == ["b", "a"]
