"""Abuse and input limits, each against the real gateway over HTTP: the status, the SCIM body,
and a portal left as it was."""

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from gateway.auth.secrets import new_secret
from gateway.scim.errors import TooManyRequests
from gateway.web.keys import USERS
from gateway.web.limits import RequestRate
from gateway.web.media import MAX_JSON_DEPTH
from tests.auth.conftest import FakeClock
from tests.conftest import Deployment

from .conftest import PATCH_SCHEMA, USER_SCHEMA, Deploy, portal_snapshot, scim_error

LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


def new_user(name: str | None = None) -> dict[str, Any]:
    return {"schemas": [USER_SCHEMA], "userName": name or f"{new_secret()[:10]}@example.com"}


async def create_user(deployment: Deployment) -> str:
    status, body, _ = await deployment.scim("POST", "/Users", json=new_user())
    assert status == 201
    return str(body["id"])


async def raw_exchange(deployment: Deployment, request: bytes, *, wait: float = 5) -> bytes:
    """Send bytes as they are and read what comes back until the gateway closes or goes
    quiet: for requests an HTTP client library would refuse to send."""
    reader, writer = await asyncio.open_connection(deployment.gateway.host, deployment.gateway.port)
    writer.write(request)
    await writer.drain()
    answer = b""
    try:
        while chunk := await asyncio.wait_for(reader.read(65536), wait):
            answer += chunk
    except TimeoutError:
        pass
    finally:
        writer.close()

    return answer


def status_and_body(answer: bytes) -> tuple[int, Any]:
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body) if body.startswith(b"{") else body


# Authentication failures and request rate


async def test_a_source_that_keeps_failing_authentication_gets_429(deploy: Deploy) -> None:
    deployment = await deploy(auth={"throttle": {"max_failures": 3, "block_seconds": 30}})
    before = portal_snapshot(deployment.portal)
    wrong = {"Authorization": "Basic " + base64.b64encode(b"okta:wrong").decode()}
    for _ in range(3):
        status, _, _ = await deployment.scim("POST", "/Users", json=new_user(), headers=wrong)
        assert status == 401

    status, body, headers = await deployment.scim("POST", "/Users", json=new_user())

    assert (status, headers["Retry-After"]) == (429, "30")
    assert body == scim_error(
        429,
        "too many failed authentication attempts from this address: retry in 30 seconds, "
        "after checking the credentials configured in the IdP",
    )
    assert portal_snapshot(deployment.portal) == before


async def test_a_client_above_its_request_rate_gets_429(deploy: Deploy) -> None:
    deployment = await deploy(limits={"requests_per_second": 0.5, "burst": 2})
    for _ in range(2):
        assert (await deployment.scim("GET", "/Users?count=1"))[0] == 200
    before = portal_snapshot(deployment.portal)

    status, body, headers = await deployment.scim("POST", "/Users", json=new_user())

    assert (status, headers["Retry-After"]) == (429, "2")
    assert body == scim_error(
        429,
        "this client sends more than 0.5 requests per second (burst 2): retry in 2 seconds, "
        "or lower the IdP's request rate",
    )
    assert portal_snapshot(deployment.portal) == before


async def test_the_request_rate_is_counted_per_client(deploy: Deploy) -> None:
    deployment = await deploy(limits={"requests_per_second": 0.5, "burst": 1})
    assert (await deployment.scim("GET", "/Users?count=1"))[0] == 200

    other = {"Authorization": f"Bearer {deployment.credentials.bearer_token}"}
    status, _, _ = await deployment.scim("GET", "/Users?count=1", headers=other)

    assert status == 200
    again = await deployment.scim("GET", "/Users?count=1")
    other_again = await deployment.scim("GET", "/Users?count=1", headers=other)
    assert (again[0], other_again[0]) == (429, 429)


async def test_the_request_rate_is_off_by_default(deployment: Deployment) -> None:
    statuses = [(await deployment.scim("GET", "/Users?count=1"))[0] for _ in range(60)]

    assert set(statuses) == {200}


def test_a_bucket_refills_at_the_configured_rate() -> None:
    clock = FakeClock()
    rate = RequestRate(2, 2, clock=clock)
    rate.take("okta")
    rate.take("okta")

    clock.advance(0.5)
    rate.take("okta")

    with pytest.raises(Exception, match="retry in 1 seconds"):
        rate.take("okta")


def test_the_rate_limit_forgets_the_least_recent_client_first() -> None:
    rate = RequestRate(1, 1, max_clients=2, clock=FakeClock())
    for client in ("okta", "entra", "custom"):
        rate.take(client)

    for remembered in ("custom", "entra"):  # still counted: their one request is spent
        with pytest.raises(TooManyRequests):
            rate.take(remembered)
    rate.take("okta")  # forgotten, so served again with a full bucket
    with pytest.raises(TooManyRequests):
        rate.take("okta")  # and counted again from then on


