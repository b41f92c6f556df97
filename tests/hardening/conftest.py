"""Deployments for hardening tests: the real gateway, served with the HTTP limits `serve`
uses, in front of a simulated portal; and a way to tell that the portal did not change."""

import copy
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from gateway.app import build_app
from gateway.simulator import SIMULATOR_STATE, PortalState, SimulatorConfig, create_app
from gateway.web.listener import server_options
from tests.conftest import SERVICE_USERNAME, Credentials, Deployment, gateway_settings
from tests.conftest import make_credentials as new_credentials

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

Deploy = Callable[..., Awaitable[Deployment]]


def scim_error(status: int, detail: str, scim_type: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"schemas": [ERROR_SCHEMA], "status": str(status)}
    if scim_type is not None:
        body["scimType"] = scim_type
    body["detail"] = detail

    return body


def portal_snapshot(portal: PortalState) -> tuple[dict[str, Any], dict[str, Any]]:
    """Everything the portal holds about users and groups, to compare before and after."""
    return copy.deepcopy(portal.users), copy.deepcopy(portal.groups)


@pytest.fixture
def deploy(aiohttp_server: Any, aiohttp_client: Any, tmp_path: Path) -> Deploy:
    """Start a gateway (with `serve`'s HTTP parser limits and timeouts) in front of a simulated
    portal; keyword arguments override settings sections. `portal_server` shares a portal
    between gateways, as replicas do; `simulator` sets the simulated portal's options."""
    started = 0

    async def start(
        *,
        credentials: Credentials | None = None,
        portal_server: Any = None,
        simulator: dict[str, Any] | None = None,
        **overrides: Any,
    ) -> Deployment:
        nonlocal started
        started += 1
        credentials = credentials or new_credentials()
        if portal_server is None:
            config = SimulatorConfig(
                service_username=SERVICE_USERNAME,
                service_password=credentials.portal_password,
                **(simulator or {}),
            )
            portal_server = await aiohttp_server(create_app(config))
        portal_url = str(portal_server.make_url("/kyvos"))
        store_url = f"sqlite+aiosqlite:///{tmp_path / f'gateway-{started}.db'}"

        settings = gateway_settings(credentials, portal_url, store_url, **overrides)
        # TestServer drops keyword arguments given to its constructor; start it ourselves.
        server = TestServer(build_app(settings))
        await server.start_server(**server_options(settings.limits))
        gateway = await aiohttp_client(server)

        portal = portal_server.app[SIMULATOR_STATE]
        return Deployment(gateway, portal_server, portal, settings, credentials)

    return start
