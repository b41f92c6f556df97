"""SCIM filters: RFC 7644 §3.4.2.2 grammar and semantics on canonical JSON resources."""

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.scim.errors import InvalidFilter
from gateway.scim.filters import (
    equality_lookup,
    matches,
    parse_filter,
    referenced_attributes,
    validate_attributes,
)

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def user(**changes: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "id": "u-Ab12",
        "externalId": "00uX1",
        "userName": "Ana.Silva@example.com",
        "name": {"givenName": "Ana", "familyName": "Silva"},
        "emails": [
            {"value": "ana@work.example", "type": "work", "primary": True},
            {"value": "ana@home.example", "type": "home"},
        ],
        "active": True,
        "meta": {
            "created": "2026-01-10T08:00:00Z",
            "lastModified": "2026-02-01T12:30:15.250+01:00",
            "resourceType": "User",
            "version": 'W/"3"',
        },
        ENTERPRISE: {"department": "Finance", "manager": {"value": "m-1"}},
        "loginCount": 7,
    }
    resource.update(changes)
    return resource


def group(**changes: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "id": "g-1",
        "displayName": "Finance Analysts",
        "members": [
            {"value": "u-Ab12", "display": "Ana", "type": "User"},
            {"value": "u-cd34", "display": "Sam"},
        ],
    }
    resource.update(changes)
    return resource


def match(text: str, resource: dict[str, Any] | None = None) -> bool:
    return matches(parse_filter(text), user() if resource is None else resource)


# Operators.


def test_eq_matches_an_equal_string() -> None:
    assert match('userName eq "Ana.Silva@example.com"')


def test_eq_does_not_match_a_different_string() -> None:
    assert not match('userName eq "sam@example.com"')


def test_ne_matches_a_different_string() -> None:
    assert match('userName ne "sam@example.com"')


def test_ne_does_not_match_an_equal_string() -> None:
    assert not match('userName ne "ana.silva@example.com"')


def test_co_matches_a_substring() -> None:
    assert match('userName co "silva@"')


def test_sw_matches_a_prefix() -> None:
    assert match('userName sw "ana."')


def test_sw_does_not_match_a_suffix() -> None:
    assert not match('userName sw "example.com"')


def test_ew_matches_a_suffix() -> None:
    assert match('userName ew "@EXAMPLE.com"')


def test_gt_compares_strings_lexicographically() -> None:
    assert match('userName gt "Ana"')


def test_ge_matches_an_equal_string() -> None:
    assert match('userName ge "ana.silva@example.com"')


def test_lt_compares_numbers() -> None:
    assert match("loginCount lt 8")


def test_le_matches_an_equal_number() -> None:
    assert match("loginCount le 7")


def test_gt_does_not_match_a_smaller_number() -> None:
    assert not match("loginCount gt 7")


def test_an_integer_equals_the_same_decimal() -> None:
    assert match("loginCount eq 7.0")


def test_a_number_never_equals_a_string() -> None:
    assert not match('loginCount eq "7"')


def test_pr_matches_a_present_attribute() -> None:
    assert match("userName pr")


def test_pr_does_not_match_an_absent_attribute() -> None:
    assert not match("title pr")


def test_eq_true_matches_an_active_user() -> None:
    assert match("active eq true")


def test_eq_false_does_not_match_an_active_user() -> None:
    assert not match("active eq false")


# Logic, precedence and grouping.


def test_and_needs_both_sides() -> None:
    assert not match('userName sw "ana" and title pr')


def test_or_needs_one_side() -> None:
    assert match('title pr or userName sw "ana"')


def test_and_binds_tighter_than_or() -> None:
    # Read as: userName sw "x" or (active eq true and loginCount eq 7)
    assert match('userName sw "x" or active eq true and loginCount eq 7')


def test_and_binds_tighter_than_or_when_or_comes_last() -> None:
    # Read as: (active eq false and loginCount eq 7) or userName sw "ana"
    assert match('active eq false and loginCount eq 7 or userName sw "ana"')


def test_parentheses_override_precedence() -> None:
    assert not match('(userName sw "x" or active eq true) and loginCount eq 8')


def test_nested_parentheses_group() -> None:
    assert match('((userName sw "ana") and ((active eq true)))')


def test_not_inverts_a_match() -> None:
    assert not match('not (userName sw "ana")')


def test_not_inverts_a_non_match() -> None:
    assert match("not (title pr)")


def test_not_without_a_space_before_the_parenthesis_parses() -> None:
    assert match("not(title pr)")


def test_not_without_parentheses_is_invalid() -> None:
    with pytest.raises(InvalidFilter):
        parse_filter("not title pr")