# Bodies


async def test_a_body_over_the_limit_gets_413(deploy: Deploy) -> None:
    deployment = await deploy(server={"max_body_bytes": 4096})
    before = portal_snapshot(deployment.portal)
    body = new_user() | {"displayName": "x" * 5000}

    status, answer, _ = await deployment.scim("POST", "/Users", json=body)

    assert (status, answer) == (
        413,
        scim_error(
            413,
            "The request body is larger than the 4096 bytes the gateway accepts "
            "(server.max_body_bytes); send a smaller request.",
        ),
    )
    assert portal_snapshot(deployment.portal) == before


async def test_a_chunked_body_over_the_limit_gets_413(deploy: Deploy) -> None:
    deployment = await deploy(server={"max_body_bytes": 4096})
    before = portal_snapshot(deployment.portal)

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"schemas": ["' + USER_SCHEMA.encode() + b'"], "userName": "a@example.com", '
        for _ in range(10):
            yield b'"displayName": "' + b"x" * 1000 + b'", '
        yield b'"active": true}'

    status, answer, _ = await deployment.scim(
        "POST", "/Users", data=chunks(), headers={"Content-Type": "application/scim+json"}
    )

    assert status == 413
    assert answer == scim_error(
        413,
        "The request body is larger than the 4096 bytes the gateway accepts "
        "(server.max_body_bytes); send a smaller request.",
    )
    assert portal_snapshot(deployment.portal) == before


async def test_a_token_request_over_the_limit_gets_413(deploy: Deploy) -> None:
    deployment = await deploy(server={"max_body_bytes": 4096})

    async with deployment.gateway.post(
        "/oauth/token", data={"grant_type": "client_credentials", "pad": "x" * 5000}
    ) as response:
        assert response.status == 413
        assert (await response.json(content_type=None))["status"] == "413"


async def test_a_body_that_stalls_gets_408(deploy: Deploy) -> None:
    deployment = await deploy(limits={"body_timeout_seconds": 0.3})
    before = portal_snapshot(deployment.portal)
    head = (
        "POST /scim/v2/Users HTTP/1.1\r\nHost: gateway.test\r\n"
        f"Authorization: {deployment.credentials.basic_header}\r\n"
        "Content-Type: application/scim+json\r\nContent-Length: 200\r\n\r\n"
    )

    answer = await raw_exchange(deployment, head.encode() + b'{"userName": ', wait=3)

    assert status_and_body(answer) == (
        408,
        scim_error(408, "The request body did not arrive within 0.3 seconds; send it again."),
    )
    assert portal_snapshot(deployment.portal) == before


async def test_a_client_that_never_finishes_its_headers_is_disconnected(deploy: Deploy) -> None:
    deployment = await deploy(limits={"keepalive_timeout_seconds": 0.3})

    answer = await raw_exchange(deployment, b"GET /scim/v2/Users HTTP/1.1\r\nHost: x\r\n", wait=5)

    assert answer == b""  # closed well before `wait`, without an answer


async def test_json_nested_too_deep_is_invalid_syntax(deployment: Deployment) -> None:
    before = portal_snapshot(deployment.portal)
    body = new_user() | {
        "title": json.loads("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1))
    }

    status, answer, _ = await deployment.scim("POST", "/Users", json=body)

    assert (status, answer) == (
        400,
        scim_error(
            400,
            f"The request body nests arrays and objects more than {MAX_JSON_DEPTH} levels "
            "deep; no SCIM resource does.",
            "invalidSyntax",
        ),
    )
    assert portal_snapshot(deployment.portal) == before


async def test_json_too_deep_for_the_parser_is_invalid_syntax(deployment: Deployment) -> None:
    status, answer, _ = await deployment.scim(
        "POST",
        "/Users",
        data=b"[" * 100_000,
        headers={"Content-Type": "application/scim+json"},
    )

    assert (status, answer["scimType"]) == (400, "invalidSyntax")


# Filters, PATCH and pages


async def test_a_filter_over_the_length_limit_is_invalid_filter(deploy: Deploy) -> None:
    deployment = await deploy(limits={"filter_max_length": 64})
    text = 'userName eq "' + "a" * 60 + '@example.com"'

    status, body, _ = await deployment.scim("GET", "/Users", params={"filter": text})

    assert (status, body) == (
        400,
        scim_error(
            400,
            f"The filter is {len(text)} characters long; the limit is 64. Send a shorter filter.",
            "invalidFilter",
        ),
    )


async def test_a_search_filter_nested_beyond_the_limit_is_invalid_filter(deploy: Deploy) -> None:
    deployment = await deploy(limits={"filter_max_depth": 2})
    search = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": 'userName eq "a" or (title eq "b" and (active eq true or title pr))',
    }

    status, body, _ = await deployment.scim("POST", "/Users/.search", json=search)

    assert status == 400
    assert body["scimType"] == "invalidFilter"
    assert "the limit is 2" in body["detail"]


