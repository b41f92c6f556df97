"""Group-to-role rules: the portal group carries the roles of the first rule that matches it,
so membership decides a person's effective role the way Kyvos computes it."""

from collections.abc import MutableMapping
from typing import Any
from unittest.mock import ANY

from structlog.testing import capture_logs

from tests.conftest import Deployment
from tests.roles.conftest import (
    GROUP_SCHEMA,
    KYVOS_SCHEMA,
    USER_SCHEMA,
    create_group,
    create_user,
    patch,
    rules,
)


def portal_group(deployment: Deployment, group_id: str) -> tuple[str, list[str]]:
    group = deployment.portal.groups[group_id]
    return group.name, list(group.roles)


def audits(logs: list[MutableMapping[str, Any]], action: str) -> list[MutableMapping[str, Any]]:
    return [entry for entry in logs if entry["event"] == "audit" and entry["action"] == action]


async def test_a_group_the_default_rules_name_is_created_with_the_rules_role(
    deployment: Deployment,
) -> None:
    body = await create_group(deployment, "Kyvos Designers")

    assert body == {
        "schemas": [GROUP_SCHEMA],
        "id": body["id"],
        "displayName": "Kyvos Designers",
        "members": [],
        "meta": ANY,
    }
    assert portal_group(deployment, body["id"]) == ("Kyvos Designers", ["Designer"])


async def test_a_group_no_rule_matches_carries_no_roles(deployment: Deployment) -> None:
    body = await create_group(deployment, "Finance Analysts")

    assert portal_group(deployment, body["id"]) == ("Finance Analysts", [])


@rules({"display_name_pattern": "kyvos bi *", "roles": ["Designer"]})
async def test_a_pattern_rule_matches_group_names_ignoring_case(deployment: Deployment) -> None:
    body = await create_group(deployment, "Kyvos BI Finance")

    assert portal_group(deployment, body["id"]) == ("Kyvos BI Finance", ["Designer"])


@rules({"external_id": "a1b2-designers", "roles": ["Designer", "Business User"]})
async def test_an_external_id_rule_matches_the_idps_external_id(deployment: Deployment) -> None:
    body = await create_group(deployment, "Anything At All", externalId="a1b2-designers")

    assert portal_group(deployment, body["id"]) == (
        "Anything At All",
        ["Designer", "Business User"],
    )


@rules(
    {"display_name_pattern": "Kyvos *", "roles": ["Administrator"]},
    {"display_name": "Kyvos Designers", "roles": ["Designer"]},
)
async def test_the_first_matching_rule_wins_and_the_decision_is_logged(
    deployment: Deployment,
) -> None:
    with capture_logs() as logs:
        body = await create_group(deployment, "Kyvos Designers")

    assert portal_group(deployment, body["id"]) == ("Kyvos Designers", ["Administrator"])
    decisions = [entry for entry in logs if entry["event"] == "role_rule_matched"]
    assert decisions == [
        {
            "event": "role_rule_matched",
            "log_level": "info",
            "group_id": body["id"],
            "rule_index": 0,
            "also_matching": [1],
            "roles": ["Administrator"],
        }
    ]


async def test_membership_in_a_mapped_group_raises_the_effective_role(
    deployment: Deployment,
) -> None:
    user = await create_user(deployment, "rosa")
    group = await create_group(deployment, "Kyvos Designers")

    status, _, _ = await deployment.scim(
        "PATCH",
        f"/Groups/{group['id']}",
        json=patch({"op": "add", "path": "members", "value": [{"value": user["id"]}]}),
    )
    _, body, _ = await deployment.scim("GET", f"/Users/{user['id']}")

    assert status in (200, 204)
    assert body == {
        "schemas": [USER_SCHEMA, KYVOS_SCHEMA],
        "id": user["id"],
        "userName": "rosa@example.com",
        "name": {"givenName": "Rosa", "familyName": "Tester"},
        "emails": [{"value": "rosa@example.com", "type": "work", "primary": True}],
        "active": True,
        "roles": [{"value": "Business User", "primary": True, "type": "direct"}],
        "groups": [
            {
                "value": group["id"],
                "$ref": f"http://gateway.test/scim/v2/Groups/{group['id']}",
                "type": "direct",
            }
        ],
        KYVOS_SCHEMA: {"effectiveRole": "Designer"},
        "meta": ANY,
    }
    portal_user = deployment.portal.users[user["id"]]
    assert (portal_user.role, deployment.portal.effective_role(portal_user)) == (
        "Business User",
        "Designer",
    )


