"""Groups end to end: member changes reach the portal as deltas, all or nothing."""

from typing import Any

from tests.conftest import Deployment
from tests.gateway.conftest import (
    BASE_URL,
    EXISTING_USER,
    GROUP_SCHEMA,
    PATCH_SCHEMA,
    USER_SCHEMA,
    calls,
    calls_since,
    member_names,
    portal_group,
    portal_user,
    scim_error,
    stored,
)

GROUP = "/rest/security/groups/{id}"
MEMBERS = "/rest/security/groups/{id}/members"
MEMBERS_REMOVE = "/rest/security/groups/{id}/members/remove"
UNKNOWN_ID = "0000000000000000000000000000dead"


async def create_user(deployment: Deployment, user_name: str) -> str:
    body = {"schemas": [USER_SCHEMA], "userName": user_name, "active": True}
    status, answer, _ = await deployment.scim("POST", "/Users", json=body)
    assert status == 201, answer

    return str(answer["id"])


async def create_group(
    deployment: Deployment, name: str, member_ids: list[str], **extra: Any
) -> dict[str, Any]:
    body = {
        "schemas": [GROUP_SCHEMA],
        "displayName": name,
        "members": [{"value": member_id} for member_id in member_ids],
        **extra,
    }
    status, answer, _ = await deployment.scim("POST", "/Groups", json=body)
    assert status == 201, answer

    return answer


async def patch(deployment: Deployment, group_id: str, *operations: dict[str, Any]) -> Any:
    return await deployment.scim(
        "PATCH",
        f"/Groups/{group_id}",
        json={"schemas": [PATCH_SCHEMA], "Operations": list(operations)},
    )


def member(user_id: str, user_name: str) -> dict[str, Any]:
    return {
        "value": user_id,
        "display": user_name,
        "type": "User",
        "$ref": f"{BASE_URL}/Users/{user_id}",
    }


def expected_group(
    answer: dict[str, Any], name: str, members: list[dict[str, Any]], **extra: Any
) -> dict[str, Any]:
    return {
        "schemas": [GROUP_SCHEMA],
        "id": answer["id"],
        **({"externalId": extra.pop("externalId")} if "externalId" in extra else {}),
        "displayName": name,
        **extra,
        "members": members,
        "meta": {
            "resourceType": "Group",
            "created": answer["meta"]["created"],
            "lastModified": answer["meta"]["lastModified"],
            "location": f"{BASE_URL}/Groups/{answer['id']}",
            "version": answer["meta"]["version"],
        },
    }


def dana_id(deployment: Deployment) -> str:
    dana = portal_user(deployment.portal, EXISTING_USER)
    assert dana is not None

    return dana.id


# Creation


async def test_group_is_created_with_its_members_in_one_delta(deployment: Deployment) -> None:
    ada = await create_user(deployment, "ada@example.com")
    dana = dana_id(deployment)
    before = calls(deployment.portal)

    status, body, headers = await deployment.scim(
        "POST",
        "/Groups",
        json={
            "schemas": [GROUP_SCHEMA],
            "displayName": "Analysts",
            "externalId": "00g1",
            "members": [{"value": ada}, {"value": dana, "display": EXISTING_USER}],
        },
    )

    assert status == 201
    assert body == expected_group(
        body,
        "Analysts",
        [member(ada, "ada@example.com"), member(dana, EXISTING_USER)],
        externalId="00g1",
    )
    assert headers["Location"] == f"{BASE_URL}/Groups/{body['id']}"
    assert member_names(deployment.portal, body["id"]) == ["ada@example.com", EXISTING_USER]
    assert calls_since(deployment.portal, before)[f"POST {MEMBERS}"] == 1
    record = await stored(deployment, "Group", body["id"])
    assert record is not None and record.external_id == "00g1"


async def test_group_is_read_back_with_its_members(deployment: Deployment) -> None:
    ada = await create_user(deployment, "ada@example.com")
    created = await create_group(deployment, "Analysts", [ada])

    status, body, _ = await deployment.scim("GET", f"/Groups/{created['id']}")

    assert (status, body) == (200, created)


async def test_group_read_without_members_makes_no_member_call(deployment: Deployment) -> None:
    ada = await create_user(deployment, "ada@example.com")
    created = await create_group(deployment, "Analysts", [ada])
    before = calls(deployment.portal)

    status, body, _ = await deployment.scim(
        "GET", f"/Groups/{created['id']}", params={"excludedAttributes": "members"}
    )

    assert status == 200
    assert body == {
        **{key: value for key, value in created.items() if key != "members"},
        "meta": {**created["meta"], "version": body["meta"]["version"]},
    }
    assert calls_since(deployment.portal, before) == {f"GET {GROUP}": 1}


