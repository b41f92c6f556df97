"""Nothing secret or personal reaches the logs: every recorded IdP exchange is replayed
against a gateway logging at debug level into a captured stream, which is then searched for
every credential, every password the IdPs sent, and every e-mail address."""

import io
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog

from gateway.observability.logging import configure_logging
from gateway.settings import LoggingSettings
from gateway.web.keys import USERS
from tests.conftest import SIGNING_KEY, Deployment
from tests.traffic.replayer import PLACEHOLDER, Replay, load
from tests.traffic.test_replay import SCENARIOS, target_for

from .conftest import Deploy

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
PROBE_EMAIL = "leak.probe@example.com"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handlers = logging.getLogger().handlers[:]
    yield stream
    structlog.reset_defaults()
    logging.getLogger().handlers[:] = handlers


def passwords_in(value: Any) -> Iterator[str]:
    """Every `password` value in a scenario, placeholders and all."""
    if isinstance(value, dict):
        for key, item in value.items():
            if str(key).lower() == "password" and isinstance(item, str):
                yield item
            yield from passwords_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from passwords_in(item)


def filled(text: str, names: dict[str, Any]) -> str:
    """The value the replay sent for `text`, with its `{placeholders}` filled."""
    return PLACEHOLDER.sub(lambda match: str(names[match.group(1)]), text)


async def exercise(deploy: Deploy, monkeypatch: pytest.MonkeyPatch, **settings: Any) -> list[str]:
    """Replay every scenario (each that asks for a portal of its own gets one), use and misuse
    every kind of credential, end with an unexpected failure; answer the secrets that must not
    be logged."""
    deployment = await deploy(**settings)
    credentials = deployment.credentials
    secrets = [
        credentials.basic_password,
        credentials.bearer_token,
        credentials.client_secret,
        credentials.portal_password,
        SIGNING_KEY,
    ]
    _, passwords = await replay_every_scenario(deploy, deployment, **settings)
    secrets.extend(passwords)

    secrets.extend(await _use_tokens(deployment))
    await _fail_unexpectedly(deployment, monkeypatch)

    return secrets


async def replay_every_scenario(
    deploy: Deploy, deployment: Deployment, **settings: Any
) -> tuple[list[str], list[str]]:
    """Replay every scenario against `deployment` (or, for one that asks for a portal of its
    own, a new deployment with the same credentials); answer the names (`folder/stem`) of the
    scenarios replayed to the end, and the passwords they sent."""
    replayed: list[str] = []
    passwords: list[str] = []
    for scenario_path in SCENARIOS:
        scenario = load(scenario_path)
        target = deployment
        if scenario.get("portal"):
            target = await deploy(
                credentials=deployment.credentials, simulator=scenario["portal"], **settings
            )
        replay = Replay(scenario, target_for(target))
        await replay.run()
        replayed.append(scenario_name(scenario_path))
        for password in passwords_in(scenario):
            passwords.append(filled(password, replay.names))

    return replayed, passwords


def scenario_name(path: Path) -> str:
    return f"{path.parent.name}/{path.stem}"


async def _use_tokens(deployment: Deployment) -> list[str]:
    credentials = deployment.credentials
    form = {
        "grant_type": "client_credentials",
        "client_id": credentials.client_id,
        "client_secret": credentials.client_secret,
    }
    async with deployment.gateway.post("/oauth/token", data=form) as response:
        token = (await response.json())["access_token"]
    wrong = {**form, "client_secret": "wrong-" + credentials.client_secret}
    async with deployment.gateway.post("/oauth/token", data=wrong) as response:
        assert response.status == 401

    search = {"filter": f'userName eq "{PROBE_EMAIL}"'}
    for authorization in (f"Bearer {token}", f"Bearer {token[:-4]}AAAA", "Basic b2t0YTp4"):
        await deployment.scim(
            "GET", "/Users", params=search, headers={"Authorization": authorization}
        )

    return [token, token.rsplit(".", 1)[1]]


async def _fail_unexpectedly(deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> None:
    async def fail(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError(f"lookup of {PROBE_EMAIL} failed")

    monkeypatch.setattr(deployment.gateway.app[USERS], "search", fail)
    status, _, _ = await deployment.scim("GET", "/Users")
    assert status == 500


async def test_logs_hold_no_secret_password_or_email_address(
    deploy: Deploy, captured: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure_logging(LoggingSettings(level="debug"), stream=captured)

    secrets = await exercise(deploy, monkeypatch)

    logged = captured.getvalue()
    assert len(logged.splitlines()) > 100 and "unexpected_error" in logged
    assert [secret for secret in set(secrets) if secret in logged] == []
    assert EMAIL.findall(logged) == []
    assert all(json.loads(line) for line in logged.splitlines())


async def test_with_log_pii_on_the_same_run_logs_email_addresses(
    deploy: Deploy, captured: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure_logging(LoggingSettings(level="debug", log_pii=True), stream=captured)

    secrets = await exercise(deploy, monkeypatch, logging={"log_pii": True})

    logged = captured.getvalue()
    assert PROBE_EMAIL in EMAIL.findall(logged)
    assert [secret for secret in set(secrets) if secret in logged] == []


async def test_every_recorded_scenario_is_replayed_here(deploy: Deploy) -> None:
    replayed, _ = await replay_every_scenario(deploy, await deploy())

    recorded = (Path(__file__).parents[1] / "traffic").glob("*/*.json")
    assert sorted(replayed) == sorted(scenario_name(path) for path in recorded)
