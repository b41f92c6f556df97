"""Replays recorded IdP exchanges (the JSON scenarios beside this file) against a gateway.

Each scenario is a sequence of SCIM requests as Okta or Entra send them, what a correct gateway
answers, and what the Kyvos Web Portal must hold afterwards, read through the portal's own API.
The format is described in `README.md` beside this file.

Used by the test suite against a gateway and simulator it starts, and by hand against a running
`make run`:

    .venv/bin/python -m tests.traffic.replayer --credentials var/credentials.json
"""

import argparse
import asyncio
import json
import re
import sys
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).parent
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass
class Target:
    """Where to send the scenarios, and how to read the portal back."""

    scim_base_url: str
    authorization: str
    portal_url: str
    portal_username: str
    portal_password: str
    default_role: str = "Business User"
    existing_user: str = "dana.whitfield@example.com"
    existing_user_role: str = "Designer"
    static_token: str | None = None


class ReplayFailure(AssertionError):
    pass


class WrongPortalMode(ReplayFailure):
    """The scenario was written for a portal in another authentication mode."""


@dataclass
class Replay:
    scenario: dict[str, Any]
    target: Target
    names: dict[str, Any] = field(default_factory=dict)

    async def run(self) -> None:
        self.names |= {
            "run": uuid.uuid4().hex[:10],
            "default_role": self.target.default_role,
            "existing_user": self.target.existing_user,
            "existing_user_role": self.target.existing_user_role,
        }
        async with (
            httpx.AsyncClient(base_url=self.target.scim_base_url, timeout=30) as scim,
            PortalReader(self.target) as portal,
        ):
            await portal.check_mode(self.scenario.get("portal") or {}, self.scenario["name"])
            for number, step in enumerate(self.scenario["steps"], start=1):
                where = f"{self.scenario['name']} step {number} ({_describe(step)})"
                await self._step(scim, portal, step, where)

    async def _step(
        self, scim: httpx.AsyncClient, portal: "PortalReader", step: dict[str, Any], where: str
    ) -> None:
        request = step["request"]
        headers = self._headers(request)
        if headers is None:
            return

        body = self._body(request.get("body"))
        response = await scim.request(
            request["method"],
            self.target.scim_base_url + self._fill(request["path"]),
            headers=headers,
            content=json.dumps(body).encode() if body is not None else None,
        )
        answer = response.json() if response.content else None

        check_expectations(step.get("expect", {}), response, answer, self._fill, where)
        for name, path in (step.get("save") or {}).items():
            self.names[name] = answer if path == "$" else _dig(answer, path.split("."), where)
        if step.get("portal"):
            await portal.check(self._fill(step["portal"]), where)

    def _headers(self, request: dict[str, Any]) -> dict[str, str] | None:
        headers = dict(self._fill(request.get("headers") or {}))
        auth = request.get("auth")
        if auth is None:
            headers["Authorization"] = self.target.authorization
        elif auth == "non-token":
            headers["Authorization"] = "non-token"
        elif auth == "header-token-without-scheme":
            if not self.target.static_token:
                return None
            headers["Authorization"] = self.target.static_token

        return headers

    def _body(self, body: Any) -> Any:
        if isinstance(body, dict) and "$merge" in body:
            merged = dict(self._fill(body["$merge"]))
            merged.update(self._fill({k: v for k, v in body.items() if k != "$merge"}))
            return merged

        return self._fill(body)

    def _fill(self, value: Any) -> Any:
        """Replace `{name}` placeholders; a string that is one placeholder takes its value."""
        if isinstance(value, str):
            whole = PLACEHOLDER.fullmatch(value)
            if whole and whole.group(1) in self.names:
                return self.names[whole.group(1)]
            return PLACEHOLDER.sub(lambda m: str(self.names.get(m.group(1), m.group(0))), value)
        if isinstance(value, list):
            return [self._fill(item) for item in value]
        if isinstance(value, dict):
            return {self._fill(key): self._fill(item) for key, item in value.items()}

        return value


