"""SCIM PATCH: RFC 7644 §3.5.2, the Okta and Entra dialects, all-or-nothing, group deltas."""

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.scim.errors import (
    InvalidFilter,
    InvalidPath,
    InvalidSyntax,
    InvalidValue,
    Mutability,
    NoTarget,
    PayloadTooLarge,
    ScimError,
)
from gateway.scim.patch import (
    PATCH_OP_SCHEMA,
    GroupPatchPlan,
    PatchOperation,
    UserPatchResult,
    apply_user_patch,
    parse_patch,
    plan_group_patch,
)
from gateway.scim.resources import ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA

ENTERPRISE = ENTERPRISE_USER_SCHEMA


def patch_body(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP_SCHEMA], "Operations": list(operations)}


def entra_user() -> dict[str, Any]:
    """The user entra/user-lifecycle.json creates, as the gateway stores it."""
    return {
        "schemas": [USER_SCHEMA, ENTERPRISE],
        "id": "u-ana",
        "externalId": "ana.silva",
        "userName": "ana.silva@contoso.example",
        "active": True,
        "emails": [{"primary": True, "type": "work", "value": "ana.silva@contoso.example"}],
        "name": {"formatted": "Ana Silva", "familyName": "Silva", "givenName": "Ana"},
        "displayName": "Ana Silva",
        ENTERPRISE: {"department": "Finance"},
        "meta": {"resourceType": "User", "version": 'W/"1"'},
    }


def okta_user() -> dict[str, Any]:
    """The user okta/update-deactivate-reactivate.json creates, as the gateway stores it."""
    return {
        "schemas": [USER_SCHEMA],
        "id": "u-jo",
        "userName": "jo.chen@example.com",
        "name": {"givenName": "Jo", "familyName": "Chen"},
        "emails": [{"primary": True, "value": "jo.chen@example.com", "type": "work"}],
        "displayName": "Jo Chen",
        "locale": "en-US",
        "externalId": "00ujo",
        "active": True,
    }


def patched(resource: dict[str, Any], *operations: dict[str, Any]) -> UserPatchResult:
    return apply_user_patch(resource, parse_patch(patch_body(*operations)))


def changed(resource: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**copy.deepcopy(resource), **changes}


# parse_patch


def test_op_names_and_keys_are_read_in_any_case() -> None:
    body = {
        "SCHEMAS": [PATCH_OP_SCHEMA.upper()],
        "operations": [{"OP": "Replace", "Path": "active", "VALUE": "False"}],
    }

    assert parse_patch(body) == [PatchOperation(op="replace", path="active", value="False")]


def test_a_body_without_the_patch_op_schema_is_invalid_syntax() -> None:
    with pytest.raises(InvalidSyntax, match="PatchOp"):
        parse_patch({"Operations": [{"op": "add", "value": {"active": True}}]})


@pytest.mark.parametrize("operations", [[], None, {"op": "add"}])
def test_operations_must_be_a_non_empty_list(operations: Any) -> None:
    with pytest.raises(InvalidSyntax, match="Operations"):
        parse_patch({"schemas": [PATCH_OP_SCHEMA], "Operations": operations})


def test_an_unknown_op_is_invalid_syntax() -> None:
    with pytest.raises(InvalidSyntax, match="add, replace or remove"):
        parse_patch(patch_body({"op": "merge", "path": "active", "value": True}))


def test_add_without_a_value_is_invalid_syntax() -> None:
    with pytest.raises(InvalidSyntax, match="needs a 'value'"):
        parse_patch(patch_body({"op": "add", "path": "title"}))


def test_too_many_operations_are_refused() -> None:
    body = patch_body(*[{"op": "remove", "path": "title"}] * 3)

    with pytest.raises(PayloadTooLarge):
        parse_patch(body, max_operations=2)


# Traffic: entra/user-lifecycle.json


def test_entra_filtered_email_family_name_and_employee_number_patch() -> None:
    result = patched(
        entra_user(),
        {
            "op": "Replace",
            "path": 'emails[type eq "work"].value',
            "value": "ana.silva-costa@contoso.example",
        },
        {"op": "Replace", "path": "name.familyName", "value": "Silva Costa"},
        {"op": "Add", "path": f"{ENTERPRISE}:employeeNumber", "value": "E-1"},
    )

    assert result == UserPatchResult(
        resource=changed(
            entra_user(),
            emails=[{"primary": True, "type": "work", "value": "ana.silva-costa@contoso.example"}],
            name={"formatted": "Ana Silva", "familyName": "Silva Costa", "givenName": "Ana"},
            **{ENTERPRISE: {"department": "Finance", "employeeNumber": "E-1"}},
        ),
        password=None,
    )


