"""Middlewares: request context and access log, error rendering, Kyvos Manager refusal.

Order, outermost first: `access_log` (binds the request id, times the request, writes the one
`access` event) -> `scim_errors` (the only place errors become SCIM bodies) -> the handler.
A request the HTTP parser refuses never reaches them; `ParserRefusalLog` writes its event.
"""

import re
import time
import uuid
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from gateway.errors import GatewayError
from gateway.kyvos.calls import track_portal_calls
from gateway.kyvos.target import names_manager
from gateway.observability.metrics import Metrics
from gateway.scim import errors as scim
from gateway.web.errors import to_scim_error
from gateway.web.media import scim_json

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

METRICS: web.AppKey[Metrics] = web.AppKey("metrics", Metrics)
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
UNMATCHED_ROUTE = "unmatched"
UNPARSED_ROUTE = "unparsed"
ACCESS_LOGGED: web.RequestKey[bool] = web.RequestKey("access_logged", bool)

logger = structlog.get_logger("access")
error_logger = structlog.get_logger("gateway.errors")


@web.middleware
async def access_log(request: web.Request, handler: Handler) -> web.StreamResponse:
    """One `access` event per request, with the route template, never the raw query string."""
    request_id = _request_id(request)
    request[ACCESS_LOGGED] = True
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=request_id)
    started = time.perf_counter()

    with track_portal_calls() as portal_calls:
        response = await handler(request)

    elapsed = time.perf_counter() - started
    route = _route_template(request)
    response.headers["X-Request-Id"] = request_id
    _observe(request, route, response.status, elapsed)
    logger.info(
        "access",
        method=request.method,
        route=route,
        status=response.status,
        duration_ms=round(elapsed * 1000, 2),
        portal_calls=len(portal_calls),
        portal_ms=round(sum(call.seconds for call in portal_calls) * 1000, 2),
        remote=request.remote,
    )
    structlog.contextvars.clear_contextvars()

    return response


class ParserRefusalLog(AbstractAccessLogger):
    """The `access` event of a request that never reached the application: aiohttp's HTTP
    parser refused it (a plain-text 400). It names no path or header, which may hold the very
    bytes that were refused: a token, an e-mail address."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        if request.get(ACCESS_LOGGED):
            return

        logger.info(
            "access",
            method=request.method,
            route=UNPARSED_ROUTE,
            status=response.status,
            duration_ms=round(time * 1000, 2),
            portal_calls=0,
            portal_ms=0,
            remote=request.remote,
            request_id=uuid.uuid4().hex,
        )


@web.middleware
async def scim_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every error into a SCIM error body; expected ones quietly, the rest with a trace."""
    try:
        return await handler(request)
    except GatewayError as error:
        failure = to_scim_error(error)
        _log_expected(failure, error)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        failure = _from_http_exception(error)
    except Exception:
        error_logger.exception("unexpected_error", path_template=_route_template(request))
        failure = scim.InternalError(
            "The gateway failed unexpectedly. Quote the X-Request-Id header of this answer "
            "to the gateway's operator."
        )

    return scim_json(failure.body(), status=failure.status, headers=failure.headers)


@web.middleware
async def refuse_manager(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A request that names a Kyvos Manager is refused: only the Web Portal is a valid target."""
    if names_manager(request.path):
        raise scim.Forbidden(
            "This gateway provisions the Kyvos Web Portal only; a Kyvos Manager "
            "(/kyvosmanager) is never a valid target. Point the IdP at the gateway's SCIM base "
            "URL, which ends in /scim/v2."
        )

    return await handler(request)


def _request_id(request: web.Request) -> str:
    sent = request.headers.get("X-Request-Id", "")

    return sent if REQUEST_ID.match(sent) else uuid.uuid4().hex


def _route_template(request: web.Request) -> str:
    resource = request.match_info.route.resource
    if resource is None:
        return UNMATCHED_ROUTE

    return resource.canonical


def _observe(request: web.Request, route: str, status: int, elapsed: float) -> None:
    metrics = request.app.get(METRICS)
    if metrics is None:
        return

    metrics.requests.labels(method=request.method, route=route, status=str(status)).inc()
    metrics.request_seconds.labels(method=request.method, route=route).observe(elapsed)


def _log_expected(failure: scim.ScimError, cause: GatewayError) -> None:
    level = "warning" if failure.status >= 500 else "info"
    getattr(error_logger, level)(
        "request_failed",
        status=failure.status,
        scim_type=failure.scim_type,
        error=type(cause).__name__,
    )


def _from_http_exception(error: web.HTTPException) -> scim.ScimError:
    """aiohttp's own refusals (no route, wrong method, body too large) in SCIM form."""
    match error.status:
        case 404:
            return scim.NotFound("No SCIM endpoint at this path; the base URL ends in /scim/v2.")
        case 405:
            allowed = error.headers.get("Allow", "")
            return scim.MethodNotAllowed(
                f"This endpoint does not accept that HTTP method; send one of: {allowed}.",
                headers={"Allow": allowed} if allowed else None,
            )
        case 413:
            return scim.PayloadTooLarge(
                "The request body is larger than the gateway accepts (server.max_body_bytes)."
            )

    return scim.BadRequest(error.reason or "The request was refused.")
