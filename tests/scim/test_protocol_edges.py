"""Protocol edges found by the public conformance suites, checked on the pure SCIM layer."""

import pytest

from gateway.scim.errors import Mutability
from gateway.scim.filters import parse_filter
from gateway.scim.listing import can_match_type
from gateway.scim.patch import PatchOperation, apply_user_patch
from gateway.scim.resources import gateway_schema, parse_user, resource_schema

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


@pytest.mark.parametrize(
    ("text", "resource_type", "expected"),
    [
        ('userName eq "a"', "Group", False),
        ('emails[type eq "work"].value eq "a@b"', "Group", False),
        ('userName eq "a"', "User", True),
        ('displayName eq "a"', "Group", True),
        ('externalId eq "a"', "Group", True),
        ("not (userName pr)", "Group", True),
        ('userName ne "a"', "Group", True),
        ('userName eq "a" or displayName eq "b"', "Group", True),
    ],
)
def test_a_type_is_skipped_only_when_none_of_its_resources_can_match(
    text: str, resource_type: str, expected: bool
) -> None:
    assert can_match_type(parse_filter(text), resource_type) is expected  # type: ignore[arg-type]


def test_schemas_inside_an_extension_block_of_a_body_are_ignored() -> None:
    body = {
        "schemas": [USER, ENTERPRISE],
        "userName": "a@example.com",
        ENTERPRISE: {"schemas": [ENTERPRISE], "department": "Finance"},
    }

    assert parse_user(body).resource[ENTERPRISE] == {"department": "Finance"}


@pytest.mark.parametrize("op", ["add", "replace"])
def test_schemas_inside_an_extension_patch_value_are_ignored(op: str) -> None:
    user = {"schemas": [USER], "id": "u", "userName": "a@example.com"}
    value = {"schemas": [ENTERPRISE], "costCenter": "42"}

    operation = PatchOperation(op=op, path=ENTERPRISE, value=value)  # type: ignore[arg-type]

    patched = apply_user_patch(user, [operation])

    assert patched.resource[ENTERPRISE] == {"costCenter": "42"}


@pytest.mark.parametrize(
    "operation",
    [
        PatchOperation(op="remove", path="active"),
        PatchOperation(op="replace", path="active", value=None),
        PatchOperation(op="replace", path="ACTIVE", value=None),
    ],
)
def test_unassigning_active_is_refused(operation: PatchOperation) -> None:
    user = {"schemas": [USER], "id": "u", "userName": "a@example.com", "active": False}

    with pytest.raises(Mutability):
        apply_user_patch(user, [operation])


def test_member_display_is_read_only_in_the_catalogue_and_the_published_schema() -> None:
    from scim2_models import Group

    published = gateway_schema(Group)
    members = next(a for a in published.attributes or [] if a.name == "members")
    display = next(s for s in members.sub_attributes or [] if s.name == "display")
    catalogued = resource_schema("Group").attribute(GROUP, "members")

    assert display.mutability is not None and display.mutability.value == "readOnly"
    assert catalogued is not None
    assert catalogued.sub("display").read_only  # type: ignore[union-attr]