# Case.


def test_attribute_names_are_case_insensitive() -> None:
    assert match('USERNAME eq "ana.silva@example.com"')


def test_operators_and_logical_words_are_case_insensitive() -> None:
    assert match('userName EQ "ana.silva@example.com" AnD NOT (title Pr) OR active Eq TRUE')


def test_sub_attribute_names_are_case_insensitive() -> None:
    assert match('NAME.FAMILYNAME eq "silva"')


def test_resource_keys_are_matched_case_insensitively() -> None:
    assert match('userName eq "x"', {"USERNAME": "x"})


def test_user_name_compares_case_insensitively() -> None:
    assert match('userName eq "ANA.SILVA@EXAMPLE.COM"')


def test_display_name_compares_case_insensitively() -> None:
    assert match('displayName eq "finance analysts"', group())


def test_id_compares_case_exactly() -> None:
    assert not match('id eq "U-AB12"')


def test_external_id_compares_case_exactly() -> None:
    assert not match('externalId eq "00ux1"')


def test_external_id_matches_its_exact_value() -> None:
    assert match('externalId eq "00uX1"')


def test_meta_version_compares_case_exactly() -> None:
    assert not match('meta.version eq "w/\\"3\\""')


def test_member_value_compares_case_exactly() -> None:
    assert not match('members.value eq "U-AB12"', group())


def test_ref_compares_case_exactly() -> None:
    resource = group(members=[{"value": "u", "$ref": "https://x/Users/u"}])

    assert not match('members.$ref eq "https://X/Users/u"', resource)


def test_case_exact_rule_can_be_replaced() -> None:
    parsed = parse_filter('userName eq "ANA.SILVA@EXAMPLE.COM"')

    assert not matches(parsed, user(), case_exact=lambda path: path == "username")


# Multi-valued and complex attributes.


def test_sub_attribute_of_a_multi_valued_attribute_matches_any_element() -> None:
    assert match('emails.type eq "home"')


def test_multi_valued_attribute_without_sub_attribute_compares_value() -> None:
    assert match('emails eq "ANA@HOME.EXAMPLE"')


def test_members_without_sub_attribute_compare_their_value_case_exactly() -> None:
    assert not match('members eq "u-ab12"', group())


def test_list_of_simple_values_matches_any_element() -> None:
    assert match('schemas eq "urn:ietf:params:scim:schemas:core:2.0:User"')


def test_comparing_a_single_complex_attribute_is_invalid() -> None:
    with pytest.raises(InvalidFilter):
        match('name eq "Ana"')


def test_ordering_a_complex_attribute_is_invalid() -> None:
    with pytest.raises(InvalidFilter):
        match('name gt "Ana"')


# Value paths.


def test_value_path_matches_an_element_meeting_the_filter() -> None:
    assert match('emails[type eq "work"]')


def test_value_path_does_not_match_when_no_element_meets_the_filter() -> None:
    assert not match('emails[type eq "other"]')


def test_value_path_needs_one_element_to_meet_every_condition() -> None:
    assert not match('emails[type eq "work" and value co "home"]')


def test_value_path_with_and_matches_one_element() -> None:
    assert match('emails[type eq "work" and value co "@work"]')


def test_value_path_with_or_and_not_inside() -> None:
    assert match('emails[not (type eq "work") or primary eq true]')


def test_members_value_path_matches_a_member_id() -> None:
    assert match('members[value eq "u-cd34"]', group())


def test_members_value_path_compares_the_id_case_exactly() -> None:
    assert not match('members[value eq "U-CD34"]', group())


def test_value_path_on_an_absent_attribute_does_not_match() -> None:
    assert not match('members[value eq "u-cd34"]', group(members=[]))


def test_value_path_combines_with_other_expressions() -> None:
    assert match('emails[type eq "work"] and userName sw "ana"')


def test_entra_value_path_with_sub_attribute_comparison_matches() -> None:
    assert match('emails[type eq "work"].value eq "ana@work.example"')


def test_entra_value_path_needs_the_same_element_to_match() -> None:
    assert not match('emails[type eq "work"].value eq "ana@home.example"')


def test_entra_value_path_with_presence() -> None:
    assert match('emails[type eq "home"].value pr')


def test_an_element_filter_is_evaluated_within_its_attribute() -> None:
    parsed = parse_filter('value eq "U-CD34"')

    assert not matches(parsed, {"value": "u-cd34"}, within="members")


def test_an_element_filter_within_emails_ignores_case() -> None:
    parsed = parse_filter('type eq "WORK"')

    assert matches(parsed, {"value": "a@b", "type": "work"}, within="emails")


