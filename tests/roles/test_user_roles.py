"""The user's own role over SCIM: shown in `roles`, the effective role read-only beside it, and
changed only when the portal authenticates through RAS, as Kyvos allows."""

from typing import Any
from unittest.mock import ANY

from structlog.testing import capture_logs

from gateway.provisioning.roles import DirectRoles
from gateway.web.keys import PORTAL
from tests.conftest import Deployment
from tests.roles.conftest import (
    ERROR_SCHEMA,
    KYVOS_SCHEMA,
    RAS,
    USER_SCHEMA,
    create_user,
    new_user,
    patch,
)

EXISTING_USER = "dana.whitfield@example.com"
PRIMARY_ROLE = 'roles[primary eq "True"].value'
NATIVE_REFUSAL = {
    "schemas": [ERROR_SCHEMA],
    "status": "400",
    "scimType": "mutability",
    "detail": "Kyvos only allows role changes when it authenticates through its Remote "
    "Authentication System; this portal uses NATIVE, so the user's role is managed in the "
    "Kyvos portal. Nothing was changed. Change the role in Kyvos, use a group that a role rule "
    "maps to a role, or stop sending `roles` from the IdP.",
}


def portal_role(deployment: Deployment, user_id: str) -> str:
    return deployment.portal.users[user_id].role


async def set_primary_role(deployment: Deployment, user_id: str, role: str) -> tuple[int, Any]:
    status, body, _ = await deployment.scim(
        "PATCH",
        f"/Users/{user_id}",
        json=patch({"op": "Add", "path": PRIMARY_ROLE, "value": role}),
    )
    return status, body


async def test_a_user_shows_their_own_role_and_their_read_only_effective_role(
    deployment: Deployment,
) -> None:
    body = await create_user(deployment, "ada")

    assert body == {
        "schemas": [USER_SCHEMA, KYVOS_SCHEMA],
        "id": body["id"],
        "userName": "ada@example.com",
        "name": {"givenName": "Ada", "familyName": "Tester"},
        "emails": [{"value": "ada@example.com", "type": "work", "primary": True}],
        "active": True,
        "roles": [{"value": "Business User", "primary": True, "type": "direct"}],
        KYVOS_SCHEMA: {"effectiveRole": "Business User"},
        "meta": ANY,
    }


async def test_a_role_write_is_refused_under_native_with_the_reason(
    deployment: Deployment,
) -> None:
    user = await create_user(deployment, "ada")

    status, body = await set_primary_role(deployment, user["id"], "Designer")

    assert (status, body) == (400, NATIVE_REFUSAL)
    assert portal_role(deployment, user["id"]) == "Business User"


async def test_a_refused_role_write_changes_nothing_else_either(deployment: Deployment) -> None:
    user = await create_user(deployment, "ada")

    status, _, _ = await deployment.scim(
        "PUT",
        f"/Users/{user['id']}",
        json=new_user("ada", name={"familyName": "Lovelace"}, roles=[{"value": "Designer"}]),
    )

    assert status == 400
    portal_user = deployment.portal.users[user["id"]]
    assert (portal_user.last_name, portal_user.role) == ("Tester", "Business User")


async def test_a_put_repeating_the_current_role_is_not_a_role_change(
    deployment: Deployment,
) -> None:
    user = await create_user(deployment, "ada")
    echoed = {key: value for key, value in user.items() if key != "meta"}

    status, body, _ = await deployment.scim(
        "PUT", f"/Users/{user['id']}", json={**echoed, "displayName": "Ada T."}
    )

    assert status == 200
    assert body["roles"] == [{"value": "Business User", "primary": True, "type": "direct"}]


async def test_empty_roles_from_entra_are_not_a_role_change(deployment: Deployment) -> None:
    user = await create_user(deployment, "ada", roles=[])

    status, _, _ = await deployment.scim(
        "PUT", f"/Users/{user['id']}", json=new_user("ada", roles=[], active=False)
    )

    assert status == 200
    assert deployment.portal.users[user["id"]].status == "INACTIVE"


async def test_the_effective_role_cannot_be_written(deployment: Deployment) -> None:
    user = await create_user(deployment, "ada")

    status, body, _ = await deployment.scim(
        "PATCH",
        f"/Users/{user['id']}",
        json=patch(
            {"op": "replace", "path": f"{KYVOS_SCHEMA}:effectiveRole", "value": "Administrator"}
        ),
    )

    assert (status, body["scimType"]) == (400, "mutability")


@RAS
async def test_a_role_write_under_ras_changes_the_portal_role(deployment: Deployment) -> None:
    user = await create_user(deployment, "ada")

    status, body = await set_primary_role(deployment, user["id"], "Designer")

    assert status == 200
    assert (body["roles"], body[KYVOS_SCHEMA]) == (
        [{"value": "Designer", "primary": True, "type": "direct"}],
        {"effectiveRole": "Designer"},
    )
    assert portal_role(deployment, user["id"]) == "Designer"


