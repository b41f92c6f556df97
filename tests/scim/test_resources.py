"""Canonical resources: tolerant parsing of Okta and Entra bodies, paths, projection, ETags."""

from typing import Any

import pytest

from gateway.scim.errors import BadRequest, InvalidPath, InvalidSyntax, InvalidValue
from gateway.scim.resources import (
    ENTERPRISE_USER_SCHEMA,
    GROUP_SCHEMA,
    USER_SCHEMA,
    ParsedUser,
    canonical_path,
    etag,
    parse_etag,
    parse_group,
    parse_user,
    project,
    resource_schema,
)

ENTERPRISE = ENTERPRISE_USER_SCHEMA
ADSCIM_GROUP = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"

# entra/user-lifecycle.json, step 0
ENTRA_CREATE_USER: dict[str, Any] = {
    "schemas": [USER_SCHEMA, ENTERPRISE],
    "externalId": "ana.silva",
    "userName": "ana.silva@contoso.example",
    "active": True,
    "emails": [{"primary": True, "type": "work", "value": "ana.silva@contoso.example"}],
    "meta": {"resourceType": "User"},
    "name": {"formatted": "Ana Silva", "familyName": "Silva", "givenName": "Ana"},
    "roles": [],
    "displayName": "Ana Silva",
    "title": None,
    ENTERPRISE: {"department": "Finance"},
}

# okta/create-user.json, step 1
OKTA_CREATE_USER: dict[str, Any] = {
    "schemas": [USER_SCHEMA],
    "userName": "sam.rivera@example.com",
    "name": {"givenName": "Sam", "familyName": "Rivera"},
    "emails": [{"primary": True, "value": "sam.rivera@example.com", "type": "work"}],
    "displayName": "Sam Rivera",
    "locale": "en-US",
    "externalId": "00uokta",
    "groups": [],
    "password": "tQ4!xv9pLm2z",
    "active": True,
}


def stored_user() -> dict[str, Any]:
    return {
        "schemas": [USER_SCHEMA, ENTERPRISE],
        "id": "u-1",
        "externalId": "ana.silva",
        "userName": "ana.silva@contoso.example",
        "name": {"givenName": "Ana", "familyName": "Silva"},
        "emails": [
            {"value": "ana@work.example", "type": "work", "primary": True},
            {"value": "ana@home.example", "type": "home"},
        ],
        "active": True,
        ENTERPRISE: {"department": "Finance", "manager": {"value": "u-9"}},
        "meta": {"resourceType": "User", "version": 'W/"3"'},
    }


# parse_user


def test_entra_create_body_becomes_a_canonical_user() -> None:
    parsed = parse_user(ENTRA_CREATE_USER)

    assert parsed == ParsedUser(
        resource={
            "schemas": [USER_SCHEMA, ENTERPRISE],
            "externalId": "ana.silva",
            "userName": "ana.silva@contoso.example",
            "active": True,
            "emails": [{"primary": True, "type": "work", "value": "ana.silva@contoso.example"}],
            "name": {"formatted": "Ana Silva", "familyName": "Silva", "givenName": "Ana"},
            "displayName": "Ana Silva",
            ENTERPRISE: {"department": "Finance"},
        },
        password=None,
    )


def test_okta_create_body_keeps_the_password_beside_the_resource() -> None:
    parsed = parse_user(OKTA_CREATE_USER)

    assert parsed == ParsedUser(
        resource={
            "schemas": [USER_SCHEMA],
            "userName": "sam.rivera@example.com",
            "name": {"givenName": "Sam", "familyName": "Rivera"},
            "emails": [{"primary": True, "value": "sam.rivera@example.com", "type": "work"}],
            "displayName": "Sam Rivera",
            "locale": "en-US",
            "externalId": "00uokta",
            "active": True,
        },
        password="tQ4!xv9pLm2z",
    )


def test_okta_put_of_a_read_back_user_ignores_id_meta_and_groups() -> None:
    body = {**stored_user(), "groups": [{"value": "g-1"}], "meta": {"created": "2026-01-01"}}

    resource = parse_user(body).resource

    assert resource == {
        "schemas": [USER_SCHEMA, ENTERPRISE],
        "externalId": "ana.silva",
        "userName": "ana.silva@contoso.example",
        "name": {"givenName": "Ana", "familyName": "Silva"},
        "emails": [
            {"value": "ana@work.example", "type": "work", "primary": True},
            {"value": "ana@home.example", "type": "home"},
        ],
        "active": True,
        ENTERPRISE: {"department": "Finance", "manager": {"value": "u-9"}},
    }