def test_entra_active_sent_as_the_string_false_deactivates() -> None:
    result = patched(entra_user(), {"op": "Replace", "path": "active", "value": "False"})

    assert result.resource == changed(entra_user(), active=False)


# Traffic: entra/user-update-flag-mode.json


def test_entra_pathless_replace_with_path_keys() -> None:
    result = patched(
        entra_user(),
        {
            "op": "replace",
            "value": {
                "displayName": "Kimberly Ng",
                "name.givenName": "Kimberly",
                "name.familyName": "Ng-Lowe",
                f"{ENTERPRISE}:department": "Risk",
            },
        },
    )

    assert result.resource == changed(
        entra_user(),
        displayName="Kimberly Ng",
        name={"formatted": "Ana Silva", "familyName": "Ng-Lowe", "givenName": "Kimberly"},
        **{ENTERPRISE: {"department": "Risk"}},
    )


def test_entra_flag_mode_boolean_deactivates() -> None:
    result = patched(entra_user(), {"op": "replace", "path": "active", "value": False})

    assert result.resource == changed(entra_user(), active=False)


# Traffic: okta/update-deactivate-reactivate.json


def test_okta_pathless_replace_deactivates() -> None:
    result = patched(okta_user(), {"op": "replace", "value": {"active": False}})

    assert result == UserPatchResult(resource=changed(okta_user(), active=False), password=None)


def test_okta_pathless_replace_reactivates() -> None:
    inactive = changed(okta_user(), active=False)

    result = patched(inactive, {"op": "replace", "value": {"active": True}})

    assert result.resource == okta_user()


def test_okta_password_sync_returns_the_password_and_keeps_it_out_of_the_resource() -> None:
    result = patched(okta_user(), {"op": "replace", "value": {"password": "n3w-Secret"}})

    assert result == UserPatchResult(resource=okta_user(), password="n3w-Secret")


# Entra default dialect


def test_replace_on_a_filter_with_no_match_creates_the_element() -> None:
    result = patched(
        entra_user(),
        {"op": "Add", "path": 'emails[type eq "home"].value', "value": "ana@home.example"},
    )

    assert result.resource["emails"] == [
        {"primary": True, "type": "work", "value": "ana.silva@contoso.example"},
        {"type": "home", "value": "ana@home.example"},
    ]


def test_manager_given_as_a_bare_id_becomes_a_reference() -> None:
    result = patched(
        entra_user(), {"op": "Add", "path": f"{ENTERPRISE}:manager", "value": "u-boss"}
    )

    assert result.resource[ENTERPRISE] == {"department": "Finance", "manager": {"value": "u-boss"}}


def test_manager_with_a_null_ref_is_accepted() -> None:
    result = patched(
        entra_user(),
        {
            "op": "Replace",
            "path": f"{ENTERPRISE}:manager",
            "value": {"value": "u-boss", "$ref": None},
        },
    )

    assert result.resource[ENTERPRISE]["manager"] == {"value": "u-boss"}


def test_roles_given_as_a_json_list_inside_a_string_are_parsed() -> None:
    result = patched(
        entra_user(),
        {"op": "Add", "path": "roles", "value": '[{"value":"Designer","primary":true}]'},
    )

    assert result.resource["roles"] == [{"value": "Designer", "primary": True}]


def test_a_role_given_as_a_json_object_inside_a_string_is_parsed() -> None:
    result = patched(entra_user(), {"op": "Add", "path": "roles", "value": '{"value":"Designer"}'})

    assert result.resource["roles"] == [{"value": "Designer"}]


def test_primary_role_filter_with_a_string_boolean_selects_the_primary_role() -> None:
    user = changed(
        entra_user(), roles=[{"value": "Viewer"}, {"value": "Designer", "primary": True}]
    )

    result = patched(
        user, {"op": "Replace", "path": 'roles[primary eq "True"].value', "value": "Admin"}
    )

    assert result.resource["roles"] == [{"value": "Viewer"}, {"value": "Admin", "primary": True}]


def test_primary_role_filter_with_no_primary_role_creates_one() -> None:
    result = patched(
        entra_user(), {"op": "Replace", "path": 'roles[primary eq "True"].value', "value": "Admin"}
    )

    assert result.resource["roles"] == [{"primary": True, "value": "Admin"}]


