"""A gateway and simulated portal for the roles tests, with the role rules a test chooses.

`role_rules` (indirect parametrization, or the default config's two example rules) becomes the
gateway's `[roles] rules`; `simulator_config` chooses the portal's authentication system.
"""

from collections.abc import AsyncIterator
from typing import Any

import pytest

from gateway.app import build_app
from gateway.simulator import SIMULATOR_STATE, SimulatorConfig, create_app
from tests.conftest import Deployment, gateway_settings, make_credentials

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
KYVOS_SCHEMA = "urn:kyvos:params:scim:schemas:extension:kyvos:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"

RAS = pytest.mark.parametrize(
    "simulator_config", [{"authentication_system": "RAS"}], indirect=True, ids=["RAS"]
)


def rules(*items: dict[str, Any]) -> Any:
    """Parametrize a test with these `[[roles.rules]]`."""
    return pytest.mark.parametrize("role_rules", [list(items)], indirect=True, ids=["rules"])


@pytest.fixture
def role_rules(request: pytest.FixtureRequest) -> list[dict[str, Any]] | None:
    return getattr(request, "param", None)


@pytest.fixture
async def deployment(
    aiohttp_server: Any,
    aiohttp_client: Any,
    store_url: str,
    simulator_config: SimulatorConfig,
    role_rules: list[dict[str, Any]] | None,
) -> AsyncIterator[Deployment]:
    credentials = make_credentials()
    simulator_config.service_password = credentials.portal_password
    portal_app = create_app(simulator_config)
    portal_server = await aiohttp_server(portal_app)
    portal_url = str(portal_server.make_url("/kyvos"))

    overrides = {} if role_rules is None else {"roles": {"rules": role_rules}}
    settings = gateway_settings(credentials, portal_url, store_url, **overrides)
    gateway = await aiohttp_client(build_app(settings))

    yield Deployment(gateway, portal_server, portal_app[SIMULATOR_STATE], settings, credentials)


def new_user(handle: str, **attributes: Any) -> dict[str, Any]:
    return {
        "schemas": [USER_SCHEMA],
        "userName": f"{handle}@example.com",
        "name": {"givenName": handle.title(), "familyName": "Tester"},
        "emails": [{"value": f"{handle}@example.com", "type": "work", "primary": True}],
        "active": True,
        **attributes,
    }


def patch(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


async def create_user(deployment: Deployment, handle: str, **attributes: Any) -> dict[str, Any]:
    status, body, _ = await deployment.scim("POST", "/Users", json=new_user(handle, **attributes))
    assert status == 201, body
    return dict(body)


async def create_group(deployment: Deployment, name: str, **attributes: Any) -> dict[str, Any]:
    group = {"schemas": [GROUP_SCHEMA], "displayName": name, **attributes}
    status, body, _ = await deployment.scim("POST", "/Groups", json=group)
    assert status == 201, body
    return dict(body)
