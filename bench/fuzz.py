"""A long fuzzing campaign against a running gateway: malformed filters, PATCH bodies, JSON
bodies, query strings and headers. Prints how many answers were 5xx, how many requests timed
out, and the rate.

Against `make run` (reads the URL and credentials it wrote):

    .venv/bin/python bench/fuzz.py --credentials var/credentials.json --cases 100000

With neither `--credentials` nor `--url`, it starts its own gateway and simulated portal in this
process on loopback ports (authentication throttle off, so that bad credentials can be fuzzed
too). Against another gateway, cases with bad credentials are left out unless `--bad-auth`:
the gateway's throttle would soon answer everything from this address with 429.
"""

import argparse
import asyncio
import base64
import io
import json
import random
import string
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"

ATTRIBUTES = [
    "userName", "displayName", "externalId", "id", "active", "title", "emails", "emails.value",
    "emails.type", "emails.primary", "name.givenName", "name.familyName", "name", "members",
    "members.value", "meta.created", "meta.lastModified", "meta.resourceType", "groups",
    f"{ENTERPRISE}:department", f"{ENTERPRISE}:manager.value", f"{USER_SCHEMA}:userName",
    "urn:unknown:x", "nickName", "phoneNumbers.value", "roles", "password", "", "a.b.c",
]  # fmt: skip
OPERATORS = ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "pr", "EQ", "Eq", "xx"]
VALUES = [
    '"alice@example.com"', '"x"', '""', "true", "false", "null", "42", "-1.5e308",
    '"2024-01-01T00:00:00Z"', '"not-a-date"', '"\\u0000"', '"\\"quoted\\""', '"é☃"', "[1]",
]  # fmt: skip
USER_NAMES = [f"fuzz.user{number}@example.com" for number in range(20)]
NASTY = [
    "", " ", "\x00", "\\", '"', "'", "%", "%00", "%ff", "../", "${jndi:x}", "<script>", "\u202e",
    "\ud800", "a" * 5000, "0" * 40, "-1", "1e999", "NaN", "[]", "{}", "*", ",", "()", "[", "]",
]  # fmt: skip


@dataclass
class Target:
    scim_base_url: str
    authorization: str
    bad_auth: bool


@dataclass
class Tally:
    cases: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    timeouts: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)

    def record(self, case: "Case", status: int | None, failure: str | None) -> None:
        self.cases += 1
        if status is not None:
            self.statuses[status] += 1
            if status >= 500 and len(self.server_errors) < 20:
                self.server_errors.append(f"{status} {case.describe()}")
        elif failure == "timeout":
            self.timeouts += 1
            if len(self.server_errors) < 20:
                self.server_errors.append(f"timeout {case.describe()}")
        elif failure is not None:
            self.errors[failure] += 1

    @property
    def five_hundreds(self) -> int:
        return sum(count for status, count in self.statuses.items() if status >= 500)


@dataclass
class Case:
    method: str
    path: str
    query: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None

    def describe(self) -> str:
        body = (self.body or b"")[:200]
        return f"{self.method} {self.path}?{self.query[:200]} headers={self.headers} body={body!r}"


