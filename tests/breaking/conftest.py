"""Fixtures for breaking the gateway: deployments with a short portal timeout, and two gateway
replicas sharing one PostgreSQL store in front of one simulated portal."""

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import event

from gateway.app import build_app
from gateway.simulator import SIMULATOR_STATE, SimulatorConfig, create_app
from gateway.web.keys import STORE
from tests.backends import require_postgres
from tests.conftest import SERVICE_USERNAME, Deployment, gateway_settings, make_credentials

StartDeployment = Callable[..., Awaitable[Deployment]]


@dataclass
class Replicas:
    """Two gateways on one PostgreSQL store, in front of one portal: two replicas."""

    first: Deployment
    second: Deployment

    @property
    def portal(self) -> Any:
        return self.first.portal


@pytest.fixture
def start(aiohttp_server: Any, aiohttp_client: Any, tmp_path: Path) -> StartDeployment:
    """Start a gateway and a simulated portal; keyword arguments override settings sections.
    `store_url` chooses the store; `portal_server` puts the gateway in front of a portal
    that is already running."""
    started = 0

    async def deployment(
        *, store_url: str | None = None, portal_server: TestServer | None = None, **overrides: Any
    ) -> Deployment:
        nonlocal started
        started += 1
        credentials = make_credentials()
        if portal_server is None:
            config = SimulatorConfig(
                service_username=SERVICE_USERNAME, service_password=credentials.portal_password
            )
            portal_server = await aiohttp_server(create_app(config))
        else:
            config = portal_server.app[SIMULATOR_STATE].config
            credentials.portal_password = config.service_password
        portal_url = str(portal_server.make_url("/kyvos"))
        store_url = store_url or f"sqlite+aiosqlite:///{tmp_path / f'gateway-{started}.db'}"

        settings = gateway_settings(credentials, portal_url, store_url, **overrides)
        gateway = await aiohttp_client(build_app(settings))

        state = portal_server.app[SIMULATOR_STATE]
        return Deployment(gateway, portal_server, state, settings, credentials)

    return deployment


@pytest.fixture
async def replicas(start: StartDeployment) -> Replicas:
    url = require_postgres()
    first = await start(store_url=url)
    second = await start(store_url=url, portal_server=first.portal_server)

    return Replicas(first, second)


@asynccontextmanager
async def read_only_store(deployment: Deployment) -> AsyncIterator[None]:
    """The gateway's SQLite store refuses every write (SQLITE_READONLY), as a full disk or a
    file system remounted read-only would; reads still work. The tests run as root, for whom
    file modes change nothing, so SQLite itself is told to refuse writes."""
    engine = deployment.gateway.app[STORE]._engine.sync_engine

    def refuse_writes(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA query_only = ON")
        cursor.close()

    event.listen(engine, "connect", refuse_writes)
    await deployment.gateway.app[STORE]._engine.dispose()
    try:
        yield
    finally:
        event.remove(engine, "connect", refuse_writes)
        await deployment.gateway.app[STORE]._engine.dispose()
