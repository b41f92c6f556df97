"""Test-only controls under `{context}/sim/`: faults, sessions, the request log, reset.

No session is needed here, and nothing here is logged or subject to faults, so tests can
arrange and inspect the portal without disturbing what they measure.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.simulator.errors import bad_request
from gateway.simulator.faults import FaultRule
from gateway.simulator.state import SIMULATOR_STATE


def admin_routes(context: str) -> list[web.RouteDef]:
    sim = f"{context}/sim"

    return [
        web.get(f"{sim}/faults", list_faults),
        web.post(f"{sim}/faults", add_faults),
        web.delete(f"{sim}/faults", clear_faults),
        web.post(f"{sim}/sessions/expire", expire_sessions),
        web.get(f"{sim}/requests", served_requests),
        web.delete(f"{sim}/requests", clear_requests),
        web.post(f"{sim}/users/seed", seed_users),
        web.post(f"{sim}/reset", reset),
    ]


async def list_faults(request: web.Request) -> web.Response:
    rules = request.app[SIMULATOR_STATE].faults.rules

    return web.json_response({"rules": [rule.to_json() for rule in rules]})


async def add_faults(request: web.Request) -> web.Response:
    """Add one rule (a JSON object) or several (a list), all validated before any is added."""
    body = await request.json()
    faults = request.app[SIMULATOR_STATE].faults

    items = body if isinstance(body, list) else [body]
    try:
        rules = [FaultRule.from_json(item) for item in items]
    except (TypeError, ValueError, AttributeError) as exc:
        raise bad_request("INVALID_FAULT", str(exc)) from exc
    for rule in rules:
        faults.add(rule)

    return web.json_response({"rules": [rule.to_json() for rule in faults.rules]}, status=201)


async def clear_faults(request: web.Request) -> web.Response:
    request.app[SIMULATOR_STATE].faults.clear()

    return web.Response(status=204)


async def expire_sessions(request: web.Request) -> web.Response:
    request.app[SIMULATOR_STATE].sessions.expire_all()

    return web.Response(status=204)


async def served_requests(request: web.Request) -> web.Response:
    log = request.app[SIMULATOR_STATE].requests

    body: dict[str, Any] = {
        "requests": [entry.to_json() for entry in log.entries],
        "counters": log.counters(),
        "logins": [
            {
                "username": attempt.username,
                "passwordGiven": attempt.password_given,
                "succeeded": attempt.succeeded,
            }
            for attempt in log.logins
        ],
    }
    return web.json_response(body)


async def clear_requests(request: web.Request) -> web.Response:
    request.app[SIMULATOR_STATE].requests.clear()

    return web.Response(status=204)


async def seed_users(request: web.Request) -> web.Response:
    """Bulk-add users for benchmarks: `{"count": 10000, "prefix": "seed"}`."""
    body = await request.json()
    count, prefix = body.get("count"), body.get("prefix", "seed")
    if not isinstance(count, int) or count < 0 or not isinstance(prefix, str):
        raise bad_request("INVALID_FIELD", "Give count (a non-negative integer) and a prefix.")

    added = request.app[SIMULATOR_STATE].seed_users(count, prefix=prefix)

    return web.json_response({"added": added}, status=201)


async def reset(request: web.Request) -> web.Response:
    request.app[SIMULATOR_STATE].reset()

    return web.Response(status=204)
