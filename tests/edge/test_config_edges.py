"""Configuration an operator may get wrong through the environment, and how `serve` starts
when the portal is not there."""

import socket
from pathlib import Path

import pytest

from gateway.cli import EXIT_CONFIG, EXIT_PORTAL, main
from gateway.settings import ConfigError, load_settings


def test_a_variable_holding_broken_json_is_named_as_a_config_problem(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KSG_AUTH__BASIC", '[{"username": okta}]')

    with pytest.raises(ConfigError) as refused:
        load_settings()

    assert len(refused.value.problems) == 1
    assert refused.value.problems[0].startswith("auth: a KSG_AUTH__* variable is not valid JSON")


def test_check_config_exits_2_on_broken_json_in_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KSG_AUTH__BASIC", "[{")

    with pytest.raises(SystemExit) as exited:
        main(["check-config"])

    assert exited.value.code == EXIT_CONFIG
    assert "auth: a KSG_AUTH__* variable is not valid JSON" in capsys.readouterr().err


def test_a_variable_naming_no_section_is_a_config_problem(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KSG_SERVR__PORT", "9000")

    with pytest.raises(ConfigError) as refused:
        load_settings()

    assert refused.value.problems == [
        "KSG_SERVR__PORT: there is no [servr] section; the sections are server, portal, "
        "onboarding, roles, store, auth, limits, logging"
    ]


def test_variables_without_a_section_are_not_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KSG_CONFIG", "/etc/gateway.toml")
    monkeypatch.setenv("KSG_TEST_POSTGRES_URL", "postgresql+asyncpg://db/test")

    assert load_settings().server.port == 8080


@pytest.mark.usefixtures("logging_restored")
def test_serve_exits_3_naming_the_portal_when_it_is_down_at_start(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    monkeypatch.setenv("KSG_PORTAL__URL", f"http://127.0.0.1:{closed_port}/kyvos")
    monkeypatch.setenv("KSG_PORTAL__PASSWORD", "portal-password")
    monkeypatch.setenv("KSG_PORTAL__MAX_ATTEMPTS", "1")
    monkeypatch.setenv("KSG_SERVER__PORT", "0")
    monkeypatch.setenv("KSG_STORE__URL", f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}")
    monkeypatch.delenv("KSG_CONFIG", raising=False)

    assert main(["serve"]) == EXIT_PORTAL

    assert capsys.readouterr().err.splitlines()[-1] == (
        "kyvos-scim-gateway: cannot start: the Kyvos portal could not complete GET /rest/about "
        "in 1 attempt(s) (last: ConnectError); try again later"
    )
