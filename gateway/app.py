"""Builds the aiohttp application: routes, middlewares, start-up and clean-up.

Long-lived parts (the portal client with its pooled connections and session, the store) are
opened by the application's lifecycle and closed with it; handlers reach them through typed
application keys.
"""

import asyncio
from collections.abc import AsyncIterator, Callable

import structlog
from aiohttp import web

from gateway.auth import endpoint as oauth
from gateway.auth.authenticator import Authenticator
from gateway.auth.throttle import FailureThrottle
from gateway.auth.tokens import TokenIssuer
from gateway.kyvos.calls import PortalCall
from gateway.kyvos.client import PortalClient
from gateway.observability.audit import Audit
from gateway.observability.logging import configure_logging
from gateway.observability.metrics import Metrics
from gateway.provisioning.context import Provisioning
from gateway.provisioning.groups import Groups
from gateway.provisioning.roles import unknown_rule_roles
from gateway.provisioning.users import Users
from gateway.settings import ConfigError, Settings
from gateway.store import Store
from gateway.web import health, scim_routes
from gateway.web.authentication import AUTHENTICATOR, authenticate
from gateway.web.keys import GROUPS, PORTAL, SETTINGS, STORE, USERS
from gateway.web.limits import LIMITS, RATE, RequestRate, limit_rate, read_body
from gateway.web.listener import (
    access_log_options,
    plain_http_warning,
    server_options,
    tls_context,
)
from gateway.web.middleware import METRICS, access_log, refuse_manager, scim_errors

logger = structlog.get_logger("gateway")


def build_app(settings: Settings, *, portal: PortalClient | None = None) -> web.Application:
    """The gateway as an aiohttp application; `portal` lets tests inject a client."""
    app = web.Application(
        middlewares=[access_log, scim_errors, refuse_manager, authenticate, limit_rate, read_body],
        client_max_size=settings.server.max_body_bytes,
    )
    metrics = Metrics()
    issuer = TokenIssuer(settings.auth, audience=settings.server.scim_base_url())
    throttle = FailureThrottle.from_settings(settings.auth.throttle)

    app[SETTINGS] = settings
    app[LIMITS] = settings.limits
    app[METRICS] = metrics
    app[AUTHENTICATOR] = Authenticator(settings.auth, issuer, throttle=throttle)
    app[PORTAL] = portal or PortalClient(settings.portal, on_call=_portal_metrics(metrics))
    app[STORE] = Store(settings.store.url)
    rate = RequestRate.from_settings(settings.limits)
    if rate is not None:
        app[RATE] = rate
    _add_provisioning(app, settings, Audit(metrics))

    scim_routes.add_routes(app)
    health.add_routes(app)
    if issuer.can_issue:
        oauth.add_routes(app, issuer, list(settings.auth.oauth_clients), throttle=throttle)
    app.cleanup_ctx.append(_lifecycle)

    return app


def _portal_metrics(metrics: Metrics) -> Callable[[PortalCall], None]:
    def observe(call: PortalCall) -> None:
        metrics.portal_calls.labels(route=call.route, status=str(call.status)).inc()
        metrics.portal_seconds.labels(route=call.route).observe(call.seconds)

    return observe


def _add_provisioning(app: web.Application, settings: Settings, audit: Audit) -> None:
    provisioning = Provisioning(
        portal=app[PORTAL],
        store=app[STORE],
        onboarding=settings.onboarding,
        service_account=settings.portal.username,
        forward_passwords=settings.portal.forward_passwords,
        base_url=settings.server.scim_base_url(),
        audit=audit,
        patch_max_operations=settings.limits.patch_max_operations,
        roles=settings.roles,
    )
    app[USERS] = Users(provisioning)
    app[GROUPS] = Groups(provisioning)


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    """Open the store and the portal session; refuse to start against a Kyvos Manager or with
    a default role, or a role rule, naming a role the portal does not have."""
    settings, store, portal = app[SETTINGS], app[STORE], app[PORTAL]

    await store.start()
    try:
        await portal.start()
        await _check_roles_exist(portal, settings)
        logger.info(
            "gateway_started",
            scim_base_url=settings.server.scim_base_url(),
            default_role=settings.onboarding.role_name,
        )
        yield
    finally:
        await portal.close()
        await store.close()


async def _check_roles_exist(portal: PortalClient, settings: Settings) -> None:
    roles = await portal.role_names()
    problems = unknown_rule_roles(settings.roles.rules, roles)
    if settings.onboarding.role_name not in roles:
        problems.insert(
            0,
            f"onboarding.roleName: the portal has no role {settings.onboarding.role_name!r}; "
            f"its roles are {', '.join(sorted(roles))}",
        )
    if problems:
        raise ConfigError(problems)


async def serve(settings: Settings) -> None:
    """Serve until cancelled; start-up errors (Manager target, unknown role) propagate."""
    configure_logging(settings.logging)
    tls = tls_context(settings.server)
    app = build_app(settings)
    runner = web.AppRunner(
        app, handler_cancellation=True, **access_log_options(), **server_options(settings.limits)
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.server.host, settings.server.port, ssl_context=tls)
        await site.start()
        if (warning := plain_http_warning(settings.server)) is not None:
            logger.warning("no_tls", detail=warning)
        logger.info(
            "listening", host=settings.server.host, port=settings.server.port, tls=tls is not None
        )
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
