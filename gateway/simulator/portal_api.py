"""The portal REST API of DESIGN.md section 4, served under `{context}/rest/`."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from gateway.simulator.config import SimulatorConfig
from gateway.simulator.errors import bad_request
from gateway.simulator.state import SIMULATOR_STATE, PortalGroup, PortalState, PortalUser

PORTAL_VERSION = "2026.2"

# Paths (relative to the context) that answer without a session.
PUBLIC_PATHS = frozenset({"/rest/login", "/rest/about"})


def portal_routes(config: SimulatorConfig) -> list[web.RouteDef]:
    """A Web Portal serves the whole API; a Manager only `about` and `login`."""
    rest = f"{config.context}/rest"
    routes = [
        web.get(f"{rest}/about", about),
        web.post(f"{rest}/login", login),
    ]
    if config.manager:
        return routes

    users = f"{rest}/security/users"
    groups = f"{rest}/security/groups"
    routes += [
        web.get(f"{rest}/security/authentication", authentication),
        web.get(f"{rest}/security/roles", roles),
        web.get(users, find_users),
        web.post(users, create_user),
        web.get(users + "/{id}", get_user),
        web.put(users + "/{id}", update_user),
        web.delete(users + "/{id}", delete_user),
        web.get(groups, find_groups),
        web.post(groups, create_group),
        web.get(groups + "/{id}", get_group),
        web.put(groups + "/{id}", update_group),
        web.delete(groups + "/{id}", delete_group),
        web.get(groups + "/{id}/members", list_members),
        web.post(groups + "/{id}/members", add_members),
        web.post(groups + "/{id}/members/remove", remove_members),
    ]

    return routes


# -- session and product ----------------------------------------------------------------------


async def about(request: web.Request) -> web.Response:
    manager = request.app[SIMULATOR_STATE].config.manager
    product = "Kyvos Manager" if manager else "Kyvos Web Portal"

    return web.json_response({"product": product, "version": PORTAL_VERSION})


async def login(request: web.Request) -> web.Response:
    """Form login; the session id comes back in XML, as the real portal answers."""
    form = await request.post()
    username, password = form.get("username"), form.get("password")

    session_id = request.app[SIMULATOR_STATE].log_in(
        username if isinstance(username, str) else None,
        password if isinstance(password, str) else None,
    )

    xml = f"<response><SUCCESS>{session_id}</SUCCESS></response>"
    return web.Response(text=xml, content_type="application/xml")


async def authentication(request: web.Request) -> web.Response:
    system = request.app[SIMULATOR_STATE].config.authentication_system

    return web.json_response({"authenticationSystem": system})


async def roles(request: web.Request) -> web.Response:
    names = request.app[SIMULATOR_STATE].role_names

    return web.json_response([{"name": name} for name in names])


# -- users ------------------------------------------------------------------------------------


async def find_users(request: web.Request) -> web.Response:
    state = request.app[SIMULATOR_STATE]
    offset, limit = _page(request, default_limit=100)

    total, users = state.find_users(
        user_name=request.query.get("userName"),
        email=request.query.get("email"),
        offset=offset,
        limit=limit,
    )

    return web.json_response({"total": total, "users": [user_json(state, u) for u in users]})


async def get_user(request: web.Request) -> web.Response:
    state = request.app[SIMULATOR_STATE]
    user = state.get_user(request.match_info["id"])

    return web.json_response(user_json(state, user))


async def create_user(request: web.Request) -> web.Response:
    state = request.app[SIMULATOR_STATE]
    user = state.create_user(await _json_object(request))

    return web.json_response(user_json(state, user), status=201)


async def update_user(request: web.Request) -> web.Response:
    state = request.app[SIMULATOR_STATE]
    user = state.update_user(request.match_info["id"], await _json_object(request))

    return web.json_response(user_json(state, user))


async def delete_user(request: web.Request) -> web.Response:
    request.app[SIMULATOR_STATE].delete_user(request.match_info["id"])

    return web.Response(status=204)


# -- groups and members -----------------------------------------------------------------------


async def find_groups(request: web.Request) -> web.Response:
    offset, limit = _page(request, default_limit=100)

    total, groups = request.app[SIMULATOR_STATE].find_groups(
        name=request.query.get("name"), offset=offset, limit=limit
    )

    return web.json_response({"total": total, "groups": [group_json(g) for g in groups]})


async def get_group(request: web.Request) -> web.Response:
    group = request.app[SIMULATOR_STATE].get_group(request.match_info["id"])

    return web.json_response(group_json(group))


async def create_group(request: web.Request) -> web.Response:
    group = request.app[SIMULATOR_STATE].create_group(await _json_object(request))

    return web.json_response(group_json(group), status=201)


async def update_group(request: web.Request) -> web.Response:
    state = request.app[SIMULATOR_STATE]
    group = state.update_group(request.match_info["id"], await _json_object(request))

    return web.json_response(group_json(group))


async def delete_group(request: web.Request) -> web.Response:
    request.app[SIMULATOR_STATE].delete_group(request.match_info["id"])

    return web.Response(status=204)


async def list_members(request: web.Request) -> web.Response:
    offset, limit = _page(request, default_limit=500)

    total, users = request.app[SIMULATOR_STATE].list_members(
        request.match_info["id"], offset=offset, limit=limit
    )

    members = [{"id": user.id, "userName": user.user_name} for user in users]
    return web.json_response({"total": total, "users": members})


async def add_members(request: web.Request) -> web.Response:
    body = await _json_object(request)

    request.app[SIMULATOR_STATE].add_members(request.match_info["id"], body.get("userIds"))

    return web.Response(status=204)


async def remove_members(request: web.Request) -> web.Response:
    body = await _json_object(request)

    request.app[SIMULATOR_STATE].remove_members(request.match_info["id"], body.get("userIds"))

    return web.Response(status=204)


# -- wire shapes ------------------------------------------------------------------------------


def user_json(state: PortalState, user: PortalUser) -> dict[str, Any]:
    """A user as served. `groups`, `effectiveRole`, `firstLoginActions`, `hasPassword` and
    `passwordSetCount` are read-only; the password itself is never served."""
    return {
        "id": user.id,
        "userName": user.user_name,
        "email": user.email,
        "firstName": user.first_name,
        "lastName": user.last_name,
        "authType": user.auth_type,
        "role": user.role,
        "effectiveRole": state.effective_role(user),
        "status": user.status,
        "description": user.description,
        "groups": list(user.groups),
        "firstLoginActions": user.first_login_actions,
        "hasPassword": user.password_set_count > 0,
        "passwordSetCount": user.password_set_count,
    }


def group_json(group: PortalGroup) -> dict[str, Any]:
    return {
        "id": group.id,
        "name": group.name,
        "roles": list(group.roles),
        "description": group.description,
        "memberCount": len(group.members),
    }


def _page(request: web.Request, *, default_limit: int) -> tuple[int, int]:
    return (
        _non_negative(request, "offset", 0),
        _non_negative(request, "limit", default_limit),
    )


def _non_negative(request: web.Request, name: str, default: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default

    if not raw.isdigit():
        raise bad_request("INVALID_PARAMETER", f"{name} must be a non-negative integer.")

    return int(raw)


async def _json_object(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise bad_request("INVALID_JSON", "The body is not valid JSON.") from exc

    if not isinstance(body, dict):
        raise bad_request("INVALID_JSON", "The body must be a JSON object.")

    return body
