"""Fixtures for end-to-end tests of the gateway: deployments with chosen settings, a record of
what the gateway sent the simulated portal, and ways to read what the portal and the gateway's
store now hold."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from aiohttp.typedefs import Handler

from gateway.app import build_app
from gateway.simulator import SIMULATOR_STATE, SimulatorConfig, create_app
from gateway.simulator.state import PortalGroup, PortalState, PortalUser
from gateway.store import StoredResource
from gateway.web.keys import STORE
from tests.conftest import SERVICE_USERNAME, Deployment, gateway_settings, make_credentials

EXISTING_USER = "dana.whitfield@example.com"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
KYVOS_SCHEMA = "urn:kyvos:params:scim:schemas:extension:kyvos:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
BASE_URL = "http://gateway.test/scim/v2"


class AnyText(str):
    """Equal to any non-empty string: for the human `detail` of an error, whose wording may
    change without the IdP noticing."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and bool(other.strip())

    def __hash__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return "<any text>"


ANY_TEXT = AnyText()


def scim_error(status: int, scim_type: str | None = None) -> dict[str, Any]:
    """The SCIM error body (RFC 7644 §3.12) the IdP must get, whatever the detail says."""
    body: dict[str, Any] = {"schemas": [ERROR_SCHEMA], "status": str(status)}
    if scim_type is not None:
        body["scimType"] = scim_type
    body["detail"] = ANY_TEXT

    return body


@dataclass(frozen=True)
class SentRequest:
    """One request the portal received: path below the web context, query and JSON body."""

    method: str
    path: str
    query: dict[str, str]
    json: Any


@dataclass
class RecordedDeployment(Deployment):
    sent: list[SentRequest] = field(default_factory=list)

    def sent_to(self, method: str, path_prefix: str) -> list[SentRequest]:
        return [r for r in self.sent if r.method == method and r.path.startswith(path_prefix)]


DeploymentFactory = Callable[..., Awaitable[RecordedDeployment]]


def _recorder(sent: list[SentRequest]) -> Any:
    @web.middleware
    async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
        body = await request.json() if request.content_type == "application/json" else None
        path = request.path.removeprefix("/kyvos")
        sent.append(SentRequest(request.method, path, dict(request.query), body))

        return await handler(request)

    return record


@pytest.fixture
def deploy(aiohttp_server: Any, aiohttp_client: Any, tmp_path: Path) -> DeploymentFactory:
    """Start a gateway in front of a simulated portal that records what it is sent; keyword
    arguments override settings sections, as `gateway_settings` does."""
    started = 0

    async def start(**overrides: Any) -> RecordedDeployment:
        nonlocal started
        started += 1
        credentials = make_credentials()
        config = SimulatorConfig(
            service_username=SERVICE_USERNAME, service_password=credentials.portal_password
        )
        sent: list[SentRequest] = []
        portal_app = create_app(config)
        portal_app.middlewares.insert(0, _recorder(sent))
        portal_server: TestServer = await aiohttp_server(portal_app)
        portal_url = str(portal_server.make_url("/kyvos"))
        store_url = f"sqlite+aiosqlite:///{tmp_path / f'gateway-{started}.db'}"

        settings = gateway_settings(credentials, portal_url, store_url, **overrides)
        gateway = await aiohttp_client(build_app(settings))

        state = portal_app[SIMULATOR_STATE]
        return RecordedDeployment(gateway, portal_server, state, settings, credentials, sent)

    return start


@pytest.fixture
async def recorded(deploy: DeploymentFactory) -> RecordedDeployment:
    """A deployment with the default test settings whose portal records what it is sent."""
    return await deploy()


def portal_user(portal: PortalState, user_name: str) -> PortalUser | None:
    """The portal's user of that name (any case), read from the simulator's memory."""
    return next(
        (user for user in portal.users.values() if user.user_name.lower() == user_name.lower()),
        None,
    )


def portal_group(portal: PortalState, name: str) -> PortalGroup | None:
    return next((group for group in portal.groups.values() if group.name == name), None)


def member_names(portal: PortalState, group_id: str) -> list[str]:
    return [portal.users[user_id].user_name for user_id in portal.groups[group_id].members]


async def stored(deployment: Deployment, kind: str, portal_id: str) -> StoredResource | None:
    """What the gateway's store keeps for one resource."""
    return await deployment.gateway.app[STORE].get(kind, portal_id)


def calls(portal: PortalState) -> dict[str, int]:
    """Portal calls served so far, by "METHOD /route/template"."""
    return dict(portal.requests.calls)


def calls_since(portal: PortalState, before: dict[str, int]) -> dict[str, int]:
    """Portal calls served since `before` was taken, zero counts left out."""
    now = calls(portal)

    return {key: now[key] - before.get(key, 0) for key in now if now[key] != before.get(key, 0)}
