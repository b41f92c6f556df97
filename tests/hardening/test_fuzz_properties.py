"""Property tests: whatever filter, PATCH body, JSON body, query string or header a client
sends, the real gateway answers without a 5xx and without hanging. `bench/fuzz.py` runs the
long campaign; these keep a small one in every test run."""

import asyncio
import base64
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.app import build_app
from gateway.auth.secrets import digest, new_secret
from gateway.settings import load_settings
from gateway.simulator import SimulatorConfig, create_app
from gateway.web.listener import server_options

from .conftest import PATCH_SCHEMA, USER_SCHEMA

EXAMPLES = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
ATTRIBUTES = [
    "userName", "displayName", "externalId", "id", "active", "title", "emails", "emails.value",
    "emails.type", "name.givenName", "members", "members.value", "meta.lastModified", "groups",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "x.y.z",
]  # fmt: skip
OPERATORS = ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "pr"]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(ATTRIBUTES) | st.text(), children, max_size=4)
    ),
    max_leaves=20,
)
attribute_paths = st.sampled_from(ATTRIBUTES) | st.text(max_size=30)
comparisons = st.builds(
    lambda path, operator, value: f"{path} {operator} {value}".strip(),
    attribute_paths,
    st.sampled_from(OPERATORS) | st.text(max_size=4),
    st.sampled_from(['"a@example.com"', "true", "42", "null", '"2024-01-01T00:00:00Z"'])
    | st.text(max_size=20),
)
filters = st.recursive(
    comparisons,
    lambda inner: (
        st.builds(lambda a, b: f"{a} and {b}", inner, inner)
        | st.builds(lambda a, b: f"{a} or {b}", inner, inner)
        | st.builds(lambda a: f"not ({a})", inner)
        | st.builds(lambda a: f"emails[{a}]", inner)
    ),
    max_leaves=8,
) | st.text(max_size=200)
operations = st.fixed_dictionaries(
    {"op": st.sampled_from(["add", "replace", "remove", "Replace"]) | st.text(max_size=8)},
    optional={
        "path": attribute_paths | filters.map(lambda f: f"members[{f}]"),
        "value": json_values,
    },
)
header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60).map(
    str.strip
)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """The real gateway and a simulated portal on loopback, served from a thread of their own
    so that the synchronous property tests can call them; throttling off, so that bad
    credentials can be sent again and again."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    password = new_secret()
    store = tmp_path_factory.mktemp("fuzz") / "gateway.db"

    url, runners = asyncio.run_coroutine_threadsafe(_start(password, store), loop).result(30)
    authorization = "Basic " + base64.b64encode(f"fuzz:{password}".encode()).decode()
    with httpx.Client(base_url=url, headers={"Authorization": authorization}, timeout=30) as c:
        yield c

    for runner in runners:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(30)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


async def _start(password: str, store: Path) -> tuple[str, list[web.AppRunner]]:
    portal_password = new_secret()
    config = SimulatorConfig(service_username="scim-gateway", service_password=portal_password)
    portal = web.AppRunner(create_app(config), access_log=None)
    await portal.setup()
    portal_site = web.TCPSite(portal, "127.0.0.1", 0)
    await portal_site.start()

    settings = load_settings(
        overrides={
            "portal": {"url": _url(portal_site, "/kyvos"), "password": portal_password},
            "store": {"url": f"sqlite+aiosqlite:///{store}"},
            "auth": {
                "basic": [{"username": "fuzz", "password_sha256": digest(password)}],
                "throttle": {"enabled": False},
            },
        }
    )
    gateway = web.AppRunner(build_app(settings), access_log=None, **server_options(settings.limits))
    await gateway.setup()
    site = web.TCPSite(gateway, "127.0.0.1", 0)
    await site.start()

    return _url(site, "/scim/v2"), [gateway, portal]


def _url(site: web.TCPSite, path: str) -> str:
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return f"http://127.0.0.1:{port}{path}"


@pytest.fixture(scope="module")
def user_id(gateway: httpx.Client) -> str:
    body = {"schemas": [USER_SCHEMA], "userName": "fuzz.target@example.com"}
    response = gateway.post("/Users", json=body)
    assert response.status_code == 201

    return str(response.json()["id"])


def assert_answered(response: httpx.Response) -> None:
    """No 5xx, and a 4xx the gateway wrote is a SCIM error naming its own status."""
    assert response.status_code < 500, response.text
    if response.status_code >= 400 and "scim+json" in response.headers.get("Content-Type", ""):
        assert response.json()["status"] == str(response.status_code)


@EXAMPLES
@given(text=filters, resource=st.sampled_from(["Users", "Groups"]))
def test_any_filter_is_answered_without_a_server_error(
    gateway: httpx.Client, text: str, resource: str
) -> None:
    assert_answered(gateway.get(f"/{resource}", params={"filter": text}))


@EXAMPLES
@given(text=filters, count=json_values)
def test_any_search_request_is_answered_without_a_server_error(
    gateway: httpx.Client, text: str, count: Any
) -> None:
    search = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": text,
        "count": count,
    }

    assert_answered(gateway.post("/Users/.search", json=search))


@EXAMPLES
@given(ops=st.lists(operations, max_size=5))
def test_any_user_patch_is_answered_without_a_server_error(
    gateway: httpx.Client, user_id: str, ops: list[dict[str, Any]]
) -> None:
    patch = {"schemas": [PATCH_SCHEMA], "Operations": ops}

    assert_answered(gateway.patch(f"/Users/{user_id}", json=patch))


@EXAMPLES
@given(body=json_values, resource=st.sampled_from(["Users", "Groups"]))
def test_any_json_body_is_answered_without_a_server_error(
    gateway: httpx.Client, body: Any, resource: str
) -> None:
    assert_answered(gateway.post(f"/{resource}", json=body))


@EXAMPLES
@given(body=st.dictionaries(st.sampled_from(ATTRIBUTES) | st.text(max_size=10), json_values))
def test_any_user_replacement_is_answered_without_a_server_error(
    gateway: httpx.Client, user_id: str, body: dict[str, Any]
) -> None:
    replacement = {"schemas": [USER_SCHEMA], "userName": "fuzz.target@example.com"} | body

    assert_answered(gateway.put(f"/Users/{user_id}", json=replacement))


@EXAMPLES
@given(raw=st.binary(max_size=300))
def test_any_raw_body_is_answered_without_a_server_error(gateway: httpx.Client, raw: bytes) -> None:
    headers = {"Content-Type": "application/scim+json"}

    assert_answered(gateway.post("/Users", content=raw, headers=headers))


@EXAMPLES
@given(
    params=st.dictionaries(
        st.sampled_from(["filter", "count", "startIndex", "attributes", "sortBy", "sortOrder"])
        | st.text(max_size=10),
        st.text(max_size=40),
        max_size=4,
    )
)
def test_any_query_string_is_answered_without_a_server_error(
    gateway: httpx.Client, params: dict[str, str]
) -> None:
    assert_answered(gateway.get("/Groups", params=params))


@EXAMPLES
@given(
    headers=st.dictionaries(
        st.sampled_from(["Authorization", "Content-Type", "If-Match", "X-Request-Id", "Accept"]),
        header_text,
        min_size=1,
    ),
    method=st.sampled_from(["GET", "PUT", "PATCH", "DELETE"]),
)
def test_any_headers_are_answered_without_a_server_error(
    gateway: httpx.Client, user_id: str, headers: dict[str, str], method: str
) -> None:
    body = b"{}" if method in ("PUT", "PATCH") else None

    response = gateway.request(method, f"/Users/{user_id}-x", headers=headers, content=body)

    assert_answered(response)