@RAS
async def test_entras_app_role_sent_as_json_inside_a_string_sets_the_role(
    deployment: Deployment,
) -> None:
    user = await create_user(deployment, "ada")
    role = '[{"primary":false,"type":"WindowsAzureActiveDirectoryRole","value":"Designer"}]'

    status, _, _ = await deployment.scim(
        "PATCH", f"/Users/{user['id']}", json=patch({"op": "Add", "path": "roles", "value": role})
    )

    assert status == 200
    assert portal_role(deployment, user["id"]) == "Designer"


@RAS
async def test_a_role_name_is_matched_to_the_portals_ignoring_case(
    deployment: Deployment,
) -> None:
    user = await create_user(deployment, "ada")

    await set_primary_role(deployment, user["id"], "designer")

    assert portal_role(deployment, user["id"]) == "Designer"


@RAS
async def test_an_unknown_role_is_refused_naming_the_portals_roles(
    deployment: Deployment,
) -> None:
    user = await create_user(deployment, "ada")

    status, body = await set_primary_role(deployment, user["id"], "Wizard")

    assert (status, body) == (
        400,
        {
            "schemas": [ERROR_SCHEMA],
            "status": "400",
            "scimType": "invalidValue",
            "detail": "The Kyvos portal has no role 'Wizard'; its roles are Administrator, "
            "Business User, Designer. Map the IdP's role values to these names.",
        },
    )


@RAS
async def test_several_roles_without_a_primary_one_are_refused(deployment: Deployment) -> None:
    user = await create_user(deployment, "ada")

    status, body, _ = await deployment.scim(
        "PUT",
        f"/Users/{user['id']}",
        json=new_user("ada", roles=[{"value": "Designer"}, {"value": "Administrator"}]),
    )

    assert (status, body["scimType"]) == (400, "invalidValue")
    assert portal_role(deployment, user["id"]) == "Business User"


@RAS
async def test_a_direct_role_change_is_audited(deployment: Deployment) -> None:
    user = await create_user(deployment, "ada")

    with capture_logs() as logs:
        await set_primary_role(deployment, user["id"], "Administrator")

    changes = [e for e in logs if e["event"] == "audit" and e["action"] == "user.role_changed"]
    assert changes == [
        {
            "event": "audit",
            "log_level": "info",
            "action": "user.role_changed",
            "resource_type": "User",
            "resource_id": user["id"],
            "role_before": "Business User",
            "role_after": "Administrator",
            "effective_role": "Administrator",
        }
    ]


@RAS
async def test_a_portal_that_left_ras_refuses_and_is_asked_again(
    deployment: Deployment,
) -> None:
    user = await create_user(deployment, "ada")
    await set_primary_role(deployment, user["id"], "Designer")
    deployment.portal.config.authentication_system = "NATIVE"

    status, body = await set_primary_role(deployment, user["id"], "Administrator")

    assert (status, body) == (400, NATIVE_REFUSAL)
    assert portal_role(deployment, user["id"]) == "Designer"


@RAS
async def test_roles_sent_on_create_are_not_applied_onboarding_decides(
    deployment: Deployment,
) -> None:
    body = await create_user(deployment, "ada", roles=[{"value": "Administrator", "primary": True}])

    assert body["roles"] == [{"value": "Business User", "primary": True, "type": "direct"}]
    assert portal_role(deployment, body["id"]) == "Business User"


async def test_an_existing_portal_user_keeps_their_role(deployment: Deployment) -> None:
    _, found, _ = await deployment.scim("GET", f'/Users?filter=userName eq "{EXISTING_USER}"')
    existing = found["Resources"][0]

    status, _, _ = await deployment.scim(
        "PUT", f"/Users/{existing['id']}", json=new_user("dana.whitfield", active=True)
    )

    assert status == 200
    assert portal_role(deployment, existing["id"]) == "Designer"


async def test_creating_a_user_who_already_exists_never_changes_their_role(
    deployment: Deployment,
) -> None:
    status, _, _ = await deployment.scim("POST", "/Users", json=new_user("dana.whitfield"))

    dana = next(u for u in deployment.portal.users.values() if u.user_name == EXISTING_USER)
    assert (status, dana.role) == (409, "Designer")


async def test_the_authentication_system_is_asked_again_only_after_its_ttl(
    deployment: Deployment,
) -> None:
    moment = [0.0]
    roles = DirectRoles(deployment.gateway.app[PORTAL], ttl=30, clock=lambda: moment[0])
    calls = deployment.portal.requests.calls
    route = "GET /rest/security/authentication"

    await roles.authentication_system()
    moment[0] = 29.0
    await roles.authentication_system()
    asked_within = calls[route]
    moment[0] = 31.0
    await roles.authentication_system()

    assert (asked_within, calls[route]) == (1, 2)