async def test_a_patch_with_too_many_operations_gets_413(deploy: Deploy) -> None:
    deployment = await deploy(limits={"patch_max_operations": 3})
    user_id = await create_user(deployment)
    before = portal_snapshot(deployment.portal)
    operation = {"op": "replace", "path": "title", "value": "Analyst"}
    patch = {"schemas": [PATCH_SCHEMA], "Operations": [operation] * 4}

    status, body, _ = await deployment.scim("PATCH", f"/Users/{user_id}", json=patch)

    assert (status, body) == (
        413,
        scim_error(
            413,
            "The PATCH holds 4 operations; the limit is 3. Split it into several requests.",
        ),
    )
    assert portal_snapshot(deployment.portal) == before


async def test_count_is_capped_and_items_per_page_says_so(deploy: Deploy) -> None:
    deployment = await deploy(limits={"max_count": 2})
    for _ in range(3):
        await create_user(deployment)

    status, body, _ = await deployment.scim("GET", "/Users", params={"count": "5000"})

    assert status == 200
    assert (body["itemsPerPage"], len(body["Resources"])) == (2, 2)
    assert body["totalResults"] >= 3


async def test_service_provider_config_states_the_page_cap(deploy: Deploy) -> None:
    deployment = await deploy(limits={"max_count": 250})

    _, body, _ = await deployment.scim("GET", "/ServiceProviderConfig")

    assert body["filter"] == {"supported": True, "maxResults": 250}


# Request line and headers: refused by the HTTP parser, before any handler runs, so the answer
# is aiohttp's plain 400 rather than a SCIM body.


async def test_a_url_over_the_limit_is_refused_by_the_parser(deploy: Deploy) -> None:
    deployment = await deploy(limits={"max_url_bytes": 1024})
    request = (
        f"GET /scim/v2/Users?count=1&padding={'a' * 2000} HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: {deployment.credentials.basic_header}\r\n\r\n"
    )

    status, body = status_and_body(await raw_exchange(deployment, request.encode()))

    assert status == 400
    assert body.startswith(b"Got more than 1024 bytes when reading")


async def test_a_header_over_the_limit_is_refused_by_the_parser(deploy: Deploy) -> None:
    deployment = await deploy(limits={"max_header_bytes": 1024})
    request = (
        "GET /scim/v2/Users?count=1 HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: {deployment.credentials.basic_header}\r\n"
        f"X-Padding: {'p' * 2000}\r\n\r\n"
    )

    status, body = status_and_body(await raw_exchange(deployment, request.encode()))

    assert status == 400
    assert body.startswith(b"Got more than 1024 bytes when reading")


# The unexpected


async def test_an_unexpected_failure_answers_500_without_a_traceback(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def fail(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("lookup of dana.whitfield@example.com failed in users.py line 12")

    monkeypatch.setattr(deployment.gateway.app[USERS], "search", fail)

    status, body, headers = await deployment.scim("GET", "/Users")

    assert (status, body) == (
        500,
        scim_error(
            500,
            "The gateway failed unexpectedly. Quote the X-Request-Id header of this answer to "
            "the gateway's operator.",
        ),
    )
    assert headers["X-Request-Id"]


async def test_a_lone_surrogate_in_a_body_is_invalid_syntax(deployment: Deployment) -> None:
    before = portal_snapshot(deployment.portal)
    body = b'{"schemas": ["' + USER_SCHEMA.encode() + b'"], "userName": "\\ud800"}'

    status, answer, _ = await deployment.scim(
        "POST", "/Users", data=body, headers={"Content-Type": "application/scim+json"}
    )

    assert (status, answer) == (
        400,
        scim_error(
            400,
            "The request body holds a string that no store can hold: a NUL character "
            "(\\u0000) or a lone \\uD800-\\uDFFF escape. Remove it and send the request again.",
            "invalidSyntax",
        ),
    )
    assert portal_snapshot(deployment.portal) == before


async def test_a_lone_surrogate_in_a_filter_is_invalid_filter(deployment: Deployment) -> None:
    status, body, _ = await deployment.scim(
        "GET", "/Users", params={"filter": 'externalId eq "\\ud800"'}
    )

    assert (status, body) == (
        400,
        scim_error(
            400,
            "externalId eq: the value holds a NUL character or a lone \\uD800-\\uDFFF escape, "
            "which no stored value can match.",
            "invalidFilter",
        ),
    )