class Generator:
    """Random requests, each mostly well-formed with one thing wrong, so they get past the
    first check and reach the deeper code."""

    def __init__(self, rng: random.Random, known_ids: list[str], bad_auth: bool) -> None:
        self.rng = rng
        self.known_ids = known_ids
        self.bad_auth = bad_auth
        self.kinds: list[Callable[[], Case]] = [
            self.filter_query,
            self.filter_query,
            self.search_body,
            self.patch_body,
            self.patch_body,
            self.resource_body,
            self.query_string,
            self.headers_case,
            self.raw_body,
            self.path_case,
        ]

    def case(self) -> Case:
        return self.rng.choice(self.kinds)()

    # Pieces

    def text(self) -> str:
        rng = self.rng
        match rng.randrange(4):
            case 0:
                return rng.choice(NASTY)
            case 1:
                return "".join(rng.choice(string.printable) for _ in range(rng.randrange(12)))
            case 2:
                return "".join(chr(rng.randrange(0x20, 0x3000)) for _ in range(rng.randrange(8)))
        return rng.choice(USER_NAMES)

    def json_value(self, depth: int = 0) -> Any:
        rng = self.rng
        choice = rng.randrange(9 if depth < 4 else 6)
        match choice:
            case 0:
                return None
            case 1:
                return rng.choice([True, False])
            case 2:
                return rng.choice([0, -1, 2**63, 1.5, 1e308, -0.0])
            case 3 | 4 | 5:
                return self.text()
            case 6 | 7:
                return {
                    self.attribute(): self.json_value(depth + 1) for _ in range(rng.randrange(4))
                }
        return [self.json_value(depth + 1) for _ in range(rng.randrange(4))]

    def attribute(self) -> str:
        if self.rng.random() < 0.85:
            return self.rng.choice(ATTRIBUTES)
        return self.text()

    def filter(self, depth: int = 0) -> str:
        rng = self.rng
        roll = rng.random()
        if depth < 3 and roll < 0.2:
            joiner = rng.choice([" and ", " or ", " AND ", " Or ", "  ", " and"])
            return f"{self.filter(depth + 1)}{joiner}{self.filter(depth + 1)}"
        if depth < 3 and roll < 0.3:
            return f"{rng.choice(['', 'not ', 'not'])}({self.filter(depth + 1)})"
        if depth < 3 and roll < 0.38:
            name = rng.choice(["emails", "members", "addresses", "x", "emails.value"])
            return f"{name}[{self.filter(depth + 1)}]"
        if roll < 0.45:
            return self.text()
        operator = rng.choice(OPERATORS)
        value = "" if operator == "pr" and rng.random() < 0.8 else " " + rng.choice(VALUES)
        if rng.random() < 0.2:
            value = " " + json.dumps(self.text())
        return f"{self.attribute()} {operator}{value}"

    def mangle(self, text: str) -> str:
        """Cut, repeat or corrupt a valid string at one place."""
        rng = self.rng
        if not text or rng.random() < 0.6:
            return text
        at = rng.randrange(len(text) + 1)
        match rng.randrange(3):
            case 0:
                return text[:at]
            case 1:
                return text[:at] + rng.choice(NASTY) + text[at:]
        return text[:at] + text[at:] * rng.randrange(2, 5)

    def resource_id(self) -> str:
        if self.known_ids and self.rng.random() < 0.7:
            return self.rng.choice(self.known_ids)
        return _quote(self.text()) or "x"

    def resource(self) -> str:
        return self.rng.choice(["Users", "Groups"])

    # Cases

    def filter_query(self) -> Case:
        query = f"filter={_quote(self.mangle(self.filter()))}"
        if self.rng.random() < 0.3:
            query += f"&count={self.rng.choice(['0', '-5', '10000000', 'x', '2'])}"
        return Case("GET", f"/{self.resource()}", query)

    def search_body(self) -> Case:
        body: dict[str, Any] = {"schemas": [SEARCH_SCHEMA], "filter": self.mangle(self.filter())}
        for name in ("startIndex", "count", "sortBy", "sortOrder", "attributes"):
            if self.rng.random() < 0.3:
                body[name] = self.json_value()
        return Case("POST", f"/{self.resource()}/.search", body=self.encode(body))

    def patch_body(self) -> Case:
        rng = self.rng
        operations = []
        for _ in range(rng.randrange(1, 5)):
            operation: dict[str, Any] = {"op": rng.choice(["add", "replace", "remove", "Add", "x"])}
            if rng.random() < 0.8:
                path = self.attribute()
                if rng.random() < 0.3:
                    path = f"{rng.choice(['emails', 'members'])}[{self.filter(2)}]"
                    path += rng.choice(["", ".value", ".primary"])
                operation["path"] = self.mangle(path)
            if rng.random() < 0.9:
                operation["value"] = self.patch_value()
            operations.append(operation)
        body: dict[str, Any] = {"schemas": [PATCH_SCHEMA], "Operations": operations}
        if rng.random() < 0.05:
            body = {"Operations": operations}
        return Case("PATCH", f"/{self.resource()}/{self.resource_id()}", body=self.encode(body))

    def patch_value(self) -> Any:
        rng = self.rng
        match rng.randrange(4):
            case 0:
                return [{"value": self.resource_id()} for _ in range(rng.randrange(3))]
            case 1:
                return {"active": rng.choice([True, False, "False", "true", 1, None])}
        return self.json_value()

    def resource_body(self) -> Case:
        rng = self.rng
        resource = self.resource()
        if resource == "Users":
            body: dict[str, Any] = {"schemas": [USER_SCHEMA], "userName": rng.choice(USER_NAMES)}
        else:
            body = {"schemas": [GROUP_SCHEMA], "displayName": f"fuzz group {rng.randrange(10)}"}
        for _ in range(rng.randrange(4)):
            body[self.attribute()] = self.json_value()
        if rng.random() < 0.5:
            return Case("POST", f"/{resource}", body=self.encode(body))
        return Case("PUT", f"/{resource}/{self.resource_id()}", body=self.encode(body))

    def query_string(self) -> Case:
        rng = self.rng
        names = ["filter", "startIndex", "count", "attributes", "excludedAttributes", "sortBy",
                 "sortOrder", "Filter", "COUNT", self.text()]  # fmt: skip
        pairs = [
            f"{_quote(rng.choice(names))}={_quote(self.text())}" for _ in range(rng.randrange(1, 5))
        ]
        path = rng.choice([f"/{self.resource()}", f"/{self.resource()}/{self.resource_id()}"])
        return Case("GET", path, "&".join(pairs))

    def headers_case(self) -> Case:
        rng = self.rng
        headers = {}
        for _ in range(rng.randrange(1, 4)):
            name = rng.choice(
                ["Content-Type", "If-Match", "X-Request-Id", "Accept", "Authorization"]
            )
            headers[name] = _header_safe(self.text())
        if "Authorization" in headers and not self.bad_auth:
            del headers["Authorization"]
        method = rng.choice(["GET", "PATCH", "PUT", "DELETE", "POST"])
        path = f"/{self.resource()}" + ("" if method == "POST" else f"/{self.resource_id()}")
        if method == "DELETE" and rng.random() < 0.9:
            headers["If-Match"] = _header_safe(self.text()) or 'W/"0"'
        body = None if method in ("GET", "DELETE") else self.encode(self.json_value())
        return Case(method, path, headers=headers, body=body)

    def raw_body(self) -> Case:
        rng = self.rng
        body = bytes(rng.randrange(256) for _ in range(rng.randrange(64)))
        if rng.random() < 0.5:
            body = self.mangle(json.dumps(self.json_value())).encode("utf-8", "surrogatepass")
        if rng.random() < 0.05:
            body = b"[" * rng.randrange(1, 50_000)
        method, path = rng.choice(
            [
                ("POST", "/Users"),
                ("POST", "/Groups"),
                ("POST", "/Users/.search"),
                ("PATCH", f"/{self.resource()}/{self.resource_id()}"),
            ]
        )
        return Case(method, path, body=body)

    def path_case(self) -> Case:
        rng = self.rng
        method = rng.choice(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"])
        tail = "/".join(_quote(self.text()) for _ in range(rng.randrange(1, 4)))
        path = rng.choice(["/", "/Schemas/", "/ResourceTypes/", "/Users/", "/Groups/"]) + tail
        return Case(method, path)

    def encode(self, body: Any) -> bytes:
        return json.dumps(body).encode("utf-8", "surrogatepass")


def _quote(text: str) -> str:
    """Percent-escape everything, lone surrogates too (as bytes no UTF-8 decoder accepts)."""
    return quote(text, safe="", errors="surrogatepass")


def _header_safe(text: str) -> str:
    return "".join(ch for ch in text if 0x20 <= ord(ch) < 0x7F)


async def campaign(
    target: Target, cases: int, concurrency: int, seed: int, request_timeout: float
) -> tuple[Tally, float]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=target.scim_base_url, timeout=request_timeout, limits=limits
    ) as client:
        known_ids = await _seed(client, target)
        tally = Tally()
        queue: asyncio.Queue[Case | None] = asyncio.Queue(maxsize=concurrency * 4)
        generator = Generator(random.Random(seed), known_ids, target.bad_auth)
        started = time.perf_counter()

        workers = [
            asyncio.create_task(_work(client, target, queue, tally)) for _ in range(concurrency)
        ]
        for number in range(cases):
            await queue.put(generator.case())
            if number and number % 10_000 == 0:
                _progress(tally, time.perf_counter() - started)
        for _ in workers:
            await queue.put(None)
        await asyncio.gather(*workers)

    return tally, time.perf_counter() - started


