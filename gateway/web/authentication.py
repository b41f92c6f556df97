"""The authentication middleware: every SCIM request names its caller, or gets 401."""

import structlog
from aiohttp import web

from gateway.auth.authenticator import Authenticator
from gateway.scim.errors import TooManyRequests, Unauthorized
from gateway.web.limits import PRINCIPAL
from gateway.web.middleware import METRICS, Handler
from gateway.web.scim_routes import SCIM_PREFIX

AUTHENTICATOR: web.AppKey[Authenticator] = web.AppKey("authenticator", Authenticator)


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Only SCIM endpoints need credentials; health, metrics and the token endpoint do not."""
    if not request.path.startswith(SCIM_PREFIX):
        return await handler(request)

    try:
        principal = request.app[AUTHENTICATOR].authenticate(
            request.headers.getall("Authorization", []), source=request.remote
        )
    except (Unauthorized, TooManyRequests):
        request.app[METRICS].auth_failures.inc()
        raise
    request[PRINCIPAL] = principal
    structlog.contextvars.bind_contextvars(client_id=principal.client_id, auth=principal.method)

    return await handler(request)
