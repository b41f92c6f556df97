"""The simulated Kyvos Web Portal, exercised over real HTTP through pytest-aiohttp."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from gateway.simulator import (
    SIMULATOR_STATE,
    FaultAction,
    FaultRule,
    PortalState,
    SimulatorConfig,
    create_app,
)

SERVICE_PASSWORD = "portal-service-secret"

PortalFactory = Callable[..., Awaitable["Portal"]]


class FakeClock:
    """Monotonic seconds that move only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Portal:
    """A running simulator: its HTTP client, its state, and a logged-in session."""

    def __init__(self, client: TestClient[Any, Any], clock: FakeClock) -> None:
        self.client = client
        self.clock = clock
        self.context = self.state.config.context
        self.session_id: str | None = None

    @property
    def state(self) -> PortalState:
        return self.client.app[SIMULATOR_STATE]

    def url(self, path: str) -> str:
        return f"{self.context}{path}"

    async def log_in(self, password: str = SERVICE_PASSWORD) -> str:
        form = {"username": self.state.config.service_username, "password": password}
        response = await self.client.post(self.url("/rest/login"), data=form)
        assert response.status == 200, await response.text()

        match = re.search(r"<SUCCESS>([^<]+)</SUCCESS>", await response.text())
        assert match is not None
        self.session_id = match.group(1)
        return self.session_id

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """A portal call with the session; returns the response (body already read)."""
        headers = {"sessionid": self.session_id} if self.session_id else {}
        response = await self.client.request(method, self.url(path), headers=headers, **kwargs)
        await response.read()

        return response

    async def json(self, method: str, path: str, status: int = 200, **kwargs: Any) -> Any:
        response = await self.call(method, path, **kwargs)
        assert response.status == status, await response.text()

        return await response.json() if response.status != 204 else None

    async def create_user(self, user_name: str, **fields: Any) -> dict[str, Any]:
        body = {
            "userName": user_name,
            "email": user_name,
            "firstLoginActions": {"roleName": "Business User"},
            **fields,
        }

        return await self.json("POST", "/rest/security/users", status=201, json=body)

    async def create_group(self, name: str, **fields: Any) -> dict[str, Any]:
        body = {"name": name, **fields}

        return await self.json("POST", "/rest/security/groups", status=201, json=body)


@pytest.fixture
def make_portal(aiohttp_client: Any) -> PortalFactory:
    """Start a simulator with the given config overrides, logged in unless it is a Manager."""

    async def start(**overrides: Any) -> Portal:
        clock = FakeClock()
        config = SimulatorConfig(service_password=SERVICE_PASSWORD, **overrides)
        portal = Portal(await aiohttp_client(create_app(config, clock=clock)), clock)
        if not config.manager:
            await portal.log_in()

        return portal

    return start


@pytest.fixture
async def portal(make_portal: PortalFactory) -> Portal:
    return await make_portal()


USERS = "/rest/security/users"
GROUPS = "/rest/security/groups"
DANA = "dana.whitfield@example.com"


async def find_user_id(portal: Portal, user_name: str) -> str:
    found = await portal.json("GET", USERS, params={"userName": user_name})
    assert found["total"] == 1

    return found["users"][0]["id"]


# -- login and sessions -------------------------------------------------------------------------


async def test_login_answers_a_session_id_in_xml(portal: Portal) -> None:
    form = {"username": "scim-gateway", "password": SERVICE_PASSWORD}
    response = await portal.client.post(portal.url("/rest/login"), data=form)

    assert response.status == 200
    assert re.fullmatch(
        r"<response><SUCCESS>[0-9a-f]{32}</SUCCESS></response>", await response.text()
    )


async def test_login_with_a_wrong_password_is_refused(portal: Portal) -> None:
    form = {"username": "scim-gateway", "password": "not-it"}
    response = await portal.client.post(portal.url("/rest/login"), data=form)

    assert response.status == 401
    assert await response.json() == {
        "errorCode": "INVALID_CREDENTIALS",
        "message": "Wrong username or password.",
    }


async def test_a_call_without_a_session_is_refused(portal: Portal) -> None:
    response = await portal.client.get(portal.url(USERS))

    assert response.status == 401
    assert (await response.json())["errorCode"] == "NOT_AUTHENTICATED"


