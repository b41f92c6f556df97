"""What SREs read: one JSON `access` event per request and one `audit` event per change, with
ids, route templates and no e-mail addresses."""

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from gateway.observability.logging import configure_logging
from gateway.settings import LoggingSettings
from tests.conftest import Deployment
from tests.gateway.conftest import PATCH_SCHEMA, USER_SCHEMA

ADA = "ada.lovelace@example.com"


@pytest.fixture
def log() -> Iterator[io.StringIO]:
    """The gateway's JSON log, as `serve` configures it, written to a buffer for the test."""
    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    stream = io.StringIO()

    configure_logging(LoggingSettings(level="info", format="json"), stream)
    yield stream

    structlog.configure(**saved)
    root.handlers[:] = handlers
    root.setLevel(level)


def events(log: io.StringIO, name: str) -> list[dict[str, Any]]:
    parsed = [json.loads(line) for line in log.getvalue().splitlines() if line.strip()]

    return [event for event in parsed if event.get("event") == name]


async def create_ada(deployment: Deployment) -> dict[str, Any]:
    body = {
        "schemas": [USER_SCHEMA],
        "userName": ADA,
        "emails": [{"value": ADA, "type": "work", "primary": True}],
        "password": "Engine-No.1-secret",
    }
    status, answer, _ = await deployment.scim("POST", "/Users", json=body)
    assert status == 201

    return answer


async def test_each_request_writes_one_access_event(
    log: io.StringIO, deployment: Deployment
) -> None:
    ada = await create_ada(deployment)
    _, _, headers = await deployment.scim(
        "GET", f"/Users/{ada['id']}", params={"attributes": "userName"}
    )
    await deployment.scim("GET", "/Users", params={"filter": f'userName eq "{ADA}"'})

    access = events(log, "access")

    assert [(e["method"], e["route"], e["status"]) for e in access] == [
        ("POST", "/scim/v2/Users", 201),
        ("GET", "/scim/v2/Users/{id}", 200),
        ("GET", "/scim/v2/Users", 200),
    ]
    assert access[1]["request_id"] == headers["X-Request-Id"]
    assert len({event["request_id"] for event in access}) == 3
    assert all(isinstance(event["duration_ms"], int | float) for event in access)
    assert [event["portal_calls"] for event in access] == [1, 1, 1]


async def test_access_event_keeps_the_request_id_the_idp_sent(
    log: io.StringIO, deployment: Deployment
) -> None:
    _, _, headers = await deployment.scim(
        "GET", "/Groups", headers={"X-Request-Id": "okta-req-0001"}
    )

    [access] = events(log, "access")
    assert access["request_id"] == headers["X-Request-Id"] == "okta-req-0001"


async def test_refused_request_writes_an_access_event_too(
    log: io.StringIO, deployment: Deployment
) -> None:
    async with deployment.gateway.get("/scim/v2/Users/some-id") as response:
        assert response.status == 401

    [access] = events(log, "access")
    assert (access["method"], access["route"], access["status"]) == (
        "GET",
        "/scim/v2/Users/{id}",
        401,
    )


async def test_each_change_writes_an_audit_event_with_ids(
    log: io.StringIO, deployment: Deployment
) -> None:
    ada = await create_ada(deployment)
    await deployment.scim(
        "PATCH",
        f"/Users/{ada['id']}",
        json={
            "schemas": [PATCH_SCHEMA],
            "Operations": [{"op": "replace", "path": "active", "value": False}],
        },
    )
    await deployment.scim("GET", f"/Users/{ada['id']}")
    await deployment.scim("DELETE", f"/Users/{ada['id']}")

    audit = events(log, "audit")

    assert [(e["action"], e["resource_type"], e["resource_id"]) for e in audit] == [
        ("user.created", "User", ada["id"]),
        ("user.updated", "User", ada["id"]),
        ("user.deleted", "User", ada["id"]),
    ]
    access = events(log, "access")
    assert [e["request_id"] for e in audit] == [access[i]["request_id"] for i in (0, 1, 3)]
    assert all(event["client_id"] == deployment.credentials.basic_username for event in audit)


async def test_log_holds_no_email_address_nor_password(
    log: io.StringIO, deployment: Deployment
) -> None:
    ada = await create_ada(deployment)
    await deployment.scim("GET", "/Users", params={"filter": f'emails.value eq "{ADA}"'})
    await deployment.scim("DELETE", f"/Users/{ada['id']}")

    written = log.getvalue()

    assert events(log, "access") and events(log, "audit")
    assert "@" not in written
    assert "Engine-No.1-secret" not in written
    assert deployment.credentials.portal_password not in written
