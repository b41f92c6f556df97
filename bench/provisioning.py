"""Provisioning benchmark: the gateway beside the simulated Kyvos Web Portal, on loopback.

The portal simulator and the gateway each run in their own OS process (`python -m
gateway.simulator`, and `python -m gateway.cli serve`, which is `kyvos-scim-gateway serve`,
configured with KSG_* variables, generated credentials and a SQLite store in a temporary
folder), so the load generator, the gateway and the portal never share an event loop. Every
scenario sends a bounded number of requests for a bounded time; then the script prints a table
of figures and exits. No test asserts a time: the figures show the shape of the costs (flat
with the user count and the group size, one portal call per lookup, one login per run); read
them with the machine line printed above them.

    .venv/bin/python bench/provisioning.py            # full run, a few minutes
    .venv/bin/python bench/provisioning.py --quick    # smoke run, under 30 seconds
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from processes import LOOPBACK, free_port, stop, wait_until_ready

from gateway.auth.secrets import digest, new_secret

REPO = Path(__file__).resolve().parent.parent
SERVICE_ACCOUNT = "scim-gateway"
SCIM_CLIENT = "okta"
SEED_PREFIX = "seed"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"

SMALL_POPULATION = 1_000
LARGE_POPULATION = 20_000
LARGE_GROUP = 5_000
SMALL_GROUP = 10
MEMBER_POOL = 100
"""Users outside both groups that the member PATCHes add and remove again."""

CREATE_CONCURRENCY = (1, 16)

Send = Callable[[int], Awaitable[bool]]
"""Sends request number i; answers whether the answer was the expected one."""


@dataclass(frozen=True)
class Options:
    requests: int
    concurrency: int
    seconds: float
    """Each scenario stops after this long even when requests remain."""


@dataclass
class Sample:
    latencies: list[float]
    failures: int
    elapsed: float

    def percentile(self, p: int) -> float:
        if len(self.latencies) < 2:
            return self.latencies[0] if self.latencies else float("nan")

        return statistics.quantiles(self.latencies, n=100, method="inclusive")[p - 1]


@dataclass
class PortalUse:
    """What the portal served during one gateway scenario."""

    requests: int
    logins: int
    calls: dict[str, int]


@dataclass
class Row:
    scenario: str
    via: str
    size: str
    concurrency: int
    sample: Sample
    portal: PortalUse | None = None


@dataclass
class Bench:
    """The load generator's client, where the two processes listen, the credentials it calls
    them with, and the figures so far."""

    client: httpx.AsyncClient
    scim_url: str
    portal_url: str
    basic_auth: httpx.BasicAuth
    session_id: str = ""
    rows: list[Row] = field(default_factory=list)

    @property
    def portal_headers(self) -> dict[str, str]:
        return {"sessionid": self.session_id}


# -- command line -----------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        prog="bench/provisioning.py",
        description="Measure the gateway and the simulated Kyvos portal on loopback.",
    )
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke run")
    parser.add_argument("--requests", type=int, help="requests per scenario (2000; quick 50)")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight (8)")
    parser.add_argument("--seconds", type=float, help="time cap per scenario (30; quick 1.5)")
    arguments = parser.parse_args(argv)

    requests = arguments.requests or (50 if arguments.quick else 2000)
    seconds = arguments.seconds or (1.5 if arguments.quick else 30.0)
    if requests < 1 or arguments.concurrency < 1 or seconds <= 0:
        parser.error("--requests, --concurrency and --seconds must be positive")

    return Options(requests=requests, concurrency=arguments.concurrency, seconds=seconds)


def main(argv: list[str] | None = None) -> None:
    options = parse_args(argv)
    print(machine())
    print(
        f"each scenario: {options.requests} requests, at most {options.seconds:g} s; "
        f"concurrency {options.concurrency} unless the table says otherwise"
    )
    began = time.perf_counter()

    with tempfile.TemporaryDirectory(prefix="ksg-bench-") as folder:
        rows, startup_logins = run(options, Path(folder))

    print_table(rows)
    print_portal_calls(rows, startup_logins)
    print(f"\nwhole run: {time.perf_counter() - began:.0f} s; {load_average()}")


def machine() -> str:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()

    return (
        f"machine: {cpus} CPUs (nproc), {platform.machine()}, {platform.system()} "
        f"{platform.release()}; Python {platform.python_version()}; httpx {httpx.__version__}; "
        f"{load_average()}"
    )


def load_average() -> str:
    """Other work on the machine moves every figure; say how busy it was."""
    one, five, _ = os.getloadavg()

    return f"load average {one:.2f} (1 min), {five:.2f} (5 min)"


# -- the two processes ------------------------------------------------------------------------


def run(options: Options, folder: Path) -> tuple[list[Row], int]:
    """Start the portal, then the gateway in front of it, and measure; answers the rows and
    the logins the gateway made while starting."""
    portal_password, basic_password = new_secret(), new_secret()
    portal_url = f"http://{LOOPBACK}:{free_port()}/kyvos"
    gateway_port = free_port()

    with simulator(portal_url, portal_password, folder / "portal.log"):
        gateway_env = gateway_environment(
            portal_url, portal_password, basic_password, gateway_port, folder
        )
        with gateway(gateway_env, gateway_port, folder / "gateway.log"):
            startup_logins = portal_counters_now(portal_url)["logins"]
            rows = asyncio.run(
                measure(
                    options,
                    scim_url=f"http://{LOOPBACK}:{gateway_port}/scim/v2",
                    portal_url=portal_url,
                    portal_password=portal_password,
                    basic_auth=httpx.BasicAuth(SCIM_CLIENT, basic_password),
                )
            )

    return rows, startup_logins


@contextmanager
def simulator(portal_url: str, password: str, log: Path) -> Iterator[None]:
    port = httpx.URL(portal_url).port
    command = [sys.executable, "-m", "gateway.simulator", "--host", LOOPBACK, "--port", str(port)]
    command += ["--service-username", SERVICE_ACCOUNT]
    env = clean_environment() | {"KYVOS_SIM_SERVICE_PASSWORD": password}

    with child_process(command, env, log, ready_url=f"{portal_url}/rest/about"):
        yield


@contextmanager
def gateway(env: dict[str, str], port: int, log: Path) -> Iterator[None]:
    command = [sys.executable, "-m", "gateway.cli", "serve"]

    with child_process(command, env, log, ready_url=f"http://{LOOPBACK}:{port}/readyz"):
        yield


def gateway_environment(
    portal_url: str, portal_password: str, basic_password: str, port: int, folder: Path
) -> dict[str, str]:
    """The gateway's whole configuration as KSG_* variables: only the digest of the SCIM
    client's secret, as in production."""
    basic = f'[{{"username": "{SCIM_CLIENT}", "password_sha256": "{digest(basic_password)}"}}]'

    return clean_environment() | {
        "KSG_SERVER__HOST": LOOPBACK,
        "KSG_SERVER__PORT": str(port),
        "KSG_PORTAL__URL": portal_url,
        "KSG_PORTAL__USERNAME": SERVICE_ACCOUNT,
        "KSG_PORTAL__PASSWORD": portal_password,
        "KSG_STORE__URL": f"sqlite+aiosqlite:///{folder / 'gateway.db'}",
        "KSG_AUTH__BASIC": basic,
    }