# URN-qualified paths.


def test_enterprise_attribute_matches_by_its_urn() -> None:
    assert match(f'{ENTERPRISE}:department eq "finance"')


def test_enterprise_sub_attribute_matches_by_its_urn() -> None:
    assert match(f'{ENTERPRISE}:manager.value eq "m-1"')


def test_enterprise_manager_value_compares_case_exactly() -> None:
    assert not match(f'{ENTERPRISE}:manager.value eq "M-1"')


def test_urn_is_case_insensitive() -> None:
    assert match(f'{ENTERPRISE.upper()}:DEPARTMENT eq "Finance"')


def test_core_urn_qualified_attribute_reads_the_top_level() -> None:
    assert match('urn:ietf:params:scim:schemas:core:2.0:User:userName sw "ana"')


def test_extension_attribute_without_urn_is_not_looked_up() -> None:
    assert not match('department eq "Finance"')


# Values.


def test_escaped_quote_and_backslash_in_a_value() -> None:
    assert match('title eq "say \\"hi\\" \\\\o/"', user(title='say "hi" \\o/'))


def test_unicode_escape_in_a_value() -> None:
    assert match('name.givenName eq "Ren\\u00e9"', user(name={"givenName": "René"}))


def test_unescaped_non_ascii_in_a_value() -> None:
    assert match('name.givenName eq "rené"', user(name={"givenName": "René"}))


def test_negative_and_exponent_numbers_parse() -> None:
    assert match("balance lt -1.5e2", user(balance=-200))


def test_eq_null_matches_an_absent_attribute() -> None:
    assert match("title eq null")


def test_eq_null_does_not_match_a_present_attribute() -> None:
    assert not match("userName eq null")


def test_ne_null_matches_a_present_attribute() -> None:
    assert match("userName ne null")


def test_eq_null_matches_an_explicit_null() -> None:
    assert match("title eq null", user(title=None))


def test_ne_matches_an_absent_attribute() -> None:
    assert match('title ne "Boss"')


def test_gt_with_null_is_invalid() -> None:
    with pytest.raises(InvalidFilter):
        parse_filter("title gt null")


def test_co_with_a_number_is_invalid() -> None:
    with pytest.raises(InvalidFilter):
        parse_filter("userName co 1")


def test_ordering_a_boolean_value_is_invalid() -> None:
    with pytest.raises(InvalidFilter):
        parse_filter("active gt false")


def test_ordering_a_boolean_attribute_is_invalid() -> None:
    with pytest.raises(InvalidFilter):
        match("active gt 1")


def test_a_boolean_does_not_equal_a_string() -> None:
    assert not match('active eq "true"')


# DateTime.


def test_datetime_equality_is_by_instant_across_offsets() -> None:
    assert match('meta.lastModified eq "2026-02-01T11:30:15.25Z"')


def test_datetime_gt_compares_instants_not_text() -> None:
    # 12:30 at +01:00 is 11:30 UTC, which is before 12:00 UTC.
    assert not match('meta.lastModified gt "2026-02-01T12:00:00Z"')


def test_datetime_lt_compares_instants_not_text() -> None:
    assert match('meta.lastModified lt "2026-02-01T12:00:00Z"')


def test_datetime_fraction_of_nanoseconds_parses() -> None:
    assert match('meta.created ge "2026-01-10T08:00:00.000000000Z"')


def test_datetime_fraction_decides_the_order() -> None:
    assert match('meta.lastModified gt "2026-02-01T11:30:15.249999Z"')


def test_datetime_with_a_negative_offset() -> None:
    assert match('meta.created eq "2026-01-10T03:00:00-05:00"')


def test_datetime_with_lower_case_separators() -> None:
    assert match('meta.created eq "2026-01-10t08:00:00z"')


def test_datetime_compared_with_a_non_date_is_invalid() -> None:
    with pytest.raises(InvalidFilter):
        parse_filter('meta.lastModified gt "yesterday"')


def test_datetime_compared_with_a_number_is_invalid() -> None:
    with pytest.raises(InvalidFilter):
        parse_filter("meta.created gt 2026")


def test_datetime_pr_is_fine() -> None:
    assert match("meta.created pr")


def test_datetime_on_a_resource_without_meta_does_not_match() -> None:
    assert not match('meta.created gt "2020-01-01T00:00:00Z"', {"userName": "x"})


# Presence.


def test_pr_is_false_for_null() -> None:
    assert not match("title pr", user(title=None))