async def _work(
    client: httpx.AsyncClient, target: Target, queue: asyncio.Queue[Case | None], tally: Tally
) -> None:
    while (case := await queue.get()) is not None:
        headers = {"Authorization": target.authorization}
        if case.body is not None:
            headers["Content-Type"] = "application/scim+json"
        headers |= case.headers
        status: int | None = None
        failure: str | None = None
        try:
            response = await client.request(
                case.method,
                target.scim_base_url + case.path + (f"?{case.query}" if case.query else ""),
                headers=headers,
                content=case.body,
            )
            status = response.status_code
        except httpx.TimeoutException:
            failure = "timeout"
        except httpx.HTTPError as error:
            failure = type(error).__name__
        tally.record(case, status, failure)


async def _seed(client: httpx.AsyncClient, target: Target) -> list[str]:
    """A few users and a group for PATCH and PUT to reach."""
    headers = {"Authorization": target.authorization, "Content-Type": "application/scim+json"}
    ids = []
    for user_name in USER_NAMES[:5]:
        body = {"schemas": [USER_SCHEMA], "userName": user_name, "active": True}
        response = await client.post("/Users", json=body, headers=headers)
        if response.status_code == 201:
            ids.append(response.json()["id"])
    group = {"schemas": [GROUP_SCHEMA], "displayName": "fuzz seed group"}
    response = await client.post("/Groups", json=group, headers=headers)
    if response.status_code == 201:
        ids.append(response.json()["id"])

    return ids