class PortalReader:
    """Reads the portal's state through the portal's own REST API, as the service account."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.client = httpx.AsyncClient(base_url=target.portal_url, timeout=30)

    async def __aenter__(self) -> "PortalReader":
        login = await self.client.post(
            "/rest/login",
            data={"username": self.target.portal_username, "password": self.target.portal_password},
        )
        login.raise_for_status()
        session = re.search(r"<SUCCESS>([^<]+)</SUCCESS>", login.text)
        if session is None:
            raise ReplayFailure("the portal's login answer holds no session id")
        self.client.headers["sessionid"] = session.group(1)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.aclose()

    async def check_mode(self, wanted: dict[str, Any], where: str) -> None:
        """A scenario written for a portal in another mode cannot pass here; say so first."""
        system = wanted.get("authentication_system")
        if system is None:
            return

        actual = (await self._get("/rest/security/authentication", where))["authenticationSystem"]
        if str(actual).upper() != str(system).upper():
            raise WrongPortalMode(
                f"{where}: needs a portal that authenticates through {system}; this one uses "
                f"{actual} (start it with `PORTAL_AUTH_SYSTEM={system} make run`)"
            )

    async def check(self, expected: dict[str, Any], where: str) -> None:
        if "user" in expected:
            record = await self._get(f"/rest/security/users/{expected['user']}", where)
            _contains(record, expected.get("has", {}), f"{where}: portal user")
        elif "group" in expected and "members" in expected:
            members = await self._members(expected["group"], where)
            if sorted(members) != sorted(expected["members"]):
                raise ReplayFailure(
                    f"{where}: portal group members are {sorted(members)}, "
                    f"expected {sorted(expected['members'])}"
                )
        elif "group" in expected:
            record = await self._get(f"/rest/security/groups/{expected['group']}", where)
            _contains(record, expected.get("has", {}), f"{where}: portal group")

    async def _get(self, path: str, where: str) -> Any:
        response = await self.client.get(path)
        if response.status_code != 200:
            raise ReplayFailure(f"{where}: portal GET {path} answered {response.status_code}")
        return response.json()

    async def _members(self, group_id: str, where: str) -> list[str]:
        answer = await self._get(f"/rest/security/groups/{group_id}/members?limit=10000", where)
        return [member["id"] for member in answer["users"]]


def check_expectations(
    expect: dict[str, Any], response: httpx.Response, answer: Any, fill: Any, where: str
) -> None:
    status = expect.get("status")
    if status is not None:
        accepted = status if isinstance(status, list) else [status]
        if response.status_code not in accepted:
            raise ReplayFailure(
                f"{where}: status {response.status_code}, expected {status}; body {answer}"
            )
    if "json" in expect:
        _contains(answer, fill(expect["json"]), f"{where}: body")
    if "not_json" in expect and _matches(answer, fill(expect["not_json"])):
        raise ReplayFailure(f"{where}: body contains {expect['not_json']}: {answer}")
    for path in expect.get("present", []):
        if not _has(answer, path.split(".")):
            raise ReplayFailure(f"{where}: body lacks {path}: {answer}")
    for path in expect.get("absent", []):
        if _has(answer, path.split(".")):
            raise ReplayFailure(f"{where}: body has {path}, which must be absent: {answer}")
    for name in expect.get("headers_present", []):
        if name not in response.headers:
            raise ReplayFailure(f"{where}: no {name} header")
    for path, kind in (expect.get("types") or {}).items():
        _check_type(_dig(answer, path.split("."), where), kind, f"{where}: {path}")
    for path, least in (expect.get("min_items") or {}).items():
        items = _dig(answer, path.split("."), where)
        if len(items) < least:
            raise ReplayFailure(f"{where}: {path} has {len(items)} items, expected >= {least}")
    for path, keys in (expect.get("each") or {}).items():
        for item in _dig(answer, path.split("."), where):
            missing = [key for key in keys if key not in item]
            if missing:
                raise ReplayFailure(f"{where}: an element of {path} lacks {missing}: {item}")


def _contains(actual: Any, expected: Any, where: str) -> None:
    if not _matches(actual, expected):
        raise ReplayFailure(f"{where}: expected to contain {expected}, got {actual}")


def _matches(actual: Any, expected: Any) -> bool:
    """Objects match key by key; each expected list element must match some actual element."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            key in actual and _matches(actual[key], value) for key, value in expected.items()
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and all(any(_matches(item, wanted) for item in actual) for wanted in expected)
            and (len(expected) > 0 or len(actual) == 0)
        )

    return actual == expected