def test_a_new_primary_email_takes_primary_from_the_old_one() -> None:
    result = patched(
        entra_user(),
        {"op": "add", "path": "emails", "value": [{"value": "a@x.example", "primary": True}]},
    )

    assert result.resource["emails"] == [
        {"type": "work", "value": "ana.silva@contoso.example"},
        {"value": "a@x.example", "primary": True},
    ]


def test_a_pathless_value_carrying_the_users_own_id_is_ignored() -> None:
    result = patched(okta_user(), {"op": "replace", "value": {"id": "u-jo", "active": False}})

    assert result.resource == changed(okta_user(), active=False)


# RFC forms


def test_pathless_add_merges_complex_attributes() -> None:
    result = patched(okta_user(), {"op": "add", "value": {"name": {"middleName": "Li"}}})

    assert result.resource["name"] == {"givenName": "Jo", "familyName": "Chen", "middleName": "Li"}


def test_replace_of_a_multi_valued_attribute_replaces_every_value() -> None:
    result = patched(
        okta_user(), {"op": "replace", "path": "emails", "value": [{"value": "j@x.example"}]}
    )

    assert result.resource["emails"] == [{"value": "j@x.example"}]


def test_replace_of_a_filtered_element_merges_into_it() -> None:
    result = patched(
        okta_user(),
        {"op": "replace", "path": 'emails[type eq "work"]', "value": {"value": "j@x.example"}},
    )

    assert result.resource["emails"] == [{"primary": True, "value": "j@x.example", "type": "work"}]


def test_remove_with_a_filter_removes_the_matching_elements() -> None:
    user = changed(
        okta_user(),
        emails=[{"value": "a@x.example", "type": "home"}, {"value": "b@x.example", "type": "work"}],
    )

    result = patched(user, {"op": "remove", "path": 'emails[type eq "home"]'})

    assert result.resource["emails"] == [{"value": "b@x.example", "type": "work"}]


def test_remove_with_a_filter_matching_nothing_changes_nothing() -> None:
    result = patched(okta_user(), {"op": "remove", "path": 'emails[type eq "home"]'})

    assert result.resource == okta_user()


def test_remove_of_a_sub_attribute_keeps_the_rest() -> None:
    result = patched(okta_user(), {"op": "remove", "path": "name.givenName"})

    assert result.resource["name"] == {"familyName": "Chen"}


def test_remove_of_an_absent_attribute_succeeds_without_change() -> None:
    result = patched(okta_user(), {"op": "remove", "path": "title"})

    assert result.resource == okta_user()


def test_add_of_a_present_value_succeeds_without_change() -> None:
    email = {"primary": True, "value": "jo.chen@example.com", "type": "work"}

    result = patched(okta_user(), {"op": "add", "path": "emails", "value": [email]})

    assert result.resource == okta_user()


def test_remove_of_the_whole_extension_drops_it_and_its_schema() -> None:
    result = patched(entra_user(), {"op": "remove", "path": ENTERPRISE})

    expected = changed(entra_user(), schemas=[USER_SCHEMA])
    del expected[ENTERPRISE]
    assert result.resource == expected


def test_replace_with_null_unassigns_the_attribute() -> None:
    result = patched(okta_user(), {"op": "replace", "path": "displayName", "value": None})

    assert "displayName" not in result.resource


# Errors


@pytest.mark.parametrize(
    ("operation", "error"),
    [
        ({"op": "replace", "path": "id", "value": "other"}, Mutability),
        ({"op": "replace", "value": {"id": "someone-else"}}, Mutability),
        ({"op": "replace", "path": "meta.version", "value": 'W/"9"'}, Mutability),
        ({"op": "add", "path": "groups", "value": [{"value": "g-1"}]}, Mutability),
        ({"op": "replace", "path": "nickname2", "value": "x"}, InvalidPath),
        ({"op": "remove"}, NoTarget),
        ({"op": "remove", "path": "userName"}, InvalidValue),
        ({"op": "replace", "path": "active", "value": "maybe"}, InvalidValue),
        ({"op": "replace", "path": "displayName[value eq 1]", "value": "x"}, InvalidPath),
        ({"op": "replace", "value": "active"}, InvalidSyntax),
    ],
)
def test_refused_operations_raise_their_scim_error(
    operation: dict[str, Any], error: type[ScimError]
) -> None:
    with pytest.raises(error):
        patched(okta_user(), operation)


def test_an_error_names_the_operation_that_failed() -> None:
    with pytest.raises(InvalidPath, match=r"^Operations\[1\]: "):
        patched(
            okta_user(),
            {"op": "replace", "path": "title", "value": "Dr"},
            {"op": "replace", "path": "nickname2", "value": "x"},
        )