def clean_environment() -> dict[str, str]:
    """This process's environment minus any gateway configuration it happens to carry."""
    return {name: value for name, value in os.environ.items() if not name.startswith("KSG_")}


@contextmanager
def child_process(
    command: list[str], env: dict[str, str], log: Path, *, ready_url: str
) -> Iterator[None]:
    with log.open("wb") as output:
        child = subprocess.Popen(
            command, env=env, cwd=REPO, stdout=output, stderr=subprocess.STDOUT
        )
        try:
            wait_until_ready(child, ready_url, log)
            yield
        finally:
            stop(child)


def portal_counters_now(portal_url: str) -> dict[str, Any]:
    counters: dict[str, Any] = httpx.get(f"{portal_url}/sim/requests").json()["counters"]

    return counters


# -- the scenarios ----------------------------------------------------------------------------


async def measure(
    options: Options,
    *,
    scim_url: str,
    portal_url: str,
    portal_password: str,
    basic_auth: httpx.BasicAuth,
) -> list[Row]:
    limits = httpx.Limits(max_connections=max(options.concurrency, *CREATE_CONCURRENCY) * 2)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        bench = Bench(client, scim_url, portal_url, basic_auth)
        bench.session_id = await log_in(bench, portal_password)

        names = await seed(bench, SMALL_POPULATION)
        await lookups(bench, options, names, SMALL_POPULATION)

        names = await seed(bench, LARGE_POPULATION - SMALL_POPULATION)
        await lookups(bench, options, names, LARGE_POPULATION)

        external_ids = await creates(bench, options)
        await external_id_lookups(bench, options, external_ids)

        await member_patches(bench, options)

    return bench.rows


