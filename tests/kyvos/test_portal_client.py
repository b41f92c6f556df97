"""The portal client against the simulated portal, over real HTTP."""

import asyncio
from collections.abc import Callable, MutableMapping
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from pydantic import SecretStr
from structlog.testing import capture_logs

from gateway.kyvos.calls import current_calls, track_portal_calls
from gateway.kyvos.client import PortalClient
from gateway.kyvos.errors import (
    PortalAuthFailed,
    PortalConflict,
    PortalNotFound,
    PortalUnavailable,
    TargetIsManager,
)
from gateway.kyvos.records import PortalMember
from gateway.settings import PortalSettings
from gateway.simulator import (
    SIMULATOR_STATE,
    FaultAction,
    FaultRule,
    PortalState,
    SimulatorConfig,
    create_app,
)

SettingsFor = Callable[..., PortalSettings]

USERS = "/rest/security/users"
GROUPS = "/rest/security/groups"


def new_user(user_name: str) -> dict[str, Any]:
    return {
        "userName": user_name,
        "email": user_name,
        "firstName": "Ada",
        "lastName": "Lovelace",
        "firstLoginActions": {"roleName": "Business User"},
    }


def served(state: PortalState, call: str) -> int:
    return state.requests.calls[call]


def login_attempts(state: PortalState) -> int:
    return int(state.requests.counters()["loginAttempts"])


def retries(logs: list[MutableMapping[str, Any]]) -> list[MutableMapping[str, Any]]:
    return [entry for entry in logs if entry["event"] == "portal_retry"]


# -- session ------------------------------------------------------------------------------------


async def test_many_concurrent_calls_share_one_login(
    client: PortalClient, state: PortalState
) -> None:
    pages = await asyncio.gather(*(client.find_users(limit=1) for _ in range(50)))

    assert all(page.total == 2 for page in pages)
    assert login_attempts(state) == 1
    assert served(state, f"GET {USERS}") == 50


async def test_an_expired_session_is_renewed_once_for_twenty_concurrent_calls(
    client: PortalClient, state: PortalState
) -> None:
    user = await client.create_user(new_user("ada@example.com"))
    state.sessions.expire_all()

    found = await asyncio.gather(*(client.get_user(user.id) for _ in range(20)))

    assert {portal_user.id for portal_user in found} == {user.id}
    assert login_attempts(state) == 2


async def test_a_session_refused_right_after_a_new_login_raises_auth_failed(
    portal: TestServer, state: PortalState, settings_for: SettingsFor
) -> None:
    async with PortalClient(settings_for(portal)) as client:
        state.faults.add(FaultRule(USERS, method="GET", status=401, count=2))

        with pytest.raises(PortalAuthFailed) as refused:
            await client.find_users()

    assert refused.value.status == 401
    assert login_attempts(state) == 2


async def test_a_wrong_password_raises_auth_failed_naming_the_settings(
    portal: TestServer, state: PortalState, settings_for: SettingsFor
) -> None:
    wrong = "not-the-Passw0rd"
    right = settings_for(portal).password.get_secret_value()
    settings = settings_for(portal, password=SecretStr(wrong))

    with pytest.raises(PortalAuthFailed) as refused:
        async with PortalClient(settings):
            pass

    assert "portal.username and portal.password" in refused.value.message
    assert wrong not in str(refused.value)
    assert right not in str(refused.value)
    assert login_attempts(state) == 1


async def test_calls_before_start_still_check_the_target_before_logging_in(
    portal: TestServer, state: PortalState, settings_for: SettingsFor
) -> None:
    client = PortalClient(settings_for(portal))
    try:
        await client.role_names()
    finally:
        await client.close()

    first_two = [entry.route for entry in list(state.requests.entries)[:2]]
    assert first_two == ["/rest/about", "/rest/login"]


# -- never a Kyvos Manager ----------------------------------------------------------------------