def test_attribute_names_in_any_case_become_canonical() -> None:
    body = {
        "USERNAME": "kim@example.com",
        "Name": {"GivenName": "Kim", "FAMILYNAME": "Ng"},
        "Emails": [{"Value": "kim@example.com", "TYPE": "work"}],
        ENTERPRISE.upper(): {"Department": "Risk"},
    }

    assert parse_user(body).resource == {
        "schemas": [USER_SCHEMA, ENTERPRISE],
        "userName": "kim@example.com",
        "name": {"givenName": "Kim", "familyName": "Ng"},
        "emails": [{"value": "kim@example.com", "type": "work"}],
        ENTERPRISE: {"department": "Risk"},
    }


@pytest.mark.parametrize(("sent", "kept"), [("True", True), ("false", False), ("FALSE", False)])
def test_active_sent_as_a_string_becomes_a_boolean(sent: str, kept: bool) -> None:
    resource = parse_user({"userName": "kim@example.com", "active": sent}).resource

    assert resource["active"] is kept


def test_urn_qualified_keys_land_in_their_schema() -> None:
    body = {
        "userName": "kim@example.com",
        f"{USER_SCHEMA}:displayName": "Kim",
        f"{ENTERPRISE}:department": "Risk",
    }

    assert parse_user(body).resource == {
        "schemas": [USER_SCHEMA, ENTERPRISE],
        "userName": "kim@example.com",
        "displayName": "Kim",
        ENTERPRISE: {"department": "Risk"},
    }


def test_unknown_schema_blocks_are_dropped_with_their_urn() -> None:
    custom = "urn:ietf:params:scim:schemas:extension:contoso:2.0:User"
    body = {"schemas": [USER_SCHEMA, custom], "userName": "kim@example.com", custom: {"x": 1}}

    assert parse_user(body).resource == {"schemas": [USER_SCHEMA], "userName": "kim@example.com"}


def test_manager_given_as_a_bare_id_becomes_a_reference() -> None:
    body = {"userName": "kim@example.com", ENTERPRISE: {"manager": "u-9"}}

    assert parse_user(body).resource[ENTERPRISE] == {"manager": {"value": "u-9"}}


def test_an_internal_mail_domain_is_accepted() -> None:
    body = {"userName": "kim", "emails": [{"value": "kim@corp.local"}]}

    assert parse_user(body).resource["emails"] == [{"value": "kim@corp.local"}]


@pytest.mark.parametrize("user_name", [None, "", "   "])
def test_missing_or_empty_user_name_is_an_invalid_value(user_name: str | None) -> None:
    with pytest.raises(InvalidValue, match="userName is required"):
        parse_user({"userName": user_name, "active": True})


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"userName": 5}, "userName"),
        ({"userName": "kim", "active": "maybe"}, "active"),
        ({"userName": "kim", "name": "Kim Ng"}, "name"),
        ({"userName": "kim", "emails": [{"value": "k@x.example", "primary": "yes"}]}, "primary"),
        ({"userName": "kim", "profileUrl": "not a url"}, "profileUrl"),
    ],
)
def test_a_wrong_type_is_an_invalid_value_naming_the_attribute(
    body: dict[str, Any], named: str
) -> None:
    with pytest.raises(InvalidValue, match=named):
        parse_user(body)


def test_an_unknown_attribute_is_invalid_syntax_naming_it() -> None:
    with pytest.raises(InvalidSyntax, match="nickname2"):
        parse_user({"userName": "kim", "nickname2": "K"})


def test_a_body_that_is_not_an_object_is_invalid_syntax() -> None:
    with pytest.raises(InvalidSyntax):
        parse_user(["userName"])


# parse_group


def test_entra_group_create_drops_microsofts_schema_and_client_meta() -> None:
    body = {
        "schemas": [GROUP_SCHEMA, ADSCIM_GROUP],
        "externalId": "c0ffee00",
        "displayName": "Data Stewards",
        "meta": {"resourceType": "Group"},
    }

    assert parse_group(body) == {
        "schemas": [GROUP_SCHEMA],
        "externalId": "c0ffee00",
        "displayName": "Data Stewards",
    }


def test_okta_group_create_with_no_members_has_none() -> None:
    body = {"schemas": [GROUP_SCHEMA], "displayName": "Finance Analysts", "members": []}

    assert parse_group(body) == {"schemas": [GROUP_SCHEMA], "displayName": "Finance Analysts"}


def test_group_members_are_normalised_to_user_ids_without_the_read_only_display() -> None:
    body = {
        "displayName": "Finance",
        "members": [
            {"value": "u-1", "$ref": None},
            {"value": "u-2", "display": "max", "type": "user"},
        ],
    }

    assert parse_group(body)["members"] == [
        {"value": "u-1"},
        {"value": "u-2", "type": "User"},
    ]


def test_a_nested_group_member_is_refused() -> None:
    body = {"displayName": "Finance", "members": [{"value": "g-2", "type": "Group"}]}

    with pytest.raises(InvalidValue, match="nested groups are not supported"):
        parse_group(body)