async def lookups(bench: Bench, options: Options, names: list[str], population: int) -> None:
    """`userName eq` through the gateway and the same lookup asked of the portal: one request
    at a time (the latency each adds), then `--concurrency` at once (the rate each sustains)."""
    size = f"{population:,} users"
    values = shuffled(names)
    gateway, portal = scim_lookup(bench, "userName", values), portal_lookup(bench, values)
    await warm_up(gateway, portal)

    for concurrency in dict.fromkeys((1, options.concurrency)):
        await scenario(bench, options, "userName eq", size, gateway, concurrency=concurrency)
        await scenario(
            bench, options, "userName eq", size, portal, via="portal", concurrency=concurrency
        )


async def warm_up(*sends: Send) -> None:
    """Open the pooled connections and load lazy imports before anything is timed."""
    for send in sends:
        await drive(send, total=20, concurrency=4, seconds=5)


async def creates(bench: Bench, options: Options) -> list[str]:
    """POST /Users at concurrency 1 and 16; answers the externalIds of the users made."""
    created: list[str] = []
    for concurrency in CREATE_CONCURRENCY:
        send = scim_create(bench, f"c{concurrency}", created)
        await scenario(bench, options, "create user", "new users", send, concurrency=concurrency)

    return created


async def external_id_lookups(bench: Bench, options: Options, external_ids: list[str]) -> None:
    size = f"{len(external_ids):,} in store"
    send = scim_lookup(bench, "externalId", shuffled(external_ids))

    await scenario(bench, options, "externalId eq", size, send)


async def member_patches(bench: Bench, options: Options) -> None:
    """Add then remove one member, on a large and a small group: once as Okta and Entra send
    the PATCH (the answer carries the group), once with `excludedAttributes=members`.

    One request at a time: the gateway serialises the changes to one group, and IdPs send a
    group's changes one after the other."""
    user_ids = await seeded_user_ids(bench, LARGE_GROUP + MEMBER_POOL)
    pool = user_ids[LARGE_GROUP:]
    groups = {
        LARGE_GROUP: await group_with_members(bench, "Bench Large", user_ids[:LARGE_GROUP]),
        SMALL_GROUP: await group_with_members(bench, "Bench Small", user_ids[:SMALL_GROUP]),
    }

    for answer, query in (("PATCH members", {}), ("PATCH, no members", NO_MEMBERS)):
        for members, group_id in groups.items():
            send = scim_member_patch(bench, group_id, pool, query)
            size = f"{members:,} members"
            await scenario(bench, options, answer, size, send, concurrency=1)


NO_MEMBERS = {"excludedAttributes": "members"}


async def scenario(
    bench: Bench,
    options: Options,
    name: str,
    size: str,
    send: Send,
    *,
    via: str = "gateway",
    concurrency: int | None = None,
) -> None:
    """Run one scenario; for the gateway, also count what the portal served meanwhile."""
    concurrency = concurrency or options.concurrency
    await clear_portal_log(bench)

    sample = await drive(
        send, total=options.requests, concurrency=concurrency, seconds=options.seconds
    )
    portal = await portal_use(bench) if via == "gateway" else None

    bench.rows.append(Row(name, via, size, concurrency, sample, portal))
    report_progress(bench.rows[-1])


async def drive(send: Send, *, total: int, concurrency: int, seconds: float) -> Sample:
    """`concurrency` workers share `total` requests and stop at the deadline."""
    latencies: list[float] = []
    failures = 0
    indexes = iter(range(total))
    began = time.perf_counter()
    deadline = began + seconds

    async def worker() -> None:
        nonlocal failures
        for i in indexes:
            if time.perf_counter() > deadline:
                return
            start = time.perf_counter()
            ok = await answered(send, i)
            latencies.append(time.perf_counter() - start)
            failures += not ok

    await asyncio.gather(*(worker() for _ in range(concurrency)))

    return Sample(latencies, failures, time.perf_counter() - began)