async def test_a_manager_url_is_refused_before_any_request(
    aiohttp_server: Any, settings_for: SettingsFor
) -> None:
    manager = create_app(SimulatorConfig(manager=True, service_password="manager-Passw0rd"))
    server = await aiohttp_server(manager)
    # Settings refuse a Manager URL at load; copy them unchecked to reach the client's own check.
    url = str(server.make_url("/kyvosmanager"))
    settings = settings_for(server).model_copy(update={"url": url})

    with pytest.raises(TargetIsManager):
        async with PortalClient(settings):
            pass

    assert manager[SIMULATOR_STATE].requests.counters()["requests"] == 0


async def test_a_manager_answering_about_is_refused_before_any_login(
    aiohttp_server: Any, settings_for: SettingsFor
) -> None:
    # A Manager behind a path that does not give it away: only `about` tells.
    manager = create_app(
        SimulatorConfig(manager=True, context="/admin", service_password="manager-Passw0rd")
    )
    server = await aiohttp_server(manager)

    with pytest.raises(TargetIsManager):
        async with PortalClient(settings_for(server, context="/admin")):
            pass

    counters = manager[SIMULATOR_STATE].requests.counters()
    assert counters["loginAttempts"] == 0
    assert counters["calls"] == {"GET /rest/about": 1}


# -- retries ------------------------------------------------------------------------------------


async def test_two_503s_then_success_is_retried_to_success(
    client: PortalClient, state: PortalState
) -> None:
    state.faults.add(FaultRule(USERS, method="GET", status=503, count=2))

    with capture_logs() as logs:
        page = await client.find_users(limit=1)

    assert page.total == 2
    assert served(state, f"GET {USERS}") == 3
    assert [(entry["attempt"], entry["cause"]) for entry in retries(logs)] == [
        (1, "503"),
        (2, "503"),
    ]


async def test_a_retry_is_logged_with_route_template_and_no_query_or_address(
    client: PortalClient, state: PortalState
) -> None:
    state.faults.add(FaultRule(USERS, method="GET", status=503))

    with capture_logs() as logs:
        await client.find_users(email="dana.whitfield@example.com")

    assert retries(logs) == [
        {
            "event": "portal_retry",
            "log_level": "warning",
            "logger": "kyvos.portal",
            "attempt": 1,
            "wait_seconds": 0.01,
            "cause": "503",
            "method": "GET",
            "route": USERS,
        }
    ]
    assert "example.com" not in repr(logs)


async def test_a_429_waits_as_retry_after_says(
    portal: TestServer, state: PortalState, settings_for: SettingsFor
) -> None:
    settings = settings_for(portal, backoff_max_seconds=5.0)
    state.faults.add(FaultRule(USERS, method="GET", status=429, retry_after=0))

    async with PortalClient(settings) as client:
        with capture_logs() as logs:
            await client.find_users()

    assert [(e["cause"], e["wait_seconds"]) for e in retries(logs)] == [("429", 0.0)]


async def test_a_long_retry_after_is_capped_by_backoff_max(
    client: PortalClient, state: PortalState
) -> None:
    state.faults.add(FaultRule(USERS, method="GET", status=429, retry_after=120))

    with capture_logs() as logs:
        await client.find_users()

    assert [(e["cause"], e["wait_seconds"]) for e in retries(logs)] == [("429", 0.01)]


async def test_a_dropped_connection_on_a_read_is_retried(
    client: PortalClient, state: PortalState
) -> None:
    user = await client.create_user(new_user("ada@example.com"))
    state.faults.add(FaultRule(f"{USERS}/", method="GET", action=FaultAction.DROP))

    with capture_logs() as logs:
        found = await client.get_user(user.id)

    assert found == user
    assert served(state, f"GET {USERS}/{{id}}") == 2
    assert len(retries(logs)) == 1


async def test_exhausted_retries_raise_unavailable_with_the_portals_retry_after(
    client: PortalClient, state: PortalState
) -> None:
    state.faults.add(FaultRule(USERS, method="GET", status=503, retry_after=30, count=None))

    with pytest.raises(PortalUnavailable) as unavailable:
        await client.find_users()

    assert (unavailable.value.status, unavailable.value.retry_after) == (503, 30.0)
    assert unavailable.value.code == "SERVICE_UNAVAILABLE"
    assert isinstance(unavailable.value.__cause__, PortalUnavailable)
    assert served(state, f"GET {USERS}") == 3