def test_a_failing_second_operation_leaves_the_input_untouched() -> None:
    user = okta_user()

    with pytest.raises(Mutability):
        patched(
            user,
            {"op": "replace", "path": "name.givenName", "value": "Joanna"},
            {"op": "replace", "path": "id", "value": "other"},
        )

    assert user == okta_user()


def test_a_successful_patch_leaves_the_input_untouched() -> None:
    user = okta_user()

    patched(user, {"op": "replace", "path": "name.givenName", "value": "Joanna"})

    assert user == okta_user()


# Property: only ScimError or a dict, whatever the operations.

_paths = st.sampled_from(
    [
        None,
        "active",
        "userName",
        "name.givenName",
        "emails",
        'emails[type eq "work"].value',
        'emails[type eq "work"]',
        "roles",
        'roles[primary eq "True"].value',
        f"{ENTERPRISE}:manager",
        f"{ENTERPRISE}:department",
        ENTERPRISE,
        "id",
        "meta",
        "groups",
        "password",
        "nothing",
        "emails[",
        "name.givenName.x",
    ]
)
_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8))
_values = st.recursive(
    _scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(
            st.sampled_from(["value", "type", "primary", "givenName", "active", "id", "x"]),
            children,
            max_size=3,
        ),
    ),
    max_leaves=6,
)
_operations = st.builds(
    PatchOperation, op=st.sampled_from(["add", "replace", "remove"]), path=_paths, value=_values
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_operations, min_size=1, max_size=4))
def test_any_operations_give_a_user_or_a_scim_error(ops: list[PatchOperation]) -> None:
    user = entra_user()

    try:
        result = apply_user_patch(user, ops)
    except ScimError:
        assert user == entra_user()
    else:
        assert isinstance(result.resource, dict)
        assert "password" not in result.resource


@settings(max_examples=200, deadline=None)
@given(st.lists(_operations, min_size=1, max_size=4))
def test_any_group_operations_give_a_plan_or_a_scim_error(ops: list[PatchOperation]) -> None:
    group = {"schemas": [GROUP_SCHEMA], "id": "g-1", "displayName": "Finance"}

    try:
        plan = plan_group_patch(group, ops)
    except ScimError:
        return
    assert isinstance(plan, GroupPatchPlan)


# Groups


def stored_group() -> dict[str, Any]:
    return {
        "schemas": [GROUP_SCHEMA],
        "id": "g-1",
        "displayName": "Data Stewards",
        "externalId": "c0ffee00",
        "meta": {"resourceType": "Group"},
    }


def planned(group: dict[str, Any], *operations: dict[str, Any]) -> GroupPatchPlan:
    return plan_group_patch(group, parse_patch(patch_body(*operations)))


def test_entra_add_members_with_null_refs() -> None:
    plan = planned(
        stored_group(),
        {
            "op": "Add",
            "path": "members",
            "value": [{"$ref": None, "value": "u-1"}, {"$ref": None, "value": "u-2"}],
        },
    )

    assert plan == GroupPatchPlan(resource=stored_group(), add_members=["u-1", "u-2"])


def test_entra_remove_with_a_value_list_removes_exactly_those_members() -> None:
    plan = planned(
        stored_group(),
        {"op": "Remove", "path": "members", "value": [{"$ref": None, "value": "u-1"}]},
    )

    assert plan == GroupPatchPlan(resource=stored_group(), remove_members=["u-1"])


def test_remove_by_filter_removes_that_member() -> None:
    plan = planned(stored_group(), {"op": "remove", "path": 'members[value eq "u-2"]'})

    assert plan == GroupPatchPlan(resource=stored_group(), remove_members=["u-2"])


def test_remove_by_filter_joined_with_or_removes_each_member() -> None:
    plan = planned(
        stored_group(), {"op": "remove", "path": 'members[value eq "u-1" or value eq "u-2"]'}
    )

    assert plan.remove_members == ["u-1", "u-2"]


def test_remove_by_another_filter_is_refused() -> None:
    with pytest.raises(InvalidFilter, match="select members by id"):
        planned(stored_group(), {"op": "remove", "path": 'members[display eq "Ana"]'})


def test_remove_of_members_without_a_value_empties_the_group() -> None:
    plan = planned(stored_group(), {"op": "remove", "path": "members"})

    assert plan == GroupPatchPlan(resource=stored_group(), replace_members=[])