async def test_version_of_a_group_read_without_members_is_accepted_by_if_match(
    deployment: Deployment,
) -> None:
    group = await create_group(deployment, "Analysts", [])
    _, _, headers = await deployment.scim(
        "GET", f"/Groups/{group['id']}", params={"excludedAttributes": "members"}
    )

    status, body, _ = await deployment.scim(
        "PATCH",
        f"/Groups/{group['id']}",
        headers={"If-Match": headers["ETag"]},
        json={
            "schemas": [PATCH_SCHEMA],
            "Operations": [{"op": "replace", "path": "displayName", "value": "Data Team"}],
        },
    )

    assert status == 200, body
    assert deployment.portal.groups[group["id"]].name == "Data Team"


async def test_group_name_taken_is_a_uniqueness_conflict(deployment: Deployment) -> None:
    await create_group(deployment, "Analysts", [])

    status, body, _ = await deployment.scim(
        "POST", "/Groups", json={"schemas": [GROUP_SCHEMA], "displayName": "Analysts"}
    )

    assert (status, body) == (409, scim_error(409, "uniqueness"))
    assert len(deployment.portal.groups) == 1


async def test_group_created_with_an_unknown_member_is_not_created(
    deployment: Deployment,
) -> None:
    ada = await create_user(deployment, "ada@example.com")

    status, body, _ = await deployment.scim(
        "POST",
        "/Groups",
        json={"displayName": "Analysts", "members": [{"value": ada}, {"value": UNKNOWN_ID}]},
    )

    assert (status, body) == (400, scim_error(400, "invalidValue"))
    assert deployment.portal.groups == {}
    assert deployment.portal.users[ada].groups == {}


# Member deltas


async def test_patch_adds_members_as_a_delta(deployment: Deployment) -> None:
    ada = await create_user(deployment, "ada@example.com")
    dana = dana_id(deployment)
    group = await create_group(deployment, "Analysts", [ada])
    before = calls(deployment.portal)

    status, body, _ = await patch(
        deployment, group["id"], {"op": "add", "path": "members", "value": [{"value": dana}]}
    )

    assert status == 200
    assert body == expected_group(
        body, "Analysts", [member(ada, "ada@example.com"), member(dana, EXISTING_USER)]
    )
    assert member_names(deployment.portal, group["id"]) == ["ada@example.com", EXISTING_USER]
    made = calls_since(deployment.portal, before)
    assert made[f"POST {MEMBERS}"] == 1
    assert f"POST {MEMBERS_REMOVE}" not in made and f"PUT {GROUP}" not in made


async def test_patch_removes_a_member_as_a_delta_without_reading_the_list(
    deployment: Deployment,
) -> None:
    ada = await create_user(deployment, "ada@example.com")
    dana = dana_id(deployment)
    group = await create_group(deployment, "Analysts", [ada, dana])
    before = calls(deployment.portal)

    status, body, _ = await deployment.scim(
        "PATCH",
        f"/Groups/{group['id']}",
        params={"excludedAttributes": "members"},
        json={
            "schemas": [PATCH_SCHEMA],
            "Operations": [{"op": "remove", "path": f'members[value eq "{ada}"]'}],
        },
    )

    assert status == 200
    assert "members" not in body
    assert member_names(deployment.portal, group["id"]) == [EXISTING_USER]
    # The group is read before the change and again after it, for its new member count (which
    # its version covers); the member list itself is never read.
    assert calls_since(deployment.portal, before) == {
        f"GET {GROUP}": 2,
        f"POST {MEMBERS_REMOVE}": 1,
    }


async def test_patch_removes_members_listed_as_entra_sends_them(deployment: Deployment) -> None:
    ada = await create_user(deployment, "ada@example.com")
    dana = dana_id(deployment)
    group = await create_group(deployment, "Analysts", [ada, dana])

    status, body, _ = await patch(
        deployment,
        group["id"],
        {"op": "Remove", "path": "members", "value": [{"value": ada}, {"value": dana}]},
    )

    assert status == 200
    assert body == expected_group(body, "Analysts", [])
    assert member_names(deployment.portal, group["id"]) == []


async def test_patch_replacing_members_sends_only_the_difference(deployment: Deployment) -> None:
    ada = await create_user(deployment, "ada@example.com")
    grace = await create_user(deployment, "grace@example.com")
    dana = dana_id(deployment)
    group = await create_group(deployment, "Analysts", [ada, dana])
    before = calls(deployment.portal)

    status, body, _ = await patch(
        deployment,
        group["id"],
        {"op": "replace", "path": "members", "value": [{"value": dana}, {"value": grace}]},
    )

    assert status == 200
    assert body == expected_group(
        body, "Analysts", [member(dana, EXISTING_USER), member(grace, "grace@example.com")]
    )
    assert member_names(deployment.portal, group["id"]) == [EXISTING_USER, "grace@example.com"]
    made = calls_since(deployment.portal, before)
    assert (made[f"POST {MEMBERS}"], made[f"POST {MEMBERS_REMOVE}"]) == (1, 1)
    assert f"PUT {GROUP}" not in made