def test_pr_is_false_for_an_empty_string() -> None:
    assert not match("title pr", user(title=""))


def test_pr_is_false_for_an_empty_list() -> None:
    assert not match("emails pr", user(emails=[]))


def test_pr_is_false_for_an_empty_object() -> None:
    assert not match("name pr", user(name={}))


def test_pr_is_false_for_an_object_of_nulls() -> None:
    assert not match("name pr", user(name={"givenName": None}))


def test_pr_is_true_for_false() -> None:
    assert match("active pr", user(active=False))


def test_pr_on_a_sub_attribute_of_a_multi_valued_attribute() -> None:
    assert not match("emails.display pr")


def test_pr_on_a_sub_attribute() -> None:
    assert match("name.familyName pr")


# Bounds and malformed filters.


def test_a_filter_longer_than_the_limit_is_invalid() -> None:
    with pytest.raises(InvalidFilter, match="limit is 20"):
        parse_filter('userName eq "a-long-name-here"', max_length=20)


def test_a_filter_nested_deeper_than_the_limit_is_invalid() -> None:
    text = "not (" * 5 + "title pr" + ")" * 5

    with pytest.raises(InvalidFilter, match="limit is 4"):
        parse_filter(text, max_depth=4)


def test_a_filter_nested_within_the_limit_parses() -> None:
    text = "not (" * 4 + "title pr" + ")" * 4

    assert parse_filter(text, max_depth=4).text == text


def test_a_very_deep_filter_is_invalid_whatever_the_limit() -> None:
    text = "not (" * 200 + "title pr" + ")" * 200

    with pytest.raises(InvalidFilter):
        parse_filter(text, max_depth=1000)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "userName",
        "userName eq",
        'userName eq "x" and',
        '(userName eq "x"',
        'userName eq "x")',
        'userName eq "unterminated',
        'userName xx "x"',
        'userName eq "x" userName eq "y"',
        "userName eq bare",
        'emails[type eq "work"',
        'emails[type eq "work"]]',
        "emails[]",
        'emails[value[type eq "x"]]',
        'a.b.c eq "x"',
        'userName eq "\\x"',
        "userName eq 01",
        "userName eq 1e999",
        'eq "x"',
        'emails[urn:a:b eq "x"]',
    ],
)
def test_a_malformed_filter_is_invalid(text: str) -> None:
    with pytest.raises(InvalidFilter):
        parse_filter(text)


def test_a_syntax_error_says_where_and_what_was_expected() -> None:
    with pytest.raises(InvalidFilter) as raised:
        parse_filter('userName eq "x" and')

    assert raised.value.detail == (
        "The filter 'userName eq \"x\" and' is invalid at character 20: found the end of the "
        "filter; expected '(', an attribute name or 'not'."
    )


def test_a_missing_value_is_reported_as_such() -> None:
    with pytest.raises(InvalidFilter, match="expected a value"):
        parse_filter("userName eq")


def test_a_bad_token_is_quoted_in_the_error() -> None:
    with pytest.raises(InvalidFilter, match="character 17: found 'bad'"):
        parse_filter('userName eq "x" bad')


def test_parsed_filters_are_cached() -> None:
    assert parse_filter('userName eq "cached"') is parse_filter('userName eq "cached"')


def test_a_filter_with_spaces_from_a_decoded_query_parses() -> None:
    assert match('displayName eq "Finance Analysts"', group())


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_parsing_any_text_returns_a_filter_or_raises_invalid_filter(text: str) -> None:
    try:
        parse_filter(text)
    except InvalidFilter:
        pass


FILTER_PARTS = st.sampled_from(
    [
        "userName",
        "emails",
        "emails.value",
        "name",
        "name.givenName",
        "meta.created",
        "members",
        "active",
        "loginCount",
        " eq ",
        " ne ",
        " co ",
        " gt ",
        " le ",
        " pr",
        " and ",
        " or ",
        "not (",
        "(",
        ")",
        "[",
        "]",
        '"ana"',
        '"2026-01-10T08:00:00Z"',
        "true",
        "null",
        "7",
        "type eq ",
        ".value",
    ]
)


@settings(max_examples=500, deadline=None)
@given(st.lists(FILTER_PARTS, min_size=1, max_size=12))
def test_matching_never_raises_anything_but_invalid_filter(parts: list[str]) -> None:
    try:
        parsed = parse_filter("".join(parts))
        matches(parsed, user())
        matches(parsed, group())
        matches(parsed, {})
    except InvalidFilter:
        pass


# Equality lookups.


def test_user_name_eq_is_a_lookup() -> None:
    assert equality_lookup(parse_filter('userName eq "a@b"')) == ("userName", "a@b")