def test_a_group_without_display_name_is_an_invalid_value() -> None:
    with pytest.raises(InvalidValue, match="displayName is required"):
        parse_group({"schemas": [GROUP_SCHEMA], "externalId": "x"})


# canonical_path


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("USERNAME", "userName"),
        ("name.GIVENNAME", "name.givenName"),
        (f"{USER_SCHEMA}:name.familyName", "name.familyName"),
        (f"{ENTERPRISE.lower()}:DEPARTMENT", f"{ENTERPRISE}:department"),
        (f"{ENTERPRISE}:manager.value", f"{ENTERPRISE}:manager.value"),
        (ENTERPRISE.upper(), ENTERPRISE),
        ('emails[Type eq "work"].VALUE', 'emails[type eq "work"].value'),
        ('roles[primary eq "True"].value', "roles[primary eq true].value"),
        ("meta.lastModified", "meta.lastModified"),
    ],
)
def test_paths_are_mapped_to_their_canonical_spelling(text: str, canonical: str) -> None:
    assert canonical_path("User", text) == canonical


@pytest.mark.parametrize(
    "text",
    ["nickname2", "name.nothing", "urn:example:unknown:2.0:User:department", "emails[", "a.b.c"],
)
def test_unknown_or_malformed_paths_are_invalid(text: str) -> None:
    with pytest.raises(InvalidPath):
        canonical_path("User", text)


def test_the_catalogue_knows_mutability_and_returned() -> None:
    schema = resource_schema("User")
    core = schema.attributes[USER_SCHEMA]

    assert (core["id"].mutability, core["id"].returned) == ("readOnly", "always")
    assert (core["groups"].mutability, core["password"].returned) == ("readOnly", "never")
    assert core["emails"].multi_valued and core["emails"].sub("VALUE") is not None
    assert schema.attributes[ENTERPRISE]["manager"].sub("value") is not None


# project


def test_attributes_keep_only_what_is_named_plus_schemas_and_id() -> None:
    body = project(stored_user(), attributes=["USERNAME"], resource_type="User")

    assert body == {"schemas": [USER_SCHEMA], "id": "u-1", "userName": "ana.silva@contoso.example"}


def test_attributes_select_sub_attributes_and_extension_attributes() -> None:
    body = project(
        stored_user(),
        attributes=["name.familyName", "emails.value", f"{ENTERPRISE}:department"],
        resource_type="User",
    )

    assert body == {
        "schemas": [USER_SCHEMA, ENTERPRISE],
        "id": "u-1",
        "name": {"familyName": "Silva"},
        "emails": [{"value": "ana@work.example"}, {"value": "ana@home.example"}],
        ENTERPRISE: {"department": "Finance"},
    }


def test_excluded_attributes_never_remove_id() -> None:
    body = project(
        stored_user(),
        excluded_attributes=["id", "emails", "name.givenName", ENTERPRISE, "meta"],
        resource_type="User",
    )

    assert body == {
        "schemas": [USER_SCHEMA],
        "id": "u-1",
        "externalId": "ana.silva",
        "userName": "ana.silva@contoso.example",
        "name": {"familyName": "Silva"},
        "active": True,
    }


def test_password_is_never_returned() -> None:
    resource = {**stored_user(), "password": "secret"}

    assert "password" not in project(resource, resource_type="User")
    assert "password" not in project(resource, attributes=["password"], resource_type="User")


def test_group_members_can_be_excluded() -> None:
    group = {
        "schemas": [GROUP_SCHEMA],
        "id": "g-1",
        "displayName": "Finance",
        "members": [{"value": "u-1"}],
    }

    body = project(group, excluded_attributes=["members"], resource_type="Group")

    assert body == {"schemas": [GROUP_SCHEMA], "id": "g-1", "displayName": "Finance"}


def test_projection_leaves_the_resource_untouched() -> None:
    resource = stored_user()

    project(resource, excluded_attributes=["name.givenName"], resource_type="User")

    assert resource == stored_user()


def test_unknown_attribute_names_select_nothing() -> None:
    body = project(stored_user(), attributes=["nothing"], resource_type="User")

    assert body == project(stored_user(), resource_type="User")


# ETags


def test_etag_is_weak_and_quoted() -> None:
    assert etag(7) == 'W/"7"'


def test_parse_etag_reads_lists_weak_and_strong_tags_alike() -> None:
    assert parse_etag('W/"3", "4" ,W/"5"') == {'W/"3"', 'W/"4"', 'W/"5"'}


def test_parse_etag_reads_a_star() -> None:
    assert parse_etag(" * ") == "*"


def test_parse_etag_refuses_garbage() -> None:
    with pytest.raises(BadRequest):
        parse_etag('W/"3" "4"')
