"""The portal misbehaves: the IdP's request still succeeds when a retry can cure it, gets 503
with Retry-After when not, and nothing is ever left half written."""

import asyncio
from typing import Any

from gateway.simulator import FaultAction, FaultRule
from gateway.web.keys import STORE
from tests.conftest import Deployment
from tests.gateway.conftest import (
    BASE_URL,
    EXISTING_USER,
    GROUP_SCHEMA,
    KYVOS_SCHEMA,
    USER_SCHEMA,
    calls,
    calls_since,
    portal_user,
    scim_error,
    stored,
)

USERS = "/rest/security/users"
USER = "/rest/security/users/{id}"
GROUPS = "/rest/security/groups"


def grace(**changes: Any) -> dict[str, Any]:
    return {
        "schemas": [USER_SCHEMA],
        "userName": "grace.hopper@example.com",
        "externalId": "00u-grace",
        "name": {"givenName": "Grace", "familyName": "Hopper"},
        **changes,
    }


def dana_id(deployment: Deployment) -> str:
    dana = portal_user(deployment.portal, EXISTING_USER)
    assert dana is not None

    return dana.id


def fail(deployment: Deployment, method: str, path_prefix: str, **rule: Any) -> None:
    deployment.portal.faults.add(FaultRule(path_prefix=path_prefix, method=method, **rule))


# Faults a retry cures


async def test_read_succeeds_when_the_portal_recovers_after_two_503s(
    deployment: Deployment,
) -> None:
    user_id = dana_id(deployment)
    fail(deployment, "GET", f"{USERS}/{user_id}", count=2, status=503)
    before = calls(deployment.portal)

    status, body, _ = await deployment.scim("GET", f"/Users/{user_id}")

    assert (status, body["userName"]) == (200, EXISTING_USER)
    assert calls_since(deployment.portal, before) == {f"GET {USER}": 3}


async def test_create_succeeds_once_when_the_portal_recovers_after_two_503s(
    deployment: Deployment,
) -> None:
    fail(deployment, "POST", USERS, count=2, status=503)

    status, body, _ = await deployment.scim("POST", "/Users", json=grace())

    assert status == 201
    assert portal_user(deployment.portal, "grace.hopper@example.com") is not None
    assert len(deployment.portal.users) == 3
    assert await stored(deployment, "User", body["id"]) is not None


async def test_dropped_connection_on_a_read_is_retried(deployment: Deployment) -> None:
    user_id = dana_id(deployment)
    fault_free = await deployment.scim("GET", f"/Users/{user_id}")
    fail(deployment, "GET", f"{USERS}/{user_id}", action=FaultAction.DROP, count=1)
    before = calls(deployment.portal)

    status, body, _ = await deployment.scim("GET", f"/Users/{user_id}")

    assert (status, body["userName"]) == (200, EXISTING_USER)
    assert (status, body) == fault_free[:2]
    assert calls_since(deployment.portal, before) == {f"GET {USER}": 2}


async def test_member_add_is_retried_after_a_503(deployment: Deployment) -> None:
    dana = dana_id(deployment)
    _, group, _ = await deployment.scim("POST", "/Groups", json={"displayName": "Analysts"})
    fail(deployment, "POST", f"{GROUPS}/{group['id']}/members", count=1, status=503)

    status, _, _ = await deployment.scim(
        "PATCH",
        f"/Groups/{group['id']}",
        json={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": dana}]}],
        },
    )

    assert status == 200
    assert list(deployment.portal.groups[group["id"]].members) == [dana]


# Faults that outlast the retries


async def test_portal_down_gives_503_with_retry_after_and_a_scim_body(
    deployment: Deployment,
) -> None:
    user_id = dana_id(deployment)
    fail(deployment, "GET", f"{USERS}/{user_id}", count=None, status=503, retry_after=7)

    status, body, headers = await deployment.scim("GET", f"/Users/{user_id}")

    assert (status, body) == (503, scim_error(503))
    assert headers["Retry-After"] == "7"
    assert calls(deployment.portal)[f"GET {USER}"] == deployment.settings.portal.max_attempts


async def test_failed_user_create_leaves_no_portal_user_and_no_store_row(
    deployment: Deployment,
) -> None:
    fail(deployment, "POST", USERS, count=None, status=503)

    status, body, headers = await deployment.scim("POST", "/Users", json=grace())

    assert (status, body) == (503, scim_error(503))
    assert int(headers["Retry-After"]) >= 1
    assert portal_user(deployment.portal, "grace.hopper@example.com") is None
    assert await deployment.gateway.app[STORE].find_by_external_id("User", "00u-grace") == []


async def test_failed_user_create_can_be_retried_by_the_idp(deployment: Deployment) -> None:
    fail(deployment, "POST", USERS, count=None, status=503)
    first_status, first_body, _ = await deployment.scim("POST", "/Users", json=grace())
    assert (first_status, first_body) == (503, scim_error(503))
    deployment.portal.faults.clear()

    status, body, _ = await deployment.scim("POST", "/Users", json=grace())

    assert status == 201
    assert body == {
        "schemas": [USER_SCHEMA, KYVOS_SCHEMA],
        "id": body["id"],
        "externalId": "00u-grace",
        "userName": "grace.hopper@example.com",
        "name": {"givenName": "Grace", "familyName": "Hopper"},
        "active": True,
        "roles": [{"value": "Business User", "primary": True, "type": "direct"}],
        KYVOS_SCHEMA: {"effectiveRole": "Business User"},
        "meta": {
            "resourceType": "User",
            "created": body["meta"]["created"],
            "lastModified": body["meta"]["lastModified"],
            "location": f"{BASE_URL}/Users/{body['id']}",
            "version": body["meta"]["version"],
        },
    }
    matching = [
        user.id
        for user in deployment.portal.users.values()
        if user.user_name == "grace.hopper@example.com"
    ]
    assert matching == [body["id"]]
    record = await stored(deployment, "User", body["id"])
    assert record is not None and record.external_id == "00u-grace"