async def answered(send: Send, i: int) -> bool:
    try:
        return await send(i)
    except httpx.HTTPError:
        return False


# -- the requests -----------------------------------------------------------------------------


def scim_lookup(bench: Bench, attribute: str, values: list[str]) -> Send:
    """A list request as Okta sends it: `filter=... eq "..."&startIndex=1&count=100`."""

    async def send(i: int) -> bool:
        value = values[i % len(values)]
        params = {"filter": f'{attribute} eq "{value}"', "startIndex": "1", "count": "100"}
        response = await bench.client.get(
            f"{bench.scim_url}/Users", params=params, auth=bench.basic_auth
        )

        return response.status_code == 200 and response.json()["totalResults"] == 1

    return send


def portal_lookup(bench: Bench, user_names: list[str]) -> Send:
    """The same lookup asked of the portal directly, as the gateway asks it."""

    async def send(i: int) -> bool:
        params = {"userName": user_names[i % len(user_names)], "offset": "0", "limit": "500"}
        response = await bench.client.get(
            f"{bench.portal_url}/rest/security/users", params=params, headers=bench.portal_headers
        )

        return response.status_code == 200 and response.json()["total"] == 1

    return send


def scim_create(bench: Bench, run: str, created: list[str]) -> Send:
    async def send(i: int) -> bool:
        user_name = f"bench.{run}.{i}@example.com"
        external_id = f"00u-bench-{run}-{i}"
        response = await bench.client.post(
            f"{bench.scim_url}/Users", json=new_user(user_name, external_id), auth=bench.basic_auth
        )

        if response.status_code != 201:
            return False
        created.append(external_id)
        return True

    return send


def new_user(user_name: str, external_id: str) -> dict[str, Any]:
    return {
        "schemas": [USER_SCHEMA],
        "userName": user_name,
        "externalId": external_id,
        "name": {"givenName": "Bench", "familyName": "User"},
        "emails": [{"primary": True, "value": user_name, "type": "work"}],
        "active": True,
    }