def test_okta_replace_with_an_empty_member_list_empties_the_group() -> None:
    plan = planned(stored_group(), {"op": "replace", "path": "members", "value": []})

    assert plan == GroupPatchPlan(resource=stored_group(), replace_members=[])


def test_replace_of_members_gives_the_whole_new_list() -> None:
    plan = planned(
        stored_group(),
        {"op": "replace", "path": "members", "value": [{"value": "u-1"}, {"value": "u-3"}]},
    )

    assert plan == GroupPatchPlan(resource=stored_group(), replace_members=["u-1", "u-3"])


def test_okta_add_members_without_type() -> None:
    plan = planned(
        stored_group(),
        {
            "op": "add",
            "path": "members",
            "value": [{"value": "u-1", "display": "lee"}, {"value": "u-2", "display": "max"}],
        },
    )

    assert plan == GroupPatchPlan(resource=stored_group(), add_members=["u-1", "u-2"])


def test_okta_rename_carrying_the_groups_own_id() -> None:
    plan = planned(
        stored_group(),
        {"op": "replace", "value": {"id": "g-1", "displayName": "Data Stewards EMEA"}},
    )

    assert plan == GroupPatchPlan(
        resource=changed(stored_group(), displayName="Data Stewards EMEA")
    )


def test_okta_rename_to_the_same_name_changes_nothing() -> None:
    plan = planned(
        stored_group(), {"op": "replace", "value": {"id": "g-1", "displayName": "Data Stewards"}}
    )

    assert plan == GroupPatchPlan(resource=stored_group())


def test_a_pathless_value_with_another_groups_id_is_refused() -> None:
    with pytest.raises(Mutability):
        planned(stored_group(), {"op": "replace", "value": {"id": "g-2", "displayName": "X"}})


def test_entra_rename_by_path() -> None:
    plan = planned(
        stored_group(), {"op": "Replace", "path": "displayName", "value": "Data Stewards Global"}
    )

    assert plan.resource == changed(stored_group(), displayName="Data Stewards Global")


def test_pathless_replace_of_members_replaces_them() -> None:
    plan = planned(stored_group(), {"op": "replace", "value": {"members": [{"value": "u-5"}]}})

    assert plan == GroupPatchPlan(resource=stored_group(), replace_members=["u-5"])


def test_a_nested_group_member_is_refused_with_a_reason() -> None:
    with pytest.raises(InvalidValue, match="nested groups are not supported"):
        planned(
            stored_group(),
            {"op": "add", "path": "members", "value": [{"value": "g-2", "type": "Group"}]},
        )


def test_an_add_then_a_remove_of_one_member_ends_as_a_remove() -> None:
    plan = planned(
        stored_group(),
        {"op": "add", "path": "members", "value": [{"value": "u-1"}, {"value": "u-2"}]},
        {"op": "remove", "path": 'members[value eq "u-1"]'},
    )

    assert (plan.add_members, plan.remove_members) == (["u-2"], ["u-1"])


def test_a_remove_then_an_add_of_one_member_ends_as_an_add() -> None:
    plan = planned(
        stored_group(),
        {"op": "remove", "path": 'members[value eq "u-1"]'},
        {"op": "add", "path": "members", "value": [{"value": "u-1"}]},
    )

    assert (plan.add_members, plan.remove_members) == (["u-1"], [])


def test_a_replace_after_adds_wins() -> None:
    plan = planned(
        stored_group(),
        {"op": "add", "path": "members", "value": [{"value": "u-1"}]},
        {"op": "replace", "path": "members", "value": [{"value": "u-2"}]},
    )

    assert plan == GroupPatchPlan(resource=stored_group(), replace_members=["u-2"])


def test_adds_and_removes_after_a_replace_edit_the_replacement() -> None:
    plan = planned(
        stored_group(),
        {"op": "replace", "path": "members", "value": [{"value": "u-1"}, {"value": "u-2"}]},
        {"op": "add", "path": "members", "value": [{"value": "u-3"}]},
        {"op": "remove", "path": 'members[value eq "u-1"]'},
    )

    assert plan.replace_members == ["u-2", "u-3"]


def test_removing_the_display_name_is_refused() -> None:
    with pytest.raises(InvalidValue, match="displayName is required"):
        planned(stored_group(), {"op": "remove", "path": "displayName"})


def test_a_failing_group_operation_leaves_the_input_untouched() -> None:
    group = stored_group()

    with pytest.raises(Mutability):
        planned(
            group,
            {"op": "replace", "path": "displayName", "value": "New"},
            {"op": "replace", "path": "id", "value": "g-2"},
        )

    assert group == stored_group()