async def test_a_portal_that_stays_down_raises_unavailable(
    portal: TestServer, settings_for: SettingsFor
) -> None:
    settings = settings_for(portal)
    await portal.close()

    with pytest.raises(PortalUnavailable) as unavailable:
        async with PortalClient(settings):
            pass

    assert "3 attempt(s)" in unavailable.value.message


# -- creations made safe to repeat --------------------------------------------------------------


async def test_a_create_that_failed_after_commit_returns_the_one_user_created(
    client: PortalClient, state: PortalState
) -> None:
    state.faults.add(FaultRule(USERS, method="POST", status=503, after_commit=True))

    created = await client.create_user(new_user("ada@example.com"))

    assert created.user_name == "ada@example.com"
    assert (await client.find_users(user_name="ada@example.com")).items == [created]
    assert served(state, f"POST {USERS}") == 1


async def test_a_create_whose_connection_dropped_after_commit_creates_exactly_one_user(
    client: PortalClient, state: PortalState
) -> None:
    state.faults.add(FaultRule(USERS, method="POST", action=FaultAction.DROP, after_commit=True))

    created = await client.create_user(new_user("ada@example.com"))

    assert (await client.find_users(user_name="ada@example.com")).items == [created]


async def test_a_create_that_timed_out_after_commit_returns_the_created_user(
    portal: TestServer, state: PortalState, settings_for: SettingsFor
) -> None:
    settings = settings_for(portal, timeout_seconds=0.2)
    state.faults.add(
        FaultRule(
            USERS, method="POST", action=FaultAction.DELAY, delay_seconds=1.0, after_commit=True
        )
    )

    async with PortalClient(settings) as client:
        created = await client.create_user(new_user("ada@example.com"))

    assert state.users[created.id].user_name == "ada@example.com"
    assert served(state, f"POST {USERS}") == 1


async def test_a_create_refused_before_commit_is_sent_again(
    client: PortalClient, state: PortalState
) -> None:
    state.faults.add(FaultRule(USERS, method="POST", status=503))

    created = await client.create_user(new_user("ada@example.com"))

    assert state.users[created.id].user_name == "ada@example.com"
    assert served(state, f"POST {USERS}") == 2


async def test_a_taken_user_name_raises_conflict_without_retrying(
    client: PortalClient, state: PortalState
) -> None:
    with pytest.raises(PortalConflict) as conflict:
        await client.create_user(new_user("Dana.Whitfield@example.com"))

    assert conflict.value.code == "USER_EXISTS"
    assert served(state, f"POST {USERS}") == 1


async def test_a_group_create_that_failed_after_commit_returns_the_created_group(
    client: PortalClient, state: PortalState
) -> None:
    state.faults.add(FaultRule(GROUPS, method="POST", status=500, after_commit=True))

    created = await client.create_group({"name": "Analysts", "roles": ["Designer"]})

    assert (created.name, created.roles, created.member_count) == ("Analysts", ("Designer",), 0)
    assert len(state.groups) == 1


# -- deletes ------------------------------------------------------------------------------------


async def test_a_delete_whose_retry_finds_nothing_counts_as_done(
    client: PortalClient, state: PortalState
) -> None:
    user = await client.create_user(new_user("ada@example.com"))
    state.faults.add(FaultRule(f"{USERS}/", method="DELETE", status=503, after_commit=True))

    await client.delete_user(user.id)

    assert user.id not in state.users
    assert served(state, f"DELETE {USERS}/{{id}}") == 2


async def test_deleting_a_missing_user_raises_not_found(client: PortalClient) -> None:
    with pytest.raises(PortalNotFound) as missing:
        await client.delete_user("no-such-user")

    assert (missing.value.status, missing.value.code) == (404, "USER_NOT_FOUND")


# -- users, groups and members ------------------------------------------------------------------


async def test_a_user_is_found_by_user_name_ignoring_case(client: PortalClient) -> None:
    created = await client.create_user(new_user("Ada@Example.com"))

    page = await client.find_users(user_name="ada@example.com")

    assert page.total == 1
    assert page.items == [created]


