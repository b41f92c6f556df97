"""Health, readiness and metrics: for SREs and probes, with no SCIM credentials needed."""

from typing import Any

from tests.conftest import Deployment


async def get(deployment: Deployment, path: str) -> tuple[int, Any, str]:
    async with deployment.gateway.get(path) as response:
        text = await response.text()
        is_json = response.content_type == "application/json"
        return response.status, (await response.json() if is_json else text), text


async def test_alive_without_credentials(deployment: Deployment) -> None:
    status, body, _ = await get(deployment, "/healthz")

    assert (status, body) == (200, {"status": "ok"})


async def test_ready_when_store_and_portal_answer(deployment: Deployment) -> None:
    status, body, _ = await get(deployment, "/readyz")

    assert (status, body) == (200, {"status": "ready", "checks": {"store": "ok", "portal": "ok"}})


async def test_not_ready_naming_the_portal_when_its_port_is_closed(
    deployment: Deployment,
) -> None:
    await deployment.portal_server.close()

    status, body, _ = await get(deployment, "/readyz")

    assert status == 503
    assert body == {
        "status": "not ready",
        "checks": {"store": "ok", "portal": body["checks"]["portal"]},
    }
    assert body["checks"]["portal"].startswith("failing")


async def test_alive_while_the_portal_is_down(deployment: Deployment) -> None:
    await deployment.portal_server.close()

    status, body, _ = await get(deployment, "/healthz")

    assert (status, body) == (200, {"status": "ok"})


async def test_metrics_count_scim_requests_by_route_template(deployment: Deployment) -> None:
    await deployment.scim("GET", "/Users", params={"filter": 'userName eq "a@example.com"'})
    await deployment.scim("GET", "/Users/no-such-id")

    status, _, text = await get(deployment, "/metrics")

    assert status == 200
    assert 'scim_requests_total{method="GET",route="/scim/v2/Users",status="200"} 1.0' in text
    assert 'scim_requests_total{method="GET",route="/scim/v2/Users/{id}",status="404"} 1.0' in text
    assert "a@example.com" not in text and "no-such-id" not in text
