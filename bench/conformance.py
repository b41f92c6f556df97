"""Public SCIM conformance suites against the gateway and its simulated portal.

Starts `kyvos-scim-gateway run` (the embedded default configuration, a simulated Kyvos Web
Portal and demo credentials) on free loopback ports in a temporary folder, runs three suites
against it and prints one `N passed, M failed` line per suite:

- scim2-tester, every check, through its Python API (`check_server`);
- scim2-cli's `scim2 test`, the same checker as an operator runs it, over a discovered server;
- `scim-sanity probe`, a CRUD lifecycle probe in strict mode.

A failure listed in ACCEPTED is a check that contradicts what Okta or Entra need; it still
counts as failed, and is marked `accepted:` with the reason. Needs the `conformance` extra:

    .venv/bin/pip install -e '.[conformance]'
    .venv/bin/python bench/conformance.py
"""

import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from processes import LOOPBACK as HOST
from processes import free_port, stop, wait_until_ready

SUITE_TIMEOUT_SECONDS = 600

# (suites, words in the check's name or message) -> why the gateway keeps its behaviour.
SCIM2 = ("scim2-tester", "scim2-cli")
ACCEPTED: dict[tuple[tuple[str, ...], str], str] = {
    (("scim-sanity",), "add member"): (
        "The probe adds the member id 'fake-member-id' and expects 200. Kyvos groups hold "
        "portal users only; a member id that is no portal user fails the whole PATCH with "
        "400 invalidValue and changes nothing, so a group never silently loses a member the "
        "IdP believes it pushed (Okta and Entra report the error and retry)."
    ),
    (SCIM2, "Remote Authentication System"): (
        "`roles` is the user's Kyvos role. Kyvos lets it change only when the portal "
        "authenticates through its Remote Authentication System; otherwise a PUT or PATCH "
        "that changes it is refused with a clear error, and the checker's random role names "
        "are no Kyvos roles anyway."
    ),
    (SCIM2, "remove attribute 'roles'"): (
        "`roles` mirrors the user's Kyvos role, which a Kyvos user always has; removing it "
        "cannot unassign the role, so the user keeps it."
    ),
    (SCIM2, "remove attribute 'active'"): (
        "A Kyvos user is always ACTIVE or INACTIVE. Removing `active` is refused with 400 "
        "mutability, because an unassigned `active` would silently reactivate a deactivated "
        "user. Okta and Entra always send true or false."
    ),
    (SCIM2, "urn:kyvos:params:scim:schemas:extension:kyvos:2.0:User"): (
        "The Kyvos extension holds only the read-only `effectiveRole` (the role Kyvos grants, "
        "own role and group roles together); the checker writes the extension as a whole and "
        "expects it back without that read-only value."
    ),
    (SCIM2, "value for 'members'"): (
        "The checker compares each member whole, including `display`, which /Schemas publishes "
        "as readOnly: the gateway answers the member's Kyvos userName there, so that Okta and "
        "Entra logs name the member, whatever display was sent."
    ),
}


@dataclass
class Check:
    name: str
    passed: bool
    detail: str = ""


@dataclass
class SuiteResult:
    suite: str
    checks: list[Check] = field(default_factory=list)
    problem: str | None = None

    @property
    def passed(self) -> int:
        return sum(1 for check in self.checks if check.passed)

    @property
    def failed(self) -> int:
        return sum(1 for check in self.checks if not check.passed) + (1 if self.problem else 0)


@dataclass(frozen=True)
class Gateway:
    scim_base_url: str
    basic_username: str
    basic_password: str
    bearer_token: str

    @property
    def basic_header(self) -> str:
        pair = f"{self.basic_username}:{self.basic_password}".encode()
        return "Basic " + base64.b64encode(pair).decode()

    @property
    def bearer_header(self) -> str:
        return f"Bearer {self.bearer_token}"


# The gateway under test.


@contextmanager
def running_gateway(var: Path) -> Iterator[Gateway]:
    """`kyvos-scim-gateway run` in the background until the block ends."""
    port, portal_port = free_port(), free_port()
    command = [
        _console_script("kyvos-scim-gateway"),
        "run",
        "--var",
        str(var),
        "--host",
        HOST,
        "--port",
        str(port),
        "--portal-port",
        str(portal_port),
    ]
    log_path = var / "gateway.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_until_ready(process, f"http://{HOST}:{port}/healthz", log_path)
            yield _gateway_of(var / "credentials.json")
        finally:
            stop(process)


def _console_script(name: str) -> str:
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} is not installed; run `pip install -e '.[conformance]'`.")
    return found


def _gateway_of(credentials_path: Path) -> Gateway:
    credentials = json.loads(credentials_path.read_text(encoding="utf-8"))
    return Gateway(
        scim_base_url=credentials["scim_base_url"],
        basic_username=credentials["basic"]["username"],
        basic_password=credentials["basic"]["password"],
        bearer_token=credentials["bearer_token"],
    )


# The suites.