def test_lookup_attribute_is_returned_in_its_canonical_spelling() -> None:
    assert equality_lookup(parse_filter('USERNAME EQ "a@b"')) == ("userName", "a@b")


def test_external_id_eq_is_a_lookup() -> None:
    assert equality_lookup(parse_filter('externalId eq "00u1"')) == ("externalId", "00u1")


def test_display_name_eq_is_a_lookup() -> None:
    assert equality_lookup(parse_filter('displayName eq "G"')) == ("displayName", "G")


def test_id_eq_is_a_lookup() -> None:
    assert equality_lookup(parse_filter('id eq "u-1"')) == ("id", "u-1")


def test_emails_value_eq_is_a_lookup() -> None:
    assert equality_lookup(parse_filter('emails.value eq "a@b"')) == ("emails.value", "a@b")


def test_entra_email_value_path_is_a_lookup() -> None:
    parsed = parse_filter('emails[type eq "work"].value eq "a@b"')

    assert equality_lookup(parsed) == ("emails.value", "a@b")


def test_email_value_path_is_a_lookup() -> None:
    assert equality_lookup(parse_filter('emails[value eq "a@b"]')) == ("emails.value", "a@b")


def test_core_urn_qualified_user_name_is_a_lookup() -> None:
    parsed = parse_filter('urn:ietf:params:scim:schemas:core:2.0:User:userName eq "a"')

    assert equality_lookup(parsed) == ("userName", "a")


def test_one_side_of_an_and_is_a_lookup() -> None:
    parsed = parse_filter('active eq true and userName eq "a"')

    assert equality_lookup(parsed) == ("userName", "a")


def test_a_lookup_deep_in_a_chain_of_ands_is_found() -> None:
    parsed = parse_filter('active eq true and (title pr and (externalId eq "x"))')

    assert equality_lookup(parsed) == ("externalId", "x")


def test_user_name_is_preferred_over_external_id() -> None:
    parsed = parse_filter('externalId eq "x" and userName eq "a"')

    assert equality_lookup(parsed) == ("userName", "a")


def test_or_at_the_top_is_not_a_lookup() -> None:
    assert equality_lookup(parse_filter('userName eq "a" or userName eq "b"')) is None


def test_not_at_the_top_is_not_a_lookup() -> None:
    assert equality_lookup(parse_filter('not (userName eq "a")')) is None


def test_an_or_inside_an_and_is_not_a_lookup() -> None:
    parsed = parse_filter('active eq true and (userName eq "a" or userName eq "b")')

    assert equality_lookup(parsed) is None


def test_co_is_not_a_lookup() -> None:
    assert equality_lookup(parse_filter('userName co "a"')) is None


def test_eq_with_a_non_string_is_not_a_lookup() -> None:
    assert equality_lookup(parse_filter("userName eq null")) is None


def test_eq_on_an_attribute_the_portal_cannot_search_is_not_a_lookup() -> None:
    assert equality_lookup(parse_filter('title eq "Boss"')) is None


def test_value_path_on_another_attribute_is_not_a_lookup() -> None:
    assert equality_lookup(parse_filter('members[value eq "u-1"]')) is None


def test_email_value_path_under_or_is_not_a_lookup() -> None:
    parsed = parse_filter('emails[type eq "work" or value eq "a@b"]')

    assert equality_lookup(parsed) is None


# Referenced attributes.


def test_referenced_attributes_are_canonical_paths() -> None:
    parsed = parse_filter(
        f'userName eq "a" or not (name.FamilyName pr) and emails[type eq "work"].value co "x" '
        f'and {ENTERPRISE}:department eq "F"'
    )

    assert referenced_attributes(parsed) == {
        "username",
        "name.familyname",
        "emails.type",
        "emails.value",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:department",
    }


def test_validate_attributes_accepts_known_attributes() -> None:
    validate_attributes(parse_filter('userName eq "a"'), lambda path: path == "username")


def test_validate_attributes_names_the_unknown_attribute() -> None:
    parsed = parse_filter('userName eq "a" and favouriteColour eq "blue"')

    with pytest.raises(InvalidFilter, match="'favouriteColour'"):
        validate_attributes(parsed, lambda path: path == "username")


def test_validate_attributes_names_an_unknown_sub_attribute_in_a_value_path() -> None:
    parsed = parse_filter('emails[kind eq "work"]')

    with pytest.raises(InvalidFilter, match=r"'emails\.kind'"):
        validate_attributes(parsed, lambda path: path in {"emails.type", "emails.value"})