async def test_a_call_with_an_unknown_session_is_refused(portal: Portal) -> None:
    response = await portal.client.get(portal.url(USERS), headers={"sessionid": "made-up"})

    assert response.status == 401
    assert (await response.json())["errorCode"] == "INVALID_SESSION"


async def test_about_needs_no_session(portal: Portal) -> None:
    response = await portal.client.get(portal.url("/rest/about"))

    assert await response.json() == {"product": "Kyvos Web Portal", "version": "2026.2"}


async def test_a_session_expires_after_its_idle_time(portal: Portal) -> None:
    portal.clock.advance(1800.5)

    response = await portal.call("GET", USERS)

    assert response.status == 401
    assert (await response.json())["errorCode"] == "SESSION_EXPIRED"


async def test_each_call_restarts_the_idle_time(portal: Portal) -> None:
    portal.clock.advance(1000)
    await portal.json("GET", "/rest/security/roles")
    portal.clock.advance(1000)

    response = await portal.call("GET", "/rest/security/roles")

    assert response.status == 200


async def test_expiring_all_sessions_over_the_admin_api_forces_a_new_login(
    portal: Portal,
) -> None:
    await portal.client.post(portal.url("/sim/sessions/expire"))

    refused = await portal.call("GET", USERS)
    await portal.log_in()
    accepted = await portal.call("GET", USERS)

    assert (refused.status, accepted.status) == (401, 200)


async def test_the_portal_reports_its_authentication_system(make_portal: PortalFactory) -> None:
    portal = await make_portal(authentication_system="ras")

    body = await portal.json("GET", "/rest/security/authentication")

    assert body == {"authenticationSystem": "RAS"}


async def test_roles_are_listed_highest_first(portal: Portal) -> None:
    body = await portal.json("GET", "/rest/security/roles")

    assert body == [{"name": "Administrator"}, {"name": "Designer"}, {"name": "Business User"}]


# -- users --------------------------------------------------------------------------------------


async def test_a_new_user_gets_the_role_named_in_its_first_login_actions(
    portal: Portal,
) -> None:
    actions = {
        "roleName": "Designer",
        "sendWelcomeMailToUser": False,
        "updatePreferences": True,
        "defaultEntities": [],
    }
    created = await portal.create_user(
        "sam.rivera@example.com", firstName="Sam", lastName="Rivera", firstLoginActions=actions
    )

    fetched = await portal.json("GET", f"{USERS}/{created['id']}")

    assert fetched == created
    assert fetched == {
        "id": created["id"],
        "userName": "sam.rivera@example.com",
        "email": "sam.rivera@example.com",
        "firstName": "Sam",
        "lastName": "Rivera",
        "authType": "NATIVE",
        "role": "Designer",
        "effectiveRole": "Designer",
        "status": "ACTIVE",
        "description": None,
        "groups": [],
        "firstLoginActions": actions,
        "hasPassword": False,
        "passwordSetCount": 0,
    }


async def test_a_new_user_with_an_unknown_role_is_refused(portal: Portal) -> None:
    body = {"userName": "x@example.com", "firstLoginActions": {"roleName": "Wizard"}}

    response = await portal.call("POST", USERS, json=body)

    assert response.status == 400
    assert (await response.json())["errorCode"] == "UNKNOWN_ROLE"


async def test_a_new_user_without_a_role_is_refused(portal: Portal) -> None:
    response = await portal.call("POST", USERS, json={"userName": "x@example.com"})

    assert response.status == 400
    assert (await response.json())["errorCode"] == "ROLE_REQUIRED"


async def test_user_names_are_unique_whatever_their_case(portal: Portal) -> None:
    await portal.create_user("Lee.Park@Example.com")

    body = {"userName": "lee.park@example.COM", "firstLoginActions": {"roleName": "Designer"}}
    response = await portal.call("POST", USERS, json=body)

    assert response.status == 409
    assert (await response.json())["errorCode"] == "USER_EXISTS"


async def test_a_user_is_found_by_user_name_whatever_its_case(portal: Portal) -> None:
    created = await portal.create_user("Lee.Park@Example.com")

    found = await portal.json("GET", USERS, params={"userName": "LEE.PARK@EXAMPLE.COM"})

    assert found == {"total": 1, "users": [created]}