async def test_a_user_is_updated_and_read_back(client: PortalClient) -> None:
    created = await client.create_user(new_user("ada@example.com"))

    updated = await client.update_user(created.id, {"status": "INACTIVE", "lastName": "King"})

    assert (updated.status, updated.last_name) == ("INACTIVE", "King")
    assert await client.get_user(created.id) == updated


async def test_members_are_added_and_removed_by_delta(
    client: PortalClient, state: PortalState
) -> None:
    ada = await client.create_user(new_user("ada@example.com"))
    grace = await client.create_user(new_user("grace@example.com"))
    group = await client.create_group({"name": "Analysts", "roles": []})

    await client.add_members(group.id, [ada.id, grace.id])
    await client.remove_members(group.id, [ada.id])

    members = await client.list_members(group.id)
    assert members.total == 1
    assert members.items == [PortalMember(id=grace.id, user_name="grace@example.com")]
    assert (await client.get_group(group.id)).member_count == 1
    assert served(state, f"GET {GROUPS}/{{id}}/members") == 1


async def test_member_changes_are_retried_after_a_dropped_connection(
    client: PortalClient, state: PortalState
) -> None:
    ada = await client.create_user(new_user("ada@example.com"))
    group = await client.create_group({"name": "Analysts", "roles": []})
    state.faults.add(
        FaultRule(f"{GROUPS}/", method="POST", action=FaultAction.DROP, after_commit=True)
    )

    await client.add_members(group.id, [ada.id])

    assert (await client.get_user(ada.id)).groups == (group.id,)


async def test_an_empty_member_change_makes_no_call(
    client: PortalClient, state: PortalState
) -> None:
    group = await client.create_group({"name": "Analysts", "roles": []})

    await client.add_members(group.id, [])
    await client.remove_members(group.id, [])

    assert served(state, f"POST {GROUPS}/{{id}}/members") == 0
    assert served(state, f"POST {GROUPS}/{{id}}/members/remove") == 0


async def test_groups_are_found_updated_and_deleted(client: PortalClient) -> None:
    group = await client.create_group({"name": "Analysts", "roles": []})

    updated = await client.update_group(group.id, {"description": "Reads cubes"})
    found = await client.find_groups(name="analysts")
    await client.delete_group(group.id)

    assert found.items == [updated]
    assert updated.description == "Reads cubes"
    assert (await client.find_groups()).total == 0


# -- portal facts -------------------------------------------------------------------------------


async def test_the_portal_describes_itself(client: PortalClient) -> None:
    assert await client.about() == {"product": "Kyvos Web Portal", "version": "2026.2"}
    assert await client.authentication_system() == "NATIVE"
    assert await client.role_names() == ["Administrator", "Designer", "Business User"]
    await client.ping()


async def test_ping_is_not_retried(client: PortalClient, state: PortalState) -> None:
    state.faults.add(FaultRule("/rest/security/authentication", status=503))

    with pytest.raises(PortalUnavailable):
        await client.ping()

    assert served(state, "GET /rest/security/authentication") == 1


# -- calls made for the current request ---------------------------------------------------------


async def test_the_calls_of_a_request_are_tracked_with_route_and_status(
    client: PortalClient, state: PortalState
) -> None:
    state.faults.add(FaultRule(USERS, method="GET", status=503))

    with track_portal_calls():
        await client.find_users(user_name="dana.whitfield@example.com")
        calls = current_calls()

    assert [(call.method, call.route, call.status) for call in calls] == [
        ("GET", USERS, 503),
        ("GET", USERS, 200),
    ]
    assert all(call.seconds >= 0 for call in calls)
    assert current_calls() == []


async def test_every_exchange_is_reported_to_the_call_observer(
    portal: TestServer, settings_for: SettingsFor
) -> None:
    observed: list[tuple[str, int | None]] = []

    async with PortalClient(
        settings_for(portal), on_call=lambda call: observed.append((call.route, call.status))
    ) as client:
        await client.role_names()

    assert observed == [
        ("/rest/about", 200),
        ("/rest/login", 200),
        ("/rest/security/roles", 200),
    ]
