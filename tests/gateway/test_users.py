"""Users end to end: SCIM in, Kyvos portal and store behind, SCIM back out."""

from typing import Any

from tests.conftest import Deployment
from tests.gateway.conftest import (
    BASE_URL,
    ENTERPRISE_SCHEMA,
    EXISTING_USER,
    KYVOS_SCHEMA,
    LIST_SCHEMA,
    PATCH_SCHEMA,
    USER_SCHEMA,
    portal_user,
    scim_error,
    stored,
)

ADA = "ada.lovelace@example.com"


def ada_body(**changes: Any) -> dict[str, Any]:
    """A full User as Okta pushes it: several e-mails, the enterprise extension, a password."""
    body: dict[str, Any] = {
        "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
        "userName": ADA,
        "externalId": "00u1ada",
        "name": {"givenName": "Ada", "familyName": "Lovelace", "formatted": "Ada Lovelace"},
        "emails": [
            {"value": "ada@home.example", "type": "home"},
            {"value": ADA, "type": "work", "primary": True},
        ],
        "locale": "en-GB",
        "title": "Analyst",
        "active": True,
        "password": "Engine-No.1-secret",
        ENTERPRISE_SCHEMA: {"department": "Mathematics", "employeeNumber": "1815"},
    }
    body.update(changes)

    return body