async def test_a_user_is_found_by_email_whatever_its_case(portal: Portal) -> None:
    found = await portal.json("GET", USERS, params={"email": DANA.upper()})

    assert [user["userName"] for user in found["users"]] == [DANA]


async def test_a_lookup_that_matches_nobody_is_an_empty_page(portal: Portal) -> None:
    found = await portal.json("GET", USERS, params={"userName": "nobody@example.com"})

    assert found == {"total": 0, "users": []}


async def test_a_password_is_counted_but_never_served(portal: Portal) -> None:
    created = await portal.create_user("pw@example.com", password="Initial-1")

    updated = await portal.json("PUT", f"{USERS}/{created['id']}", json={"password": "Next-2"})

    assert (updated["hasPassword"], updated["passwordSetCount"]) == (True, 2)
    assert "Initial-1" not in str(updated) and "Next-2" not in str(updated)


async def test_put_merges_the_given_fields_and_ignores_read_only_ones(portal: Portal) -> None:
    created = await portal.create_user("jo.chen@example.com", firstName="Jo", lastName="Chen")
    body = {"firstName": "Joanna", "status": "INACTIVE", "id": "other", "groups": ["g"]}

    updated = await portal.json("PUT", f"{USERS}/{created['id']}", json=body)

    assert updated == {**created, "firstName": "Joanna", "status": "INACTIVE"}


async def test_renaming_a_user_moves_its_lookup(portal: Portal) -> None:
    created = await portal.create_user("old@example.com")

    await portal.json("PUT", f"{USERS}/{created['id']}", json={"userName": "new@example.com"})

    old = await portal.json("GET", USERS, params={"userName": "old@example.com"})
    new = await portal.json("GET", USERS, params={"userName": "NEW@example.com"})
    assert (old["total"], new["users"][0]["id"]) == (0, created["id"])


async def test_an_invalid_status_is_refused(portal: Portal) -> None:
    dana = await find_user_id(portal, DANA)

    response = await portal.call("PUT", f"{USERS}/{dana}", json={"status": "active"})

    assert response.status == 400
    assert (await response.json())["errorCode"] == "INVALID_STATUS"


async def test_a_role_change_is_refused_unless_the_portal_uses_ras(portal: Portal) -> None:
    dana = await find_user_id(portal, DANA)

    response = await portal.call("PUT", f"{USERS}/{dana}", json={"role": "Administrator"})

    assert response.status == 403
    assert (await response.json())["errorCode"] == "ROLE_CHANGE_NOT_ALLOWED"
    assert portal.state.users[dana].role == "Designer"


async def test_sending_the_current_role_back_is_not_a_role_change(portal: Portal) -> None:
    dana = await find_user_id(portal, DANA)

    updated = await portal.json("PUT", f"{USERS}/{dana}", json={"role": "Designer"})

    assert updated["role"] == "Designer"


async def test_a_role_change_is_allowed_when_the_portal_uses_ras(
    make_portal: PortalFactory,
) -> None:
    portal = await make_portal(authentication_system="RAS")
    dana = await find_user_id(portal, DANA)

    updated = await portal.json("PUT", f"{USERS}/{dana}", json={"role": "Business User"})

    assert updated["role"] == "Business User"


async def test_an_unknown_user_id_is_not_found(portal: Portal) -> None:
    response = await portal.call("GET", f"{USERS}/010101001010101011001010101011")

    assert response.status == 404
    assert (await response.json())["errorCode"] == "USER_NOT_FOUND"


async def test_a_deleted_user_is_gone_and_leaves_its_groups(portal: Portal) -> None:
    user = await portal.create_user("leaver@example.com")
    group = await portal.create_group("Leavers")
    await portal.json(
        "POST", f"{GROUPS}/{group['id']}/members", 204, json={"userIds": [user["id"]]}
    )

    await portal.json("DELETE", f"{USERS}/{user['id']}", status=204)

    gone = await portal.call("GET", f"{USERS}/{user['id']}")
    members = await portal.json("GET", f"{GROUPS}/{group['id']}/members")
    assert (gone.status, members) == (404, {"total": 0, "users": []})


