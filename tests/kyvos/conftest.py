"""A simulated Kyvos Web Portal over real HTTP, and a portal client pointed at it."""

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from pydantic import SecretStr

from gateway.kyvos.client import PortalClient
from gateway.settings import PortalSettings
from gateway.simulator import SIMULATOR_STATE, PortalState, SimulatorConfig, create_app

SERVICE_USERNAME = "scim-gateway"
SERVICE_PASSWORD = "s3rvice-Passw0rd-for-tests"

SettingsFor = Callable[..., PortalSettings]


def portal_settings(
    server: TestServer, *, context: str = "/kyvos", **changes: Any
) -> PortalSettings:
    """Settings for the client under test: short back-off, so retries cost no real time."""
    values: dict[str, Any] = {
        "url": str(server.make_url(context)),
        "username": SERVICE_USERNAME,
        "password": SecretStr(SERVICE_PASSWORD),
        "timeout_seconds": 5.0,
        "max_attempts": 3,
        "backoff_max_seconds": 0.01,
    }

    return PortalSettings(**(values | changes))


@pytest.fixture
def settings_for() -> SettingsFor:
    """`settings_for(server, **changes)`: client settings pointed at a simulated portal."""
    return portal_settings


@pytest.fixture
async def portal(aiohttp_server: Any) -> TestServer:
    app = create_app(
        SimulatorConfig(service_username=SERVICE_USERNAME, service_password=SERVICE_PASSWORD)
    )

    server: TestServer = await aiohttp_server(app)
    return server


@pytest.fixture
def state(portal: TestServer) -> PortalState:
    return portal.app[SIMULATOR_STATE]


@pytest.fixture
async def client(portal: TestServer) -> AsyncIterator[PortalClient]:
    async with PortalClient(portal_settings(portal)) as started:
        yield started