async def test_put_with_members_replaces_them_by_deltas(deployment: Deployment) -> None:
    ada = await create_user(deployment, "ada@example.com")
    dana = dana_id(deployment)
    group = await create_group(deployment, "Analysts", [ada])
    before = calls(deployment.portal)

    status, body, _ = await deployment.scim(
        "PUT",
        f"/Groups/{group['id']}",
        json={"schemas": [GROUP_SCHEMA], "displayName": "Analysts", "members": [{"value": dana}]},
    )

    assert status == 200
    assert body == expected_group(body, "Analysts", [member(dana, EXISTING_USER)])
    assert member_names(deployment.portal, group["id"]) == [EXISTING_USER]
    made = calls_since(deployment.portal, before)
    assert (made[f"POST {MEMBERS}"], made[f"POST {MEMBERS_REMOVE}"]) == (1, 1)
    assert f"PUT {GROUP}" not in made


async def test_put_without_members_keeps_them(deployment: Deployment) -> None:
    ada = await create_user(deployment, "ada@example.com")
    group = await create_group(deployment, "Analysts", [ada])

    status, body, _ = await deployment.scim(
        "PUT", f"/Groups/{group['id']}", json={"displayName": "Analysts"}
    )

    assert status == 200
    assert body["members"] == [member(ada, "ada@example.com")]
    assert member_names(deployment.portal, group["id"]) == ["ada@example.com"]


# Renaming


async def test_patch_renames_the_portal_group(deployment: Deployment) -> None:
    ada = await create_user(deployment, "ada@example.com")
    group = await create_group(deployment, "Analysts", [ada])

    status, body, _ = await patch(
        deployment, group["id"], {"op": "replace", "path": "displayName", "value": "Data Team"}
    )

    assert status == 200
    assert body == expected_group(body, "Data Team", [member(ada, "ada@example.com")])
    assert deployment.portal.groups[group["id"]].name == "Data Team"


async def test_rename_to_a_taken_name_is_a_conflict_and_changes_nothing(
    deployment: Deployment,
) -> None:
    ada = await create_user(deployment, "ada@example.com")
    await create_group(deployment, "Data Team", [])
    group = await create_group(deployment, "Analysts", [])

    status, body, _ = await patch(
        deployment,
        group["id"],
        {"op": "add", "path": "members", "value": [{"value": ada}]},
        {"op": "replace", "path": "displayName", "value": "data team"},
    )

    assert (status, body) == (409, scim_error(409, "uniqueness"))
    assert deployment.portal.groups[group["id"]].name == "Analysts"
    assert member_names(deployment.portal, group["id"]) == []


# All or nothing


async def test_unknown_member_to_add_fails_the_whole_patch(deployment: Deployment) -> None:
    ada = await create_user(deployment, "ada@example.com")
    dana = dana_id(deployment)
    group = await create_group(deployment, "Analysts", [ada])

    status, body, _ = await patch(
        deployment,
        group["id"],
        {"op": "add", "path": "members", "value": [{"value": dana}, {"value": UNKNOWN_ID}]},
        {"op": "remove", "path": f'members[value eq "{ada}"]'},
        {"op": "replace", "path": "displayName", "value": "Data Team"},
    )

    assert (status, body) == (400, scim_error(400, "invalidValue"))
    assert deployment.portal.groups[group["id"]].name == "Analysts"
    assert member_names(deployment.portal, group["id"]) == ["ada@example.com"]


async def test_removing_an_id_that_is_no_portal_user_skips_it_and_applies_the_rest(
    deployment: Deployment,
) -> None:
    ada = await create_user(deployment, "ada@example.com")
    dana = dana_id(deployment)
    group = await create_group(deployment, "Analysts", [ada])

    status, body, _ = await patch(
        deployment,
        group["id"],
        {"op": "add", "path": "members", "value": [{"value": dana}]},
        {"op": "remove", "path": "members", "value": [{"value": UNKNOWN_ID}]},
        {"op": "replace", "path": "displayName", "value": "Data Team"},
    )

    assert status == 200
    assert body == expected_group(
        body, "Data Team", [member(ada, "ada@example.com"), member(dana, EXISTING_USER)]
    )
    assert deployment.portal.groups[group["id"]].name == "Data Team"
    assert member_names(deployment.portal, group["id"]) == ["ada@example.com", EXISTING_USER]


# Deletion


async def test_deleted_group_is_gone_and_its_members_stay_users(deployment: Deployment) -> None:
    ada = await create_user(deployment, "ada@example.com")
    group = await create_group(deployment, "Analysts", [ada])

    status, body, _ = await deployment.scim("DELETE", f"/Groups/{group['id']}")

    assert (status, body) == (204, None)
    assert portal_group(deployment.portal, "Analysts") is None
    assert deployment.portal.users[ada].groups == {}
    assert await stored(deployment, "Group", group["id"]) is None
    status, body, _ = await deployment.scim("GET", f"/Groups/{group['id']}")
    assert (status, body) == (404, scim_error(404))
