"""The default role and the onboarding block reach new users only; passwords go to the portal
only when the operator says so, and never come back."""

from typing import Any

from tests.gateway.conftest import (
    EXISTING_USER,
    LIST_SCHEMA,
    PATCH_SCHEMA,
    USER_SCHEMA,
    DeploymentFactory,
    RecordedDeployment,
    portal_user,
    scim_error,
)

USERS = "/rest/security/users"
PASSWORD = "Correct-Horse-Battery-Staple-1"


def new_user(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "schemas": [USER_SCHEMA],
        "userName": "grace.hopper@example.com",
        "name": {"givenName": "Grace", "familyName": "Hopper"},
        "emails": [{"value": "grace.hopper@example.com", "type": "work", "primary": True}],
        "active": True,
    }
    body.update(changes)

    return body


def patch_body(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_SCHEMA], "Operations": list(operations)}


def dana_id(deployment: RecordedDeployment) -> str:
    dana = portal_user(deployment.portal, EXISTING_USER)
    assert dana is not None

    return dana.id


# The default role


async def test_new_user_gets_the_configured_onboarding_block(deploy: DeploymentFactory) -> None:
    onboarding = {
        "roleName": "Designer",
        "sendWelcomeMailToUser": True,
        "updatePreferences": False,
        "defaultEntities": ["Sales cube", "Finance dashboard"],
    }
    deployment = await deploy(onboarding=onboarding)

    status, body, _ = await deployment.scim("POST", "/Users", json=new_user())

    assert status == 201
    assert body["roles"] == [{"value": "Designer", "primary": True, "type": "direct"}]
    user = deployment.portal.users[body["id"]]
    assert (user.role, user.first_login_actions) == ("Designer", onboarding)


async def test_new_user_gets_the_default_onboarding_block_and_role(
    recorded: RecordedDeployment,
) -> None:
    status, body, _ = await recorded.scim("POST", "/Users", json=new_user())

    assert status == 201
    user = recorded.portal.users[body["id"]]
    assert user.role == "Business User"
    assert user.first_login_actions == {
        "roleName": "Business User",
        "sendWelcomeMailToUser": False,
        "updatePreferences": True,
        "defaultEntities": [],
    }
    [create] = recorded.sent_to("POST", USERS)
    assert "role" not in create.json


async def test_put_of_an_existing_user_keeps_their_role_and_sends_no_onboarding(
    recorded: RecordedDeployment,
) -> None:
    user_id = dana_id(recorded)
    body = new_user(
        userName=EXISTING_USER,
        name={"givenName": "Dana", "familyName": "Whitfield-Ng"},
        emails=[{"value": EXISTING_USER, "type": "work", "primary": True}],
        roles=[{"value": "Designer", "primary": True}],
    )

    status, answer, _ = await recorded.scim("PUT", f"/Users/{user_id}", json=body)

    assert status == 200
    assert answer["roles"] == [{"value": "Designer", "primary": True, "type": "direct"}]
    dana = recorded.portal.users[user_id]
    assert (dana.role, dana.last_name, dana.first_login_actions) == (
        "Designer",
        "Whitfield-Ng",
        None,
    )
    [update] = recorded.sent_to("PUT", f"{USERS}/{user_id}")
    assert update.json == {"lastName": "Whitfield-Ng"}


async def test_patch_of_an_existing_user_keeps_their_role_and_sends_no_onboarding(
    recorded: RecordedDeployment,
) -> None:
    user_id = dana_id(recorded)

    status, answer, _ = await recorded.scim(
        "PATCH",
        f"/Users/{user_id}",
        json=patch_body(
            {"op": "replace", "path": "name.givenName", "value": "Danielle"},
            {"op": "replace", "path": "active", "value": False},
        ),
    )

    assert status == 200
    assert answer["roles"] == [{"value": "Designer", "primary": True, "type": "direct"}]
    dana = recorded.portal.users[user_id]
    assert (dana.role, dana.first_name, dana.status, dana.first_login_actions) == (
        "Designer",
        "Danielle",
        "INACTIVE",
        None,
    )
    [update] = recorded.sent_to("PUT", f"{USERS}/{user_id}")
    assert update.json == {"firstName": "Danielle", "status": "INACTIVE"}


