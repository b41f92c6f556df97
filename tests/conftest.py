"""Fixtures that start the real parts: the simulated Kyvos Web Portal and the gateway, both
serving real HTTP on loopback, with a real SQLite (or PostgreSQL) store."""

import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.engine import make_url

from gateway.app import build_app
from gateway.auth.secrets import digest, new_secret
from gateway.settings import Settings, load_settings
from gateway.simulator import SIMULATOR_STATE, PortalState, SimulatorConfig, create_app
from tests.backends import postgres_problem, postgres_url, require_postgres

SERVICE_USERNAME = "scim-gateway"
SIGNING_KEY = "test-signing-key-0123456789-0123456789-abcdef"


@dataclass
class Credentials:
    basic_username: str
    basic_password: str
    bearer_token: str
    client_id: str
    client_secret: str
    portal_password: str

    @property
    def basic_header(self) -> str:
        pair = f"{self.basic_username}:{self.basic_password}".encode()
        return "Basic " + base64.b64encode(pair).decode()


@dataclass
class Deployment:
    """A running gateway in front of a running simulated portal."""

    gateway: TestClient[web.Request, web.Application]
    portal_server: TestServer
    portal: PortalState
    settings: Settings
    credentials: Credentials

    @property
    def scim_url(self) -> str:
        return str(self.gateway.make_url("/scim/v2"))

    @property
    def portal_url(self) -> str:
        return str(self.portal_server.make_url("/kyvos"))

    async def scim(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any, Any]:
        """Send a SCIM request with Basic auth; answer (status, JSON body or None, headers)."""
        headers = {"Authorization": self.credentials.basic_header, **kwargs.pop("headers", {})}
        async with self.gateway.request(
            method, f"/scim/v2{path}", headers=headers, **kwargs
        ) as response:
            text = await response.text()
            body = await response.json(content_type=None) if text else None
            return response.status, body, response.headers


def make_credentials() -> Credentials:
    return Credentials(
        basic_username="okta",
        basic_password=new_secret(),
        bearer_token=new_secret(),
        client_id="entra",
        client_secret=new_secret(),
        portal_password=new_secret(),
    )


def gateway_settings(
    credentials: Credentials, portal_url: str, store_url: str, **overrides: Any
) -> Settings:
    values: dict[str, Any] = {
        "server": {"public_base_url": "http://gateway.test/scim/v2"},
        "portal": {
            "url": portal_url,
            "username": SERVICE_USERNAME,
            "password": credentials.portal_password,
            "timeout_seconds": 5,
            "max_attempts": 3,
            "backoff_max_seconds": 0.05,
        },
        "store": {"url": store_url},
        "auth": {
            "basic": [
                {
                    "username": credentials.basic_username,
                    "password_sha256": digest(credentials.basic_password),
                }
            ],
            "bearer": [{"name": "okta-header", "token_sha256": digest(credentials.bearer_token)}],
            "oauth_clients": [
                {
                    "client_id": credentials.client_id,
                    "secret_sha256": digest(credentials.client_secret),
                }
            ],
            "jwt_signing_key": SIGNING_KEY,
        },
    }
    for section, changes in overrides.items():
        values[section] = {**values.get(section, {}), **changes}

    return load_settings(overrides=values)


@pytest.fixture(params=["sqlite"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The gateway's store: a SQLite file; PostgreSQL where a test asks for both."""
    if request.param == "postgres":
        return require_postgres()

    return f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"


@pytest.fixture
def simulator_config(request: pytest.FixtureRequest) -> SimulatorConfig:
    """The simulated portal; indirect parametrization may set its fields, e.g.
    `{"authentication_system": "RAS"}`."""
    fields = getattr(request, "param", None) or {}
    return SimulatorConfig(service_username=SERVICE_USERNAME, service_password="replaced", **fields)


@pytest.fixture
async def deployment(
    aiohttp_server: Any, aiohttp_client: Any, store_url: str, simulator_config: SimulatorConfig
) -> AsyncIterator[Deployment]:
    credentials = make_credentials()
    simulator_config.service_password = credentials.portal_password
    portal_app = create_app(simulator_config)
    portal_server = await aiohttp_server(portal_app)
    portal_url = str(portal_server.make_url("/kyvos"))

    settings = gateway_settings(credentials, portal_url, store_url)
    gateway = await aiohttp_client(build_app(settings))

    yield Deployment(gateway, portal_server, portal_app[SIMULATOR_STATE], settings, credentials)


def pytest_report_header(config: pytest.Config) -> str:
    """Say up front whether the PostgreSQL tests will run, and against what."""
    url = postgres_url()
    shown = make_url(url).render_as_string(hide_password=True)
    problem = postgres_problem(url)
    if problem is None:
        return f"kyvos-scim-gateway: PostgreSQL tests run against {shown}"

    return (
        f"kyvos-scim-gateway: PostgreSQL tests are SKIPPED: {shown} is not reachable ({problem}); "
        "set KSG_TEST_POSTGRES_URL to run them"
    )