def _has(value: Any, path: list[str]) -> bool:
    for part in path:
        if isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            return False
    return True


def _dig(value: Any, path: list[str], where: str) -> Any:
    if not _has(value, path):
        raise ReplayFailure(f"{where}: the answer has no {'.'.join(path)}: {value}")
    for part in path:
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


def _check_type(value: Any, kind: str, where: str) -> None:
    python = {"integer": int, "string": str, "boolean": bool}[kind]
    if not isinstance(value, python) or (kind == "integer" and isinstance(value, bool)):
        raise ReplayFailure(f"{where}: {value!r} is not a JSON {kind}")


def _describe(step: dict[str, Any]) -> str:
    request = step["request"]
    return f"{request['method']} {request['path'][:60]}"


def scenario_files(*folders: Path) -> list[Path]:
    """Every scenario file in these folders, one per relative name (the first folder wins)."""
    found: dict[str, Path] = {}
    for folder in folders:
        for path in sorted(folder.glob("*/*.json")):
            found.setdefault(f"{path.parent.name}/{path.name}", path)
    return [found[name] for name in sorted(found)]


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


async def replay_all(paths: Iterable[Path], target: Target) -> list[tuple[Path, str, str]]:
    """Each scenario's outcome: `ok`, `skip` (written for another portal mode) or `FAIL`."""
    results: list[tuple[Path, str, str]] = []
    for path in paths:
        try:
            await Replay(load(path), target).run()
            results.append((path, "ok", ""))
        except WrongPortalMode as mismatch:
            results.append((path, "skip", str(mismatch)))
        except (ReplayFailure, httpx.HTTPError, KeyError, ValueError) as failure:
            results.append((path, "FAIL", f"{type(failure).__name__}: {failure}"))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Replay IdP traffic against a running gateway.")
    parser.add_argument("--credentials", type=Path, default=Path("var/credentials.json"))
    parser.add_argument("folders", nargs="*", type=Path, default=[HERE])
    arguments = parser.parse_args(argv)

    missing = [str(folder) for folder in arguments.folders if not folder.is_dir()]
    if missing:
        parser.error(f"no folder of scenarios at {', '.join(missing)}")

    credentials = json.loads(arguments.credentials.read_text(encoding="utf-8"))
    basic = httpx.BasicAuth(credentials["basic"]["username"], credentials["basic"]["password"])
    target = Target(
        scim_base_url=credentials["scim_base_url"],
        authorization=basic._auth_header,
        portal_url=credentials["portal"]["url"],
        portal_username=credentials["portal"]["username"],
        portal_password=credentials["portal"]["password"],
        static_token=credentials.get("bearer_token"),
    )

    results = asyncio.run(replay_all(scenario_files(*arguments.folders), target))
    for path, outcome, detail in results:
        print(f"{outcome:<4} {path.parent.name}/{path.name}")
        if detail:
            print(f"     {detail}")
    counts = {outcome: sum(1 for _, o, _ in results if o == outcome) for outcome in ("ok", "FAIL")}
    skipped = len(results) - counts["ok"] - counts["FAIL"]
    print(f"{counts['ok']} passed, {counts['FAIL']} failed, {skipped} skipped")
    return 1 if counts["FAIL"] else 0


if __name__ == "__main__":
    sys.exit(main())