def scim_member_patch(bench: Bench, group_id: str, pool: list[str], query: dict[str, str]) -> Send:
    """Even requests add a pool user, odd ones remove them again (Okta's filtered remove)."""

    async def send(i: int) -> bool:
        user_id = pool[(i // 2) % len(pool)]
        operation: dict[str, Any] = (
            {"op": "add", "path": "members", "value": [{"value": user_id}]}
            if i % 2 == 0
            else {"op": "remove", "path": f'members[value eq "{user_id}"]'}
        )
        response = await bench.client.patch(
            f"{bench.scim_url}/Groups/{group_id}",
            params=query,
            json={"schemas": [PATCH_OP], "Operations": [operation]},
            auth=bench.basic_auth,
        )

        return response.status_code in (200, 204)

    return send


# -- arranging the portal ---------------------------------------------------------------------


async def log_in(bench: Bench, password: str) -> str:
    """The benchmark's own portal session, for the direct lookups."""
    response = await bench.client.post(
        f"{bench.portal_url}/rest/login", data={"username": SERVICE_ACCOUNT, "password": password}
    )
    response.raise_for_status()

    return response.text.split("<SUCCESS>")[1].split("</SUCCESS>")[0]


async def seed(bench: Bench, count: int) -> list[str]:
    """Add `count` users to the portal; answers the userNames of every seeded user so far."""
    response = await bench.client.post(
        f"{bench.portal_url}/sim/users/seed", json={"count": count, "prefix": SEED_PREFIX}
    )
    response.raise_for_status()

    return [user["userName"] for user in await seeded_users(bench)]


async def seeded_user_ids(bench: Bench, count: int) -> list[str]:
    return [user["id"] for user in await seeded_users(bench)][:count]


async def seeded_users(bench: Bench) -> list[dict[str, Any]]:
    users: list[dict[str, Any]] = []
    total = 1
    while len(users) < total:
        params = {"offset": str(len(users)), "limit": "5000"}
        response = await bench.client.get(
            f"{bench.portal_url}/rest/security/users", params=params, headers=bench.portal_headers
        )
        page = response.json()
        total, users = page["total"], users + page["users"]

    return [user for user in users if user["userName"].startswith(f"{SEED_PREFIX}.")]


async def group_with_members(bench: Bench, name: str, user_ids: list[str]) -> str:
    """A group made through the gateway, filled through the portal (arranging, not measured)."""
    body = {"schemas": [GROUP_SCHEMA], "displayName": name, "externalId": name.lower()}
    response = await bench.client.post(f"{bench.scim_url}/Groups", json=body, auth=bench.basic_auth)
    response.raise_for_status()
    group_id: str = response.json()["id"]

    for start in range(0, len(user_ids), 1000):
        chunk = user_ids[start : start + 1000]
        added = await bench.client.post(
            f"{bench.portal_url}/rest/security/groups/{group_id}/members",
            json={"userIds": chunk},
            headers=bench.portal_headers,
        )
        added.raise_for_status()

    return group_id


async def clear_portal_log(bench: Bench) -> None:
    response = await bench.client.delete(f"{bench.portal_url}/sim/requests")
    response.raise_for_status()


async def portal_use(bench: Bench) -> PortalUse:
    response = await bench.client.get(f"{bench.portal_url}/sim/requests")
    counters = response.json()["counters"]

    return PortalUse(counters["requests"], counters["logins"], counters["calls"])


def shuffled(values: list[str]) -> list[str]:
    """A fixed shuffle, so that runs are comparable and no lookup follows seeding order."""
    copy = list(values)
    random.Random(20_000).shuffle(copy)

    return copy


# -- the figures ------------------------------------------------------------------------------

HEADER = (
    f"{'scenario':<18} {'via':<8} {'size':<16} {'conc':>4} {'requests':>8} {'errors':>6} "
    f"{'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}"
)


def report_progress(row: Row) -> None:
    print(
        f"  {row.scenario}, {row.via}, {row.size}, concurrency {row.concurrency}: "
        f"{len(row.sample.latencies)} requests in {row.sample.elapsed:.1f} s",
        file=sys.stderr,
        flush=True,
    )


def print_table(rows: list[Row]) -> None:
    print()
    print(HEADER)
    print("-" * len(HEADER))
    for row in rows:
        print(table_line(row))

    print()
    for line in gateway_overheads(rows):
        print(line)


def table_line(row: Row) -> str:
    sample = row.sample
    done = len(sample.latencies)
    rate = done / sample.elapsed if sample.elapsed else float("nan")

    return (
        f"{row.scenario:<18} {row.via:<8} {row.size:<16} {row.concurrency:>4} {done:>8} "
        f"{sample.failures:>6} {rate:>7.0f} {ms(sample.percentile(50)):>7} "
        f"{ms(sample.percentile(95)):>7} {ms(sample.percentile(99)):>7}"
    )


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def gateway_overheads(rows: list[Row]) -> list[str]:
    """The gateway's p50 over the portal's, wherever a lookup was measured both ways."""
    lines = []
    for portal in (row for row in rows if row.via == "portal"):
        gateway = next(
            row
            for row in rows
            if (row.via, row.scenario, row.size, row.concurrency)
            == ("gateway", portal.scenario, portal.size, portal.concurrency)
        )
        added = gateway.sample.percentile(50) - portal.sample.percentile(50)
        lines.append(
            f"gateway overhead on a {portal.scenario} lookup, {portal.size}, concurrency "
            f"{portal.concurrency}: +{ms(added)} ms at p50"
        )

    return lines


def print_portal_calls(rows: list[Row], startup_logins: int) -> None:
    print("\nportal calls per SCIM request (from the simulator's request log)")
    print(f"  {'scenario':<18} {'size':<16} {'conc':>4} {'calls':>6}  per route")
    scim_requests = 0
    run_logins = 0
    for row in rows:
        if row.portal is None:
            continue
        done = max(len(row.sample.latencies), 1)
        scim_requests += done
        run_logins += row.portal.logins
        print(
            f"  {row.scenario:<18} {row.size:<16} {row.concurrency:>4} "
            f"{row.portal.requests / done:>6.2f}  {per_route(row.portal, done)}"
        )

    print(
        f"portal logins: {startup_logins} at gateway start-up, {run_logins} during "
        f"{scim_requests:,} SCIM requests"
    )


def per_route(portal: PortalUse, done: int) -> str:
    routes = sorted(portal.calls.items(), key=lambda item: -item[1])

    return ", ".join(
        f"{route.replace('/rest/security', '')} {count / done:.2f}" for route, count in routes
    )


if __name__ == "__main__":
    main()
