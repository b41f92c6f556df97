"""The per-request record of portal calls."""

import asyncio

from gateway.kyvos.calls import PortalCall, current_calls, record_call, track_portal_calls

CALL = PortalCall(method="GET", route="/rest/security/users", status=200, seconds=0.01)


def test_calls_outside_a_tracked_block_are_not_kept() -> None:
    record_call(CALL)

    assert current_calls() == []


def test_a_tracked_block_sees_its_own_calls_only() -> None:
    with track_portal_calls() as outer:
        record_call(CALL)
        with track_portal_calls() as inner:
            record_call(CALL)
        record_call(CALL)

    assert (len(outer), len(inner)) == (2, 1)


async def test_tasks_started_in_a_request_add_to_its_calls() -> None:
    async def one_call() -> None:
        record_call(CALL)

    with track_portal_calls() as calls:
        await asyncio.gather(one_call(), one_call())

    assert calls == [CALL, CALL]