async def test_users_are_listed_in_creation_order_across_pages(portal: Portal) -> None:
    portal.state.seed_users(250)
    expected = [user.id for user in portal.state.users.values()]

    seen: list[str] = []
    for offset in range(0, 300, 100):
        page = await portal.json("GET", USERS, params={"offset": offset, "limit": 100})
        assert page["total"] == 252
        seen += [user["id"] for user in page["users"]]

    assert seen == expected


async def test_a_negative_limit_is_refused(portal: Portal) -> None:
    response = await portal.call("GET", USERS, params={"limit": "-1"})

    assert response.status == 400
    assert (await response.json())["errorCode"] == "INVALID_PARAMETER"


async def test_a_body_that_is_not_json_is_refused(portal: Portal) -> None:
    response = await portal.call("POST", USERS, data=b"{not json")

    assert response.status == 400
    assert (await response.json())["errorCode"] == "INVALID_JSON"


# -- groups and members -------------------------------------------------------------------------


async def test_a_group_is_created_and_found_by_name_whatever_its_case(portal: Portal) -> None:
    created = await portal.create_group("Finance Analysts", roles=["Designer"])

    found = await portal.json("GET", GROUPS, params={"name": "finance ANALYSTS"})

    assert found == {
        "total": 1,
        "groups": [
            {
                "id": created["id"],
                "name": "Finance Analysts",
                "roles": ["Designer"],
                "description": None,
                "memberCount": 0,
            }
        ],
    }


async def test_group_names_are_unique_whatever_their_case(portal: Portal) -> None:
    await portal.create_group("Finance")

    response = await portal.call("POST", GROUPS, json={"name": "FINANCE"})

    assert response.status == 409
    assert (await response.json())["errorCode"] == "GROUP_EXISTS"


async def test_a_group_with_an_unknown_role_is_refused(portal: Portal) -> None:
    response = await portal.call("POST", GROUPS, json={"name": "G", "roles": ["Wizard"]})

    assert response.status == 400
    assert (await response.json())["errorCode"] == "UNKNOWN_ROLE"


async def test_put_renames_a_group_and_keeps_its_roles(portal: Portal) -> None:
    group = await portal.create_group("Finance", roles=["Designer"])

    updated = await portal.json("PUT", f"{GROUPS}/{group['id']}", json={"name": "Finance EMEA"})

    assert updated == {**group, "name": "Finance EMEA"}


async def test_the_effective_role_is_the_highest_of_user_and_group_roles(
    portal: Portal,
) -> None:
    user = await portal.create_user("analyst@example.com")
    group = await portal.create_group("Admins", roles=["Administrator"])

    await portal.json(
        "POST", f"{GROUPS}/{group['id']}/members", 204, json={"userIds": [user["id"]]}
    )

    fetched = await portal.json("GET", f"{USERS}/{user['id']}")
    assert (fetched["role"], fetched["effectiveRole"]) == ("Business User", "Administrator")
    assert fetched["groups"] == [group["id"]]


async def test_adding_the_same_members_twice_changes_nothing(portal: Portal) -> None:
    user = await portal.create_user("member@example.com")
    group = await portal.create_group("Twice")
    members = f"{GROUPS}/{group['id']}/members"

    await portal.json("POST", members, 204, json={"userIds": [user["id"]]})
    await portal.json("POST", members, 204, json={"userIds": [user["id"], user["id"]]})

    listed = await portal.json("GET", members)
    assert listed == {"total": 1, "users": [{"id": user["id"], "userName": "member@example.com"}]}


async def test_removing_a_user_who_is_not_a_member_changes_nothing(portal: Portal) -> None:
    stays = await portal.create_user("stays@example.com")
    never = await portal.create_user("never@example.com")
    group = await portal.create_group("Removals")
    members = f"{GROUPS}/{group['id']}/members"
    await portal.json("POST", members, 204, json={"userIds": [stays["id"]]})

    await portal.json("POST", f"{members}/remove", 204, json={"userIds": [never["id"]]})

    listed = await portal.json("GET", members)
    assert [member["id"] for member in listed["users"]] == [stays["id"]]


async def test_an_unknown_member_id_is_refused_and_nothing_changes(portal: Portal) -> None:
    user = await portal.create_user("real@example.com")
    group = await portal.create_group("Strict")

    response = await portal.call(
        "POST", f"{GROUPS}/{group['id']}/members", json={"userIds": [user["id"], "ghost"]}
    )

    assert response.status == 404
    assert (await response.json())["errorCode"] == "USER_NOT_FOUND"
    assert portal.state.groups[group["id"]].members == {}