async def test_group_whose_members_cannot_be_added_is_not_left_behind(
    deployment: Deployment,
) -> None:
    dana = dana_id(deployment)
    fail(deployment, "POST", f"{GROUPS}/", count=None, status=503)

    status, body, _ = await deployment.scim(
        "POST",
        "/Groups",
        json={"schemas": [GROUP_SCHEMA], "displayName": "Analysts", "members": [{"value": dana}]},
    )

    assert (status, body) == (503, scim_error(503))
    assert deployment.portal.groups == {}
    assert deployment.portal.users[dana].groups == {}


async def test_failed_user_update_changes_neither_portal_nor_store(
    deployment: Deployment,
) -> None:
    _, created, _ = await deployment.scim("POST", "/Users", json=grace(title="Admiral"))
    fail(deployment, "PUT", USERS, count=None, status=503)

    status, _, _ = await deployment.scim(
        "PUT",
        f"/Users/{created['id']}",
        json=grace(name={"givenName": "Amazing", "familyName": "Grace"}, title="Rear Admiral"),
    )

    assert status == 503
    assert deployment.portal.users[created["id"]].first_name == "Grace"
    record = await stored(deployment, "User", created["id"])
    assert record is not None and (record.version, record.extra["title"]) == (1, "Admiral")


# Sessions


async def test_expired_session_costs_one_login_for_many_concurrent_requests(
    deployment: Deployment,
) -> None:
    user_id = dana_id(deployment)
    logins = deployment.portal.requests.counters()["logins"]
    deployment.portal.sessions.expire_all()

    answers = await asyncio.gather(
        *(deployment.scim("GET", f"/Users/{user_id}") for _ in range(20))
    )

    assert [status for status, _, _ in answers] == [200] * 20
    assert deployment.portal.requests.counters()["logins"] == logins + 1


async def test_session_expired_through_the_admin_api_is_renewed_once(
    deployment: Deployment,
) -> None:
    logins = deployment.portal.requests.counters()["logins"]
    async with deployment.gateway.session.post(
        f"{deployment.portal_url}/sim/sessions/expire"
    ) as expired:
        assert expired.status == 204

    first = await deployment.scim("GET", f"/Users/{dana_id(deployment)}")
    second = await deployment.scim("GET", "/Groups")

    assert (first[0], second[0]) == (200, 200)
    assert deployment.portal.requests.counters()["logins"] == logins + 1


# Ambiguous failures: the change happened, the answer was lost


async def test_user_created_but_answered_503_is_created_exactly_once(
    deployment: Deployment,
) -> None:
    fail(deployment, "POST", USERS, count=1, status=503, after_commit=True)

    status, body, _ = await deployment.scim("POST", "/Users", json=grace())

    assert status == 201
    matching = [
        user
        for user in deployment.portal.users.values()
        if user.user_name == "grace.hopper@example.com"
    ]
    assert [user.id for user in matching] == [body["id"]]
    record = await stored(deployment, "User", body["id"])
    assert record is not None and record.external_id == "00u-grace"


async def test_user_created_but_connection_dropped_is_created_exactly_once(
    deployment: Deployment,
) -> None:
    fail(deployment, "POST", USERS, action=FaultAction.DROP, count=1, after_commit=True)

    status, body, _ = await deployment.scim("POST", "/Users", json=grace())

    assert status == 201
    assert len(deployment.portal.users) == 3
    assert deployment.portal.users[body["id"]].user_name == "grace.hopper@example.com"


async def test_group_created_but_answered_503_is_created_exactly_once(
    deployment: Deployment,
) -> None:
    fail(deployment, "POST", GROUPS, count=1, status=503, after_commit=True)

    status, body, _ = await deployment.scim("POST", "/Groups", json={"displayName": "Analysts"})

    assert status == 201
    assert list(deployment.portal.groups) == [body["id"]]


async def test_user_deleted_but_answered_503_is_reported_deleted(deployment: Deployment) -> None:
    _, created, _ = await deployment.scim("POST", "/Users", json=grace())
    fail(deployment, "DELETE", USERS, count=1, status=503, after_commit=True)

    status, body, _ = await deployment.scim("DELETE", f"/Users/{created['id']}")

    assert (status, body) == (204, None)
    assert created["id"] not in deployment.portal.users
    assert await stored(deployment, "User", created["id"]) is None


async def test_two_racing_creates_of_one_user_make_one_portal_user(
    deployment: Deployment,
) -> None:
    answers = await asyncio.gather(
        deployment.scim("POST", "/Users", json=grace()),
        deployment.scim("POST", "/Users", json=grace()),
    )

    assert sorted(status for status, _, _ in answers) == [201, 409]
    assert len(deployment.portal.users) == 3
