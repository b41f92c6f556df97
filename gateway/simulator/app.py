"""The simulated Kyvos Web Portal (or Kyvos Manager) as an aiohttp application.

Every request passes, outermost first: the request log, fault injection, error rendering,
then the session check. Test controls under `{context}/sim/` skip the log and the faults.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

from aiohttp import web
from aiohttp.typedefs import Handler

from gateway.simulator.admin_api import admin_routes
from gateway.simulator.config import SimulatorConfig
from gateway.simulator.errors import PortalRefusal
from gateway.simulator.faults import FaultAction, FaultRule
from gateway.simulator.portal_api import PUBLIC_PATHS, portal_routes
from gateway.simulator.state import SIMULATOR_STATE, Clock, PortalState

__all__ = ["SIMULATOR_STATE", "SimulatorConfig", "create_app"]

logger = logging.getLogger("gateway.simulator")

UNMATCHED_ROUTE = "<unmatched>"

_FAULT_ERROR_CODES = {
    429: "TOO_MANY_REQUESTS",
    500: "INTERNAL_ERROR",
    503: "SERVICE_UNAVAILABLE",
}

_HTTP_ERROR_CODES = {
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
}


def create_app(config: SimulatorConfig, *, clock: Clock = time.monotonic) -> web.Application:
    """Build the portal; `clock` (monotonic seconds) lets tests age sessions without sleeping."""
    app = web.Application(
        middlewares=[record_request, inject_faults, render_errors, require_session]
    )
    app[SIMULATOR_STATE] = PortalState(config, clock=clock)

    app.add_routes(portal_routes(config))
    app.add_routes(admin_routes(config.context))

    return app


def _relative_path(request: web.Request) -> str:
    """The request path below the web context (the form fault rules and routes are given in)."""
    context = request.app[SIMULATOR_STATE].config.context
    path = request.path

    return path[len(context) :] if path.startswith(context + "/") else path


def _is_admin(request: web.Request) -> bool:
    return _relative_path(request).startswith("/sim/")


def _route_template(request: web.Request) -> str:
    """`/rest/security/users/{id}` rather than the raw path, for counting calls per route."""
    resource = request.match_info.route.resource
    if request.match_info.http_exception is not None or resource is None:
        return UNMATCHED_ROUTE

    context = request.app[SIMULATOR_STATE].config.context
    return resource.canonical.removeprefix(context)


@web.middleware
async def record_request(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Log method, path (never the query: it carries e-mail addresses), route and status."""
    if _is_admin(request):
        return await handler(request)

    status: int | None = None
    try:
        response = await handler(request)
        status = None if _dropped(request) else response.status
        return response
    finally:
        request.app[SIMULATOR_STATE].requests.record(
            request.method, request.path, _route_template(request), status
        )


@web.middleware
async def inject_faults(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Misbehave as the first matching fault rule says, before or after the real operation."""
    rule = None
    if not _is_admin(request):
        faults = request.app[SIMULATOR_STATE].faults
        rule = faults.take(request.method, _relative_path(request))
    if rule is None:
        return await handler(request)

    committed = await handler(request) if rule.after_commit else None

    if rule.action is FaultAction.DELAY:
        await asyncio.sleep(rule.delay_seconds)
        return committed if committed is not None else await handler(request)

    if rule.action is FaultAction.DROP:
        _drop(request)
        return web.Response(status=503)

    return _fault_response(rule)


def _fault_response(rule: FaultRule) -> web.Response:
    error_code = _FAULT_ERROR_CODES.get(rule.status, "SIMULATED_FAULT")
    headers = {}
    if rule.status in (429, 503) and rule.retry_after is not None:
        headers["Retry-After"] = str(rule.retry_after)

    body = {"errorCode": error_code, "message": "Simulated fault; try again later."}
    return web.json_response(body, status=rule.status, headers=headers)


def _drop(request: web.Request) -> None:
    """Close the connection: the client sees it end with no answer at all."""
    if request.transport is not None:
        request.transport.close()


def _dropped(request: web.Request) -> bool:
    return request.transport is None or request.transport.is_closing()


@web.middleware
async def render_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error leaves as the portal's JSON `{"errorCode", "message"}`."""
    try:
        return await handler(request)
    except PortalRefusal as refusal:
        return web.json_response(refusal.body(), status=refusal.status, headers=refusal.headers)
    except json.JSONDecodeError:
        body = {"errorCode": "INVALID_JSON", "message": "The body is not valid JSON."}
        return web.json_response(body, status=400)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _HTTP_ERROR_CODES.get(exc.status, "HTTP_ERROR")
        body = {"errorCode": code, "message": exc.reason}
        return web.json_response(body, status=exc.status, headers=_allow_header(exc))
    except Exception:
        logger.exception("simulated portal failed on %s %s", request.method, request.path)
        body = {"errorCode": "INTERNAL_ERROR", "message": "Unexpected error in the simulator."}
        return web.json_response(body, status=500)


def _allow_header(exc: web.HTTPException) -> dict[str, str]:
    allow = exc.headers.get("Allow")

    return {"Allow": allow} if allow else {}


@web.middleware
async def require_session(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every portal route but `login` and `about` needs a live `sessionid` header."""
    path = _relative_path(request)
    needs_session = (
        path.startswith("/rest/")
        and path not in PUBLIC_PATHS
        and request.match_info.http_exception is None
    )
    if needs_session:
        request.app[SIMULATOR_STATE].sessions.touch(request.headers.get("sessionid"))

    return await handler(request)