async def test_members_are_paged_with_a_total(portal: Portal) -> None:
    portal.state.seed_users(5)
    group = await portal.create_group("Paged")
    user_ids = list(portal.state.users)
    await portal.json("POST", f"{GROUPS}/{group['id']}/members", 204, json={"userIds": user_ids})

    page = await portal.json(
        "GET", f"{GROUPS}/{group['id']}/members", params={"offset": 2, "limit": 3}
    )

    assert page["total"] == 7
    assert [member["id"] for member in page["users"]] == user_ids[2:5]


async def test_a_deleted_group_releases_its_members(portal: Portal) -> None:
    user = await portal.create_user("released@example.com")
    group = await portal.create_group("Doomed", roles=["Administrator"])
    await portal.json(
        "POST", f"{GROUPS}/{group['id']}/members", 204, json={"userIds": [user["id"]]}
    )

    await portal.json("DELETE", f"{GROUPS}/{group['id']}", status=204)

    fetched = await portal.json("GET", f"{USERS}/{user['id']}")
    assert (fetched["groups"], fetched["effectiveRole"]) == ([], "Business User")


# -- Kyvos Manager ------------------------------------------------------------------------------


async def test_a_manager_says_so_in_about_under_its_own_context(
    make_portal: PortalFactory,
) -> None:
    manager = await make_portal(manager=True)

    response = await manager.client.get("/kyvosmanager/rest/about")

    assert await response.json() == {"product": "Kyvos Manager", "version": "2026.2"}


async def test_a_manager_records_every_login_attempt(make_portal: PortalFactory) -> None:
    manager = await make_portal(manager=True)

    form = {"username": "scim-gateway", "password": "anything"}
    await manager.client.post("/kyvosmanager/rest/login", data=form)

    log = await (await manager.client.get("/kyvosmanager/sim/requests")).json()
    assert log["logins"] == [
        {"username": "scim-gateway", "passwordGiven": True, "succeeded": False}
    ]
    assert log["counters"]["loginAttempts"] == 1


async def test_a_manager_serves_no_user_api(make_portal: PortalFactory) -> None:
    manager = await make_portal(manager=True)

    response = await manager.client.get("/kyvosmanager/rest/security/users")

    assert response.status == 404
    assert await response.json() == {"errorCode": "NOT_FOUND", "message": "Not Found"}


# -- request log --------------------------------------------------------------------------------


async def test_the_request_log_counts_calls_per_route_and_logins(portal: Portal) -> None:
    dana = await find_user_id(portal, DANA)
    await portal.json("GET", f"{USERS}/{dana}")

    log = await (await portal.client.get(portal.url("/sim/requests"))).json()

    assert log["counters"] == {
        "requests": 3,
        "loginAttempts": 1,
        "logins": 1,
        "calls": {
            "POST /rest/login": 1,
            "GET /rest/security/users": 1,
            "GET /rest/security/users/{id}": 1,
        },
    }
    assert log["requests"][1] == {
        "method": "GET",
        "path": "/kyvos/rest/security/users",
        "route": "/rest/security/users",
        "status": 200,
    }


async def test_reset_brings_back_the_seeded_portal(portal: Portal) -> None:
    await portal.create_user("temp@example.com")

    await portal.client.post(portal.url("/sim/reset"))

    assert sorted(u.user_name for u in portal.state.users.values()) == [DANA, "scim-gateway"]
    assert len(portal.state.sessions) == 0


async def test_bulk_seeding_adds_users_over_the_admin_api(portal: Portal) -> None:
    response = await portal.client.post(portal.url("/sim/users/seed"), json={"count": 1000})

    page = await portal.json("GET", USERS, params={"limit": 1})
    assert (await response.json(), page["total"]) == ({"added": 1000}, 1002)


# -- faults -------------------------------------------------------------------------------------


async def test_a_status_fault_answers_503_with_retry_after_and_does_nothing(
    portal: Portal,
) -> None:
    portal.state.faults.add(FaultRule("/rest/security/users", status=503, retry_after=7))

    response = await portal.call("POST", USERS, json={"userName": "no@example.com"})

    assert response.status == 503
    assert response.headers["Retry-After"] == "7"
    assert (await response.json())["errorCode"] == "SERVICE_UNAVAILABLE"
    assert portal.state.find_users(user_name="no@example.com")[0] == 0