def scim2_tester(gateway: Gateway) -> SuiteResult:
    """Every scim2-tester check, the server described by its own discovery endpoints."""
    from httpx2 import Client
    from scim2_client.engines.httpx2 import SyncSCIMClient
    from scim2_tester import Status, check_server

    passing = {Status.SUCCESS, Status.COMPLIANT, Status.ACCEPTABLE}
    result = SuiteResult("scim2-tester")
    headers = {"Authorization": gateway.bearer_header}
    with Client(base_url=gateway.scim_base_url, headers=headers, timeout=30) as http:
        for check in check_server(SyncSCIMClient(http)):
            if check.status == Status.SKIPPED:
                continue
            result.checks.append(
                Check(
                    name=f"{check.resource_type or '-'} {check.title}",
                    passed=check.status in passing,
                    detail=f"{check.status.name}: {check.reason or ''}",
                )
            )
    return result


def scim2_cli(gateway: Gateway) -> SuiteResult:
    """`scim2 test`: one line per check, `STATUS title`, then an indented reason."""
    result = SuiteResult("scim2-cli")
    environment = {**os.environ, "SCIM_CLI_HEADERS": f"Authorization: {gateway.bearer_header}"}
    environment["NO_COLOR"] = "1"
    completed = _run([_console_script("scim2"), "-u", gateway.scim_base_url, "test"], environment)

    statuses = {"SUCCESS", "COMPLIANT", "ACCEPTABLE", "DEVIATION", "ERROR", "CRITICAL"}
    for line in _plain(completed.stdout).splitlines():
        status, _, title = line.partition(" ")
        if status in statuses:
            result.checks.append(Check(title, status in {"SUCCESS", "COMPLIANT", "ACCEPTABLE"}))
        elif line.strip() and result.checks:
            result.checks[-1].detail = (result.checks[-1].detail + " " + line.strip()).strip()
    if not result.checks:
        result.problem = f"scim2 test printed no checks: {completed.stderr[-2000:]}"
    return result


def scim_sanity(gateway: Gateway) -> SuiteResult:
    """`scim-sanity probe` in strict mode, with the Basic credential Okta uses."""
    result = SuiteResult("scim-sanity")
    command = [
        _console_script("scim-sanity"),
        "probe",
        gateway.scim_base_url,
        "--username",
        gateway.basic_username,
        "--password",
        gateway.basic_password,
        "--json-output",
        "--i-accept-side-effects",
    ]
    completed = _run(command, dict(os.environ))

    try:
        report = json.loads(completed.stdout)
    except json.JSONDecodeError:
        result.problem = f"scim-sanity printed no JSON report: {completed.stdout[-2000:]}"
        return result
    for item in report.get("results", []):
        status = str(item.get("status", "")).lower()
        if status in ("skip", "skipped"):
            continue
        name = str(item.get("name", ""))
        passed = status in ("pass", "passed", "warn", "warning")
        result.checks.append(Check(name, passed, str(item.get("message") or "")))
    return result


def _run(command: list[str], environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        env=environment,
        capture_output=True,
        text=True,
        timeout=SUITE_TIMEOUT_SECONDS,
        check=False,
    )


def _plain(text: str) -> str:
    """Text without ANSI colour codes."""
    out = []
    skipping = False
    for character in text:
        if character == "\x1b":
            skipping = True
        elif skipping and character == "m":
            skipping = False
        elif not skipping:
            out.append(character)
    return "".join(out)


# The report.

SUITES = {"scim2-tester": scim2_tester, "scim2-cli": scim2_cli, "scim-sanity": scim_sanity}


def accepted_reason(suite: str, check: Check) -> str | None:
    text = f"{check.name} {check.detail}".lower()
    for (suites, words), reason in ACCEPTED.items():
        if suite in suites and words.lower() in text:
            return reason
    return None


def report(result: SuiteResult, *, verbose: bool) -> None:
    for check in result.checks:
        if check.passed and not verbose:
            continue
        reason = None if check.passed else accepted_reason(result.suite, check)
        mark = "ok" if check.passed else ("accepted" if reason else "FAIL")
        print(f"  {mark}: {check.name} {check.detail}".rstrip()[:400])
        if reason:
            print(f"      why: {reason}")
    if result.problem:
        print(f"  FAIL: {result.problem}")
    print(f"{result.suite}: {result.passed} passed, {result.failed} failed")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("suites", nargs="*", help=f"some of {', '.join(SUITES)} (all)")
    parser.add_argument("-v", "--verbose", action="store_true", help="list passing checks too")
    arguments = parser.parse_args(argv)
    unknown = set(arguments.suites) - set(SUITES)
    if unknown:
        parser.error(f"unknown suites {sorted(unknown)}; choose from {', '.join(SUITES)}")

    results = []
    with tempfile.TemporaryDirectory(prefix="ksg-conformance-") as folder:
        with running_gateway(Path(folder)) as gateway:
            for name in arguments.suites or SUITES:
                result = SUITES[name](gateway)
                report(result, verbose=arguments.verbose)
                results.append(result)

    unexplained = [
        check
        for result in results
        for check in result.checks
        if not check.passed and accepted_reason(result.suite, check) is None
    ]
    problems = [result for result in results if result.problem]
    return 1 if unexplained or problems else 0


if __name__ == "__main__":
    sys.exit(main())
