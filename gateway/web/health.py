"""Health and metrics endpoints for SREs and Kubernetes probes."""

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway.errors import GatewayError
from gateway.web.keys import PORTAL, STORE
from gateway.web.middleware import METRICS


def add_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)


async def healthz(request: web.Request) -> web.Response:
    """Alive: the process serves HTTP. Nothing outside it is asked."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Ready: the store answers and the portal session works; otherwise 503 and which failed."""
    checks: dict[str, str] = {}

    for name, probe in (("store", request.app[STORE].ping), ("portal", request.app[PORTAL].ping)):
        try:
            await probe()
            checks[name] = "ok"
        except GatewayError as error:
            checks[name] = f"failing: {type(error).__name__}"

    ready = all(state == "ok" for state in checks.values())
    return web.json_response(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status=200 if ready else 503,
    )


async def metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[METRICS].registry)

    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