async def test_put_asking_another_role_of_a_native_portal_is_refused_and_changes_nothing(
    recorded: RecordedDeployment,
) -> None:
    user_id = dana_id(recorded)
    body = new_user(
        userName=EXISTING_USER,
        name={"givenName": "Dana", "familyName": "Whitfield-Ng"},
        emails=[{"value": EXISTING_USER, "type": "work", "primary": True}],
        roles=[{"value": "Administrator", "primary": True}],
    )

    status, answer, _ = await recorded.scim("PUT", f"/Users/{user_id}", json=body)

    assert (status, answer) == (400, scim_error(400, "mutability"))
    dana = recorded.portal.users[user_id]
    assert (dana.role, dana.last_name) == ("Designer", "Whitfield")
    assert recorded.sent_to("PUT", USERS) == []


async def test_unchanged_put_sends_the_portal_nothing(recorded: RecordedDeployment) -> None:
    user_id = dana_id(recorded)
    body = new_user(
        userName=EXISTING_USER,
        name={"givenName": "Dana", "familyName": "Whitfield"},
        emails=[{"value": EXISTING_USER, "type": "work", "primary": True}],
    )

    status, _, _ = await recorded.scim("PUT", f"/Users/{user_id}", json=body)

    assert status == 200
    assert recorded.sent_to("PUT", USERS) == []


# Passwords


async def test_password_is_accepted_and_dropped_when_not_forwarded(
    recorded: RecordedDeployment,
) -> None:
    status, body, _ = await recorded.scim("POST", "/Users", json=new_user(password=PASSWORD))

    assert status == 201
    assert "password" not in body
    user = recorded.portal.users[body["id"]]
    assert user.password_set_count == 0
    [create] = recorded.sent_to("POST", USERS)
    assert "password" not in create.json


async def test_patched_password_is_accepted_and_dropped_when_not_forwarded(
    recorded: RecordedDeployment,
) -> None:
    _, created, _ = await recorded.scim("POST", "/Users", json=new_user())

    status, body, _ = await recorded.scim(
        "PATCH",
        f"/Users/{created['id']}",
        json=patch_body({"op": "replace", "path": "password", "value": PASSWORD}),
    )

    assert status == 200
    assert "password" not in body
    assert recorded.portal.users[created["id"]].password_set_count == 0
    assert recorded.sent_to("PUT", USERS) == []


async def test_password_is_forwarded_on_create_when_configured(
    deploy: DeploymentFactory,
) -> None:
    deployment = await deploy(portal={"forward_passwords": True})

    status, body, _ = await deployment.scim("POST", "/Users", json=new_user(password=PASSWORD))

    assert status == 201
    assert "password" not in body
    assert deployment.portal.users[body["id"]].password_set_count == 1
    [create] = deployment.sent_to("POST", USERS)
    assert create.json["password"] == PASSWORD


async def test_patched_password_is_forwarded_when_configured(deploy: DeploymentFactory) -> None:
    deployment = await deploy(portal={"forward_passwords": True})
    _, created, _ = await deployment.scim("POST", "/Users", json=new_user(password=PASSWORD))

    status, body, _ = await deployment.scim(
        "PATCH",
        f"/Users/{created['id']}",
        json=patch_body({"op": "replace", "path": "password", "value": PASSWORD + "-2"}),
    )

    assert status == 200
    assert "password" not in body
    assert deployment.portal.users[created["id"]].password_set_count == 2
    [update] = deployment.sent_to("PUT", USERS)
    assert update.json == {"password": PASSWORD + "-2"}


async def test_password_is_never_read_back(deploy: DeploymentFactory) -> None:
    deployment = await deploy(portal={"forward_passwords": True})
    status, created, _ = await deployment.scim("POST", "/Users", json=new_user(password=PASSWORD))
    assert status == 201

    read_status, read, _ = await deployment.scim("GET", f"/Users/{created['id']}")
    list_status, listed, _ = await deployment.scim(
        "GET", "/Users", params={"filter": 'userName eq "grace.hopper@example.com"'}
    )

    assert PASSWORD not in repr(read) and PASSWORD not in repr(listed)
    assert "password" not in read and "password" not in listed["Resources"][0]
    assert (read_status, read) == (200, created)
    assert (list_status, listed) == (
        200,
        {
            "schemas": [LIST_SCHEMA],
            "totalResults": 1,
            "startIndex": 1,
            "itemsPerPage": 1,
            "Resources": [created],
        },
    )
