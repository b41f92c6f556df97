"""The gateway never talks to a Kyvos Manager: refused at load, at start-up before any
credential is sent, by the `serve` command, and in any SCIM request that names one."""

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from gateway.app import build_app
from gateway.cli import EXIT_CONFIG
from gateway.kyvos.errors import TargetIsManager
from gateway.settings import ConfigError
from gateway.simulator import SIMULATOR_STATE, PortalState, SimulatorConfig, create_app
from tests.conftest import SERVICE_USERNAME, Deployment, gateway_settings, make_credentials
from tests.gateway.conftest import scim_error

COMMAND = Path(sys.executable).parent / "kyvos-scim-gateway"
# A Manager that does not live under /kyvosmanager, so only its `about` answer gives it away.
DISGUISED_CONTEXT = "/analytics"


@pytest.fixture
async def manager(aiohttp_server: Any) -> tuple[TestServer, PortalState]:
    """A simulated Kyvos Manager serving under a Web-Portal-looking context, on a free port."""
    config = SimulatorConfig(
        manager=True,
        context=DISGUISED_CONTEXT,
        service_username=SERVICE_USERNAME,
        service_password="manager-password-never-to-be-sent",
    )
    app = create_app(config)
    server = await aiohttp_server(app)

    return server, app[SIMULATOR_STATE]


def test_settings_with_a_manager_url_fail_at_load_naming_portal_url(tmp_path: Path) -> None:
    credentials = make_credentials()
    store_url = f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"

    with pytest.raises(ConfigError) as refused:
        gateway_settings(credentials, "https://kyvos.example.com:8443/kyvosmanager", store_url)

    assert [problem.split(":")[0] for problem in refused.value.problems] == ["portal.url"]


async def test_start_up_against_a_manager_fails_before_any_login(
    aiohttp_client: Any, manager: tuple[TestServer, PortalState], tmp_path: Path
) -> None:
    server, state = manager
    settings = gateway_settings(
        make_credentials(),
        str(server.make_url(DISGUISED_CONTEXT)),
        f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}",
    )

    with pytest.raises(TargetIsManager) as refused:
        await aiohttp_client(build_app(settings))

    assert "portal.url" in refused.value.message
    assert state.requests.logins == []
    assert state.requests.counters()["calls"] == {"GET /rest/about": 1}


async def run_serve(environment: dict[str, str]) -> tuple[int, str]:
    """`kyvos-scim-gateway serve` in a child process; its exit status and standard error."""
    inherited = {name: value for name, value in os.environ.items() if not name.startswith("KSG_")}
    process = await asyncio.create_subprocess_exec(
        str(COMMAND),
        "serve",
        env={**inherited, **environment},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None

    return process.returncode, stderr.decode()


def serve_environment(portal_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "KSG_PORTAL__URL": portal_url,
        "KSG_PORTAL__USERNAME": SERVICE_USERNAME,
        "KSG_PORTAL__PASSWORD": "manager-password-never-to-be-sent",
        "KSG_STORE__URL": f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}",
        "KSG_SERVER__PORT": "0",
    }


async def test_serve_against_a_manager_exits_naming_portal_url(
    manager: tuple[TestServer, PortalState], tmp_path: Path
) -> None:
    server, state = manager
    portal_url = str(server.make_url(DISGUISED_CONTEXT))

    status, stderr = await run_serve(serve_environment(portal_url, tmp_path))

    assert status == EXIT_CONFIG == 2
    assert "portal.url" in stderr and "Kyvos Manager" in stderr
    assert state.requests.logins == []


async def test_serve_with_a_manager_url_exits_naming_portal_url(tmp_path: Path) -> None:
    portal_url = "http://127.0.0.1:9/kyvosmanager"

    status, stderr = await run_serve(serve_environment(portal_url, tmp_path))

    assert status == EXIT_CONFIG == 2
    assert "portal.url" in stderr


@pytest.mark.parametrize(
    "path",
    [
        "/scim/v2/kyvosmanager/Users",
        "/scim/v2/KyvosManager/rest/security/users",
        "/scim/v2/%6Byvosmanager/Users",
        "/kyvosmanager/scim/v2/Users",
    ],
)
async def test_scim_request_naming_a_manager_is_refused(deployment: Deployment, path: str) -> None:
    before = deployment.portal.requests.counters()["requests"]

    async with deployment.gateway.get(
        path, headers={"Authorization": deployment.credentials.basic_header}
    ) as response:
        status, body = response.status, await response.json(content_type=None)

    assert (status, body) == (403, scim_error(403))
    assert response.headers["Content-Type"].startswith("application/scim+json")
    assert deployment.portal.requests.counters()["requests"] == before