def _progress(tally: Tally, elapsed: float) -> None:
    print(
        f"  {tally.cases} cases, {tally.five_hundreds} 5xx, {tally.timeouts} timeouts, "
        f"{tally.cases / elapsed:.0f}/s",
        file=sys.stderr,
        flush=True,
    )


@asynccontextmanager
async def own_gateway() -> AsyncIterator[Target]:
    """A gateway and a simulated portal in this process, on loopback ports the OS picks."""
    from aiohttp import web

    from gateway.app import build_app
    from gateway.auth.secrets import digest, new_secret
    from gateway.observability.logging import configure_logging
    from gateway.settings import load_settings
    from gateway.simulator import SimulatorConfig, create_app
    from gateway.web.listener import server_options

    password, portal_password = new_secret(), new_secret()
    portal = web.AppRunner(
        create_app(
            SimulatorConfig(service_username="scim-gateway", service_password=portal_password)
        ),
        access_log=None,
    )
    await portal.setup()
    portal_site = web.TCPSite(portal, "127.0.0.1", 0)
    await portal_site.start()
    portal_port = portal_site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    with tempfile.TemporaryDirectory() as var:
        settings = load_settings(
            overrides={
                "portal": {
                    "url": f"http://127.0.0.1:{portal_port}/kyvos",
                    "username": "scim-gateway",
                    "password": portal_password,
                },
                "store": {"url": f"sqlite+aiosqlite:///{Path(var) / 'gateway.db'}"},
                "auth": {
                    "basic": [{"username": "fuzz", "password_sha256": digest(password)}],
                    "throttle": {"enabled": False},
                },
                "logging": {"level": "error"},
            }
        )
        # Quiet: the campaign's figures are the output, not a million access events.
        configure_logging(settings.logging, stream=io.StringIO())
        gateway = web.AppRunner(
            build_app(settings), access_log=None, **server_options(settings.limits)
        )
        await gateway.setup()
        site = web.TCPSite(gateway, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        try:
            yield Target(
                f"http://127.0.0.1:{port}/scim/v2",
                "Basic " + base64.b64encode(f"fuzz:{password}".encode()).decode(),
                bad_auth=True,
            )
        finally:
            await gateway.cleanup()
            await portal.cleanup()


def _target_from(arguments: argparse.Namespace) -> Target:
    credentials = json.loads(Path(arguments.credentials).read_text(encoding="utf-8"))
    pair = f"{credentials['basic']['username']}:{credentials['basic']['password']}"
    return Target(
        arguments.url or credentials["scim_base_url"],
        "Basic " + base64.b64encode(pair.encode()).decode(),
        bad_auth=arguments.bad_auth,
    )


async def main(arguments: argparse.Namespace) -> int:
    if arguments.credentials:
        tally, elapsed = await campaign(
            _target_from(arguments),
            arguments.cases,
            arguments.concurrency,
            arguments.seed,
            arguments.timeout,
        )
    else:
        async with own_gateway() as target:
            tally, elapsed = await campaign(
                target, arguments.cases, arguments.concurrency, arguments.seed, arguments.timeout
            )

    print(f"cases:        {tally.cases}")
    print(f"5xx answers:  {tally.five_hundreds}")
    print(f"timeouts:     {tally.timeouts}")
    print(f"other errors: {sum(tally.errors.values())} {dict(tally.errors)}")
    print(f"rate:         {tally.cases / elapsed:.0f} cases/s over {elapsed:.0f} s")
    print(f"statuses:     {dict(sorted(tally.statuses.items()))}")
    for example in tally.server_errors:
        print(f"  {example}")

    return 1 if tally.five_hundreds or tally.timeouts else 0


def _arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
    parser.add_argument("--credentials", help="var/credentials.json written by `make run`")
    parser.add_argument("--url", help="SCIM base URL (default: the one in --credentials)")
    parser.add_argument("--bad-auth", action="store_true", help="fuzz credentials too")
    arguments = parser.parse_args(argv)
    if arguments.url and not arguments.credentials:
        parser.error("--url needs --credentials for the Basic login")

    return arguments


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main(_arguments())))