async def test_a_429_fault_tells_when_to_retry(portal: Portal) -> None:
    portal.state.faults.add(FaultRule("/rest/security", status=429))

    response = await portal.call("GET", "/rest/security/roles")

    assert (response.status, response.headers["Retry-After"]) == (429, "1")


async def test_a_fault_fires_for_its_count_then_stops(portal: Portal) -> None:
    portal.state.faults.add(FaultRule("/rest/security/roles", count=2))

    statuses = [(await portal.call("GET", "/rest/security/roles")).status for _ in range(3)]

    assert statuses == [503, 503, 200]


async def test_a_fault_without_a_count_never_runs_out(portal: Portal) -> None:
    portal.state.faults.add(FaultRule("/rest/security/roles", count=None, status=500))

    statuses = [(await portal.call("GET", "/rest/security/roles")).status for _ in range(5)]

    assert statuses == [500] * 5


async def test_a_fault_for_one_method_leaves_the_others_alone(portal: Portal) -> None:
    portal.state.faults.add(FaultRule("/rest/security/users", method="post"))

    response = await portal.call("GET", USERS)

    assert response.status == 200
    assert len(portal.state.faults.rules) == 1


async def test_a_delay_fault_trips_the_client_timeout(portal: Portal) -> None:
    portal.state.faults.add(
        FaultRule("/rest/security/roles", action=FaultAction.DELAY, delay_seconds=0.5)
    )

    with pytest.raises(asyncio.TimeoutError):
        await portal.call("GET", "/rest/security/roles", timeout=aiohttp.ClientTimeout(total=0.05))


async def test_a_drop_fault_closes_the_connection_without_an_answer(portal: Portal) -> None:
    portal.state.faults.add(FaultRule("/rest/security/users", action=FaultAction.DROP))

    with pytest.raises(aiohttp.ServerDisconnectedError):
        await portal.call("POST", USERS, json={"userName": "dropped@example.com"})

    assert portal.state.find_users(user_name="dropped@example.com")[0] == 0
    assert portal.state.requests.entries[-1].status is None


async def test_an_after_commit_fault_creates_the_user_then_answers_503(portal: Portal) -> None:
    portal.state.faults.add(FaultRule("/rest/security/users", method="POST", after_commit=True))

    failed = await portal.call(
        "POST",
        USERS,
        json={"userName": "ghost@example.com", "firstLoginActions": {"roleName": "Designer"}},
    )

    found = await portal.json("GET", USERS, params={"userName": "ghost@example.com"})
    assert failed.status == 503
    assert found["users"][0]["role"] == "Designer"


async def test_an_after_commit_drop_deletes_then_hangs_up(portal: Portal) -> None:
    dana = await find_user_id(portal, DANA)
    portal.state.faults.add(
        FaultRule(f"/rest/security/users/{dana}", action=FaultAction.DROP, after_commit=True)
    )

    with pytest.raises(aiohttp.ServerDisconnectedError):
        await portal.call("DELETE", f"{USERS}/{dana}")

    assert dana not in portal.state.users


async def test_faults_are_managed_over_the_admin_api(portal: Portal) -> None:
    rule = {"pathPrefix": "/rest/security/groups", "status": 429, "retryAfter": 3, "count": 1}
    added = await portal.client.post(portal.url("/sim/faults"), json=rule)

    throttled = await portal.call("GET", GROUPS)
    await portal.client.post(portal.url("/sim/faults"), json=[rule, rule])
    cleared = await portal.client.delete(portal.url("/sim/faults"))
    served = await portal.call("GET", GROUPS)

    assert added.status == 201
    assert (throttled.status, throttled.headers["Retry-After"]) == (429, "3")
    assert (cleared.status, served.status) == (204, 200)


async def test_an_invalid_fault_rule_is_refused(portal: Portal) -> None:
    response = await portal.client.post(
        portal.url("/sim/faults"), json={"pathPrefix": "/rest", "action": "explode"}
    )

    assert response.status == 400
    assert (await response.json())["errorCode"] == "INVALID_FAULT"