async def test_leaving_a_mapped_group_lowers_the_effective_role(deployment: Deployment) -> None:
    user = await create_user(deployment, "omar")
    group = await create_group(deployment, "Kyvos Administrators", members=[{"value": user["id"]}])
    raised = deployment.portal.effective_role(deployment.portal.users[user["id"]])
    assert raised == "Administrator"

    status, _, _ = await deployment.scim(
        "PATCH",
        f"/Groups/{group['id']}",
        json=patch({"op": "remove", "path": f'members[value eq "{user["id"]}"]'}),
    )
    read_status, body, _ = await deployment.scim("GET", f"/Users/{user['id']}")

    assert status == 200
    assert list(deployment.portal.groups[group["id"]].members) == []
    portal_user = deployment.portal.users[user["id"]]
    assert (portal_user.role, deployment.portal.effective_role(portal_user)) == (
        "Business User",
        "Business User",
    )
    assert (read_status, body) == (
        200,
        {
            "schemas": [USER_SCHEMA, KYVOS_SCHEMA],
            "id": user["id"],
            "userName": "omar@example.com",
            "name": {"givenName": "Omar", "familyName": "Tester"},
            "emails": [{"value": "omar@example.com", "type": "work", "primary": True}],
            "active": True,
            "roles": [{"value": "Business User", "primary": True, "type": "direct"}],
            KYVOS_SCHEMA: {"effectiveRole": "Business User"},
            "meta": ANY,
        },
    )


async def test_renaming_a_group_onto_a_rule_grants_its_roles(deployment: Deployment) -> None:
    group = await create_group(deployment, "Designers To Be")

    status, _, _ = await deployment.scim(
        "PATCH",
        f"/Groups/{group['id']}",
        json=patch({"op": "replace", "path": "displayName", "value": "Kyvos Designers"}),
    )

    assert status in (200, 204)
    assert portal_group(deployment, group["id"]) == ("Kyvos Designers", ["Designer"])


async def test_renaming_a_group_away_from_its_rule_withdraws_only_the_rules_roles(
    deployment: Deployment,
) -> None:
    group = await create_group(deployment, "Kyvos Designers")
    deployment.portal.groups[group["id"]].roles.append("Business User")  # given by hand

    status, _, _ = await deployment.scim(
        "PUT",
        f"/Groups/{group['id']}",
        json={"schemas": [GROUP_SCHEMA], "displayName": "Former Designers"},
    )

    assert status == 200
    assert portal_group(deployment, group["id"]) == ("Former Designers", ["Business User"])


async def test_renaming_between_two_rules_swaps_their_roles(deployment: Deployment) -> None:
    group = await create_group(deployment, "Kyvos Designers")

    await deployment.scim(
        "PATCH",
        f"/Groups/{group['id']}",
        json=patch({"op": "replace", "value": {"displayName": "Kyvos Administrators"}}),
    )

    assert portal_group(deployment, group["id"]) == ("Kyvos Administrators", ["Administrator"])


async def test_a_write_to_a_mapped_group_restores_a_rule_role_removed_by_hand(
    deployment: Deployment,
) -> None:
    group = await create_group(deployment, "Kyvos Designers")
    deployment.portal.groups[group["id"]].roles.clear()

    await deployment.scim(
        "PUT",
        f"/Groups/{group['id']}",
        json={"schemas": [GROUP_SCHEMA], "displayName": "Kyvos Designers"},
    )

    assert portal_group(deployment, group["id"]) == ("Kyvos Designers", ["Designer"])


async def test_group_role_changes_and_memberships_are_audited(deployment: Deployment) -> None:
    user = await create_user(deployment, "lena")

    with capture_logs() as logs:
        group = await create_group(deployment, "Kyvos Designers", members=[{"value": user["id"]}])
        await deployment.scim(
            "PATCH",
            f"/Groups/{group['id']}",
            json=patch({"op": "replace", "path": "displayName", "value": "Former Designers"}),
        )

    assert [
        (entry["action"], entry.get("roles"), entry.get("member_ids"))
        for entry in audits(logs, "group.roles_granted")
    ] == [("group.roles_granted", ["Designer"], [user["id"]])]
    assert [
        (entry["resource_id"], entry["roles_before"], entry["roles_after"], entry["rule_index"])
        for entry in audits(logs, "group.roles_changed")
    ] == [(group["id"], ["Designer"], [], None)]


async def test_deleting_a_mapped_group_withdraws_its_roles_from_its_members(
    deployment: Deployment,
) -> None:
    user = await create_user(deployment, "tom")
    group = await create_group(deployment, "Kyvos Administrators", members=[{"value": user["id"]}])

    with capture_logs() as logs:
        status, _, _ = await deployment.scim("DELETE", f"/Groups/{group['id']}")

    assert status == 204
    assert deployment.portal.effective_role(deployment.portal.users[user["id"]]) == "Business User"
    assert [(e["roles"], e["member_count"]) for e in audits(logs, "group.roles_withdrawn")] == [
        (["Administrator"], 1)
    ]