def expected_ada(answer: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """Ada as the gateway must answer her; id, timestamps and version taken from `answer`."""
    user_id = answer["id"]
    resource: dict[str, Any] = {
        "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA, KYVOS_SCHEMA],
        "id": user_id,
        "externalId": "00u1ada",
        "userName": ADA,
        "name": {"givenName": "Ada", "familyName": "Lovelace", "formatted": "Ada Lovelace"},
        "emails": [
            {"value": "ada@home.example", "type": "home"},
            {"value": ADA, "type": "work", "primary": True},
        ],
        "locale": "en-GB",
        "title": "Analyst",
        ENTERPRISE_SCHEMA: {"department": "Mathematics", "employeeNumber": "1815"},
        "active": True,
        "roles": [{"value": "Business User", "primary": True, "type": "direct"}],
        KYVOS_SCHEMA: {"effectiveRole": "Business User"},
        "meta": {
            "resourceType": "User",
            "created": answer["meta"]["created"],
            "lastModified": answer["meta"]["lastModified"],
            "location": f"{BASE_URL}/Users/{user_id}",
            "version": answer["meta"]["version"],
        },
    }
    resource.update(changes)

    return resource


async def create_ada(deployment: Deployment, **changes: Any) -> dict[str, Any]:
    status, body, _ = await deployment.scim("POST", "/Users", json=ada_body(**changes))
    assert status == 201, body

    return body


async def patch(deployment: Deployment, path: str, *operations: dict[str, Any]) -> Any:
    return await deployment.scim(
        "PATCH", path, json={"schemas": [PATCH_SCHEMA], "Operations": list(operations)}
    )


# Creation and translation


async def test_created_user_is_answered_whole_without_its_password(
    deployment: Deployment,
) -> None:
    status, body, headers = await deployment.scim("POST", "/Users", json=ada_body())

    assert status == 201
    assert body == expected_ada(body)
    assert headers["Location"] == f"{BASE_URL}/Users/{body['id']}"
    assert headers["ETag"] == body["meta"]["version"]
    assert headers["Content-Type"] == "application/scim+json; charset=utf-8"


async def test_created_user_reaches_the_portal_with_the_primary_email(
    deployment: Deployment,
) -> None:
    body = await create_ada(deployment)

    user = deployment.portal.users[body["id"]]
    assert (user.user_name, user.email, user.first_name, user.last_name, user.status) == (
        ADA,
        ADA,
        "Ada",
        "Lovelace",
        "ACTIVE",
    )


async def test_attributes_the_portal_has_no_field_for_are_kept_in_the_store(
    deployment: Deployment,
) -> None:
    body = await create_ada(deployment)

    record = await stored(deployment, "User", body["id"])
    assert record is not None
    assert record.external_id == "00u1ada"
    assert record.version == 1
    assert record.extra == {
        "name": {"givenName": "Ada", "familyName": "Lovelace", "formatted": "Ada Lovelace"},
        "emails": [
            {"value": "ada@home.example", "type": "home"},
            {"value": ADA, "type": "work", "primary": True},
        ],
        "locale": "en-GB",
        "title": "Analyst",
        ENTERPRISE_SCHEMA: {"department": "Mathematics", "employeeNumber": "1815"},
    }


async def test_read_user_returns_everything_that_was_sent_but_the_password(
    deployment: Deployment,
) -> None:
    created = await create_ada(deployment)

    status, body, headers = await deployment.scim("GET", f"/Users/{created['id']}")

    assert status == 200
    assert body == expected_ada(created)
    assert headers["ETag"] == created["meta"]["version"]


async def test_portal_keeps_the_first_email_when_none_is_marked_primary(
    deployment: Deployment,
) -> None:
    emails = [{"value": "ada@home.example", "type": "home"}, {"value": ADA, "type": "work"}]

    body = await create_ada(deployment, emails=emails)

    assert deployment.portal.users[body["id"]].email == "ada@home.example"
    assert body["emails"] == emails


async def test_email_sent_as_not_primary_is_answered_as_sent(deployment: Deployment) -> None:
    emails = [{"value": ADA, "type": "work", "primary": False}]

    body = await create_ada(deployment, emails=emails)

    assert deployment.portal.users[body["id"]].email == ADA
    assert body["emails"] == emails


# Replacing


async def test_put_replaces_the_user_in_the_portal_and_the_store(deployment: Deployment) -> None:
    created = await create_ada(deployment)
    replacement = {
        "schemas": [USER_SCHEMA],
        "userName": ADA,
        "externalId": "00u1ada",
        "name": {"givenName": "Augusta", "familyName": "King"},
        "emails": [{"value": "augusta.king@example.com", "type": "work", "primary": True}],
        "title": "Countess",
        "active": True,
    }

    status, body, _ = await deployment.scim("PUT", f"/Users/{created['id']}", json=replacement)

    assert status == 200
    assert body == {
        "schemas": [USER_SCHEMA, KYVOS_SCHEMA],
        "id": created["id"],
        "externalId": "00u1ada",
        "userName": ADA,
        "name": {"givenName": "Augusta", "familyName": "King"},
        "emails": [{"value": "augusta.king@example.com", "type": "work", "primary": True}],
        "title": "Countess",
        "active": True,
        "roles": [{"value": "Business User", "primary": True, "type": "direct"}],
        KYVOS_SCHEMA: {"effectiveRole": "Business User"},
        "meta": {
            "resourceType": "User",
            "created": created["meta"]["created"],
            "lastModified": body["meta"]["lastModified"],
            "location": created["meta"]["location"],
            "version": body["meta"]["version"],
        },
    }
    assert body["meta"]["version"] != created["meta"]["version"]
    user = deployment.portal.users[created["id"]]
    assert (user.email, user.first_name, user.last_name) == (
        "augusta.king@example.com",
        "Augusta",
        "King",
    )
    record = await stored(deployment, "User", created["id"])
    assert record is not None and record.version == 2
    assert "locale" not in record.extra and ENTERPRISE_SCHEMA not in record.extra


# PATCH


async def test_patch_paths_change_core_extension_and_multi_valued_attributes(
    deployment: Deployment,
) -> None:
    created = await create_ada(deployment)

    status, body, _ = await patch(
        deployment,
        f"/Users/{created['id']}",
        {"op": "replace", "path": "name.familyName", "value": "King"},
        {"op": "replace", "path": 'emails[type eq "home"].value', "value": "ada@ockham.example"},
        {"op": "replace", "path": f"{ENTERPRISE_SCHEMA}:department", "value": "Engines"},
        {"op": "add", "path": "nickName", "value": "Enchantress"},
        {"op": "remove", "path": "locale"},
    )

    assert status == 200
    expected = expected_ada(
        body,
        name={"givenName": "Ada", "familyName": "King", "formatted": "Ada Lovelace"},
        emails=[
            {"value": "ada@ockham.example", "type": "home"},
            {"value": ADA, "type": "work", "primary": True},
        ],
        nickName="Enchantress",
    )
    expected[ENTERPRISE_SCHEMA] = {"department": "Engines", "employeeNumber": "1815"}
    del expected["locale"]
    assert body == expected
    assert deployment.portal.users[created["id"]].last_name == "King"

    _, read_back, _ = await deployment.scim("GET", f"/Users/{created['id']}")
    assert read_back == body


async def test_patch_without_path_as_entra_sends_it_changes_the_named_attributes(
    deployment: Deployment,
) -> None:
    created = await create_ada(deployment)

    status, body, _ = await patch(
        deployment,
        f"/Users/{created['id']}",
        {"op": "Replace", "value": {"title": "Engineer", "name.givenName": "Augusta"}},
    )

    assert status == 200
    assert body == expected_ada(
        body,
        title="Engineer",
        name={"givenName": "Augusta", "familyName": "Lovelace", "formatted": "Ada Lovelace"},
    )
    assert deployment.portal.users[created["id"]].first_name == "Augusta"


async def test_patch_of_the_primary_email_changes_the_portal_email(
    deployment: Deployment,
) -> None:
    created = await create_ada(deployment)

    status, body, _ = await patch(
        deployment,
        f"/Users/{created['id']}",
        {
            "op": "replace",
            "path": 'emails[type eq "work"].value',
            "value": "ada@analytical.example",
        },
    )

    assert status == 200
    assert body == expected_ada(
        body,
        emails=[
            {"value": "ada@home.example", "type": "home"},
            {"value": "ada@analytical.example", "type": "work", "primary": True},
        ],
    )
    assert deployment.portal.users[created["id"]].email == "ada@analytical.example"


# Deactivation and deletion


async def test_deactivated_user_is_inactive_in_the_portal_and_still_found(
    deployment: Deployment,
) -> None:
    created = await create_ada(deployment)

    status, body, _ = await patch(
        deployment, f"/Users/{created['id']}", {"op": "replace", "path": "active", "value": False}
    )

    assert status == 200
    assert body == expected_ada(body, active=False)
    assert deployment.portal.users[created["id"]].status == "INACTIVE"
    status, found, _ = await deployment.scim(
        "GET", "/Users", params={"filter": f'userName eq "{ADA}"'}
    )
    assert (status, found) == (
        200,
        {
            "schemas": [LIST_SCHEMA],
            "totalResults": 1,
            "startIndex": 1,
            "itemsPerPage": 1,
            "Resources": [body],
        },
    )


async def test_reactivated_user_is_active_in_the_portal_again(deployment: Deployment) -> None:
    created = await create_ada(deployment, active=False)
    assert deployment.portal.users[created["id"]].status == "INACTIVE"

    status, body, _ = await patch(
        deployment, f"/Users/{created['id']}", {"op": "replace", "value": {"active": True}}
    )

    assert (status, body["active"]) == (200, True)
    assert deployment.portal.users[created["id"]].status == "ACTIVE"


async def test_deleted_user_is_gone_from_the_portal_and_the_store(deployment: Deployment) -> None:
    created = await create_ada(deployment)

    status, body, _ = await deployment.scim("DELETE", f"/Users/{created['id']}")

    assert (status, body) == (204, None)
    assert portal_user(deployment.portal, ADA) is None
    assert await stored(deployment, "User", created["id"]) is None
    status, body, _ = await deployment.scim("GET", f"/Users/{created['id']}")
    assert (status, body) == (404, scim_error(404))


async def test_deleting_a_user_twice_answers_404_the_second_time(deployment: Deployment) -> None:
    created = await create_ada(deployment)
    await deployment.scim("DELETE", f"/Users/{created['id']}")

    status, body, _ = await deployment.scim("DELETE", f"/Users/{created['id']}")

    assert (status, body) == (404, scim_error(404))


# Users who already exist in the portal


async def test_creating_a_user_name_the_portal_has_in_any_case_is_a_uniqueness_conflict(
    deployment: Deployment,
) -> None:
    before = {user.id: repr(user) for user in deployment.portal.users.values()}

    status, body, _ = await deployment.scim(
        "POST", "/Users", json=ada_body(userName="Dana.Whitfield@EXAMPLE.com", externalId="00u9")
    )

    assert (status, body) == (409, scim_error(409, "uniqueness"))
    assert {user.id: repr(user) for user in deployment.portal.users.values()} == before


async def test_existing_portal_user_is_found_and_read_with_the_role_they_have(
    deployment: Deployment,
) -> None:
    dana = portal_user(deployment.portal, EXISTING_USER)
    assert dana is not None

    status, body, _ = await deployment.scim("GET", f"/Users/{dana.id}")

    assert status == 200
    assert body == {
        "schemas": [USER_SCHEMA, KYVOS_SCHEMA],
        "id": dana.id,
        "userName": EXISTING_USER,
        "name": {"givenName": "Dana", "familyName": "Whitfield"},
        "emails": [{"value": EXISTING_USER, "type": "work", "primary": True}],
        "active": True,
        "roles": [{"value": "Designer", "primary": True, "type": "direct"}],
        KYVOS_SCHEMA: {"effectiveRole": "Designer"},
        "meta": {
            "resourceType": "User",
            "location": f"{BASE_URL}/Users/{dana.id}",
            "version": body["meta"]["version"],
        },
    }


# The gateway's own portal account


async def service_account_id(deployment: Deployment) -> str:
    account = portal_user(deployment.portal, deployment.settings.portal.username)
    assert account is not None

    return account.id


async def test_service_account_cannot_be_replaced(deployment: Deployment) -> None:
    account_id = await service_account_id(deployment)
    before = repr(deployment.portal.users[account_id])
    replacement = {"userName": deployment.settings.portal.username, "active": False}

    status, body, _ = await deployment.scim("PUT", f"/Users/{account_id}", json=replacement)

    assert (status, body) == (403, scim_error(403))
    assert repr(deployment.portal.users[account_id]) == before


async def test_service_account_cannot_be_patched(deployment: Deployment) -> None:
    account_id = await service_account_id(deployment)
    before = repr(deployment.portal.users[account_id])

    status, body, _ = await patch(
        deployment, f"/Users/{account_id}", {"op": "replace", "path": "active", "value": False}
    )

    assert (status, body) == (403, scim_error(403))
    assert repr(deployment.portal.users[account_id]) == before


async def test_service_account_cannot_be_deleted(deployment: Deployment) -> None:
    account_id = await service_account_id(deployment)
    before = repr(deployment.portal.users[account_id])

    status, body, _ = await deployment.scim("DELETE", f"/Users/{account_id}")

    assert (status, body) == (403, scim_error(403))
    assert repr(deployment.portal.users[account_id]) == before


async def test_service_account_in_another_case_cannot_be_changed_either(
    deployment: Deployment,
) -> None:
    account_id = await service_account_id(deployment)
    before = repr(deployment.portal.users[account_id])
    replacement = {"userName": deployment.settings.portal.username.upper(), "active": True}

    status, body, _ = await deployment.scim("PUT", f"/Users/{account_id}", json=replacement)

    assert (status, body) == (403, scim_error(403))
    assert repr(deployment.portal.users[account_id]) == before


# Memberships are the Groups endpoint's business


async def test_user_put_with_empty_groups_leaves_memberships_alone(deployment: Deployment) -> None:
    created = await create_ada(deployment)
    status, group, _ = await deployment.scim(
        "POST", "/Groups", json={"displayName": "Analysts", "members": [{"value": created["id"]}]}
    )
    assert status == 201

    status, body, _ = await deployment.scim(
        "PUT", f"/Users/{created['id']}", json=ada_body(groups=[])
    )

    assert status == 200
    assert body["groups"] == [
        {"value": group["id"], "$ref": f"{BASE_URL}/Groups/{group['id']}", "type": "direct"}
    ]
    assert list(deployment.portal.groups[group["id"]].members) == [created["id"]]
