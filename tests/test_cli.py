"""The command line as an operator meets it."""

import json
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from gateway import demo
from gateway.auth.secrets import digest
from gateway.cli import EXIT_CONFIG, main


def test_new_secret_prints_a_secret_and_its_digest(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["new-secret"]) == 0

    printed = capsys.readouterr().out
    secret = re.search(r"^secret: (\S+)$", printed, re.MULTILINE)
    sha256 = re.search(r"^sha256: ([0-9a-f]{64})$", printed, re.MULTILINE)
    assert secret and sha256
    assert len(secret.group(1)) >= 43
    assert digest(secret.group(1)) == sha256.group(1)


def test_run_refuses_demo_credentials_on_a_non_loopback_address(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["run", "--host", "0.0.0.0", "--var", str(tmp_path)]) == EXIT_CONFIG

    assert "not a loopback address" in capsys.readouterr().err
    assert not (tmp_path / "credentials.json").exists()


def test_demo_credentials_are_written_for_the_owner_only(tmp_path: Path) -> None:
    credentials, settings = demo.prepare(
        var=tmp_path, host="127.0.0.1", port=18080, portal_port=19090
    )

    written = tmp_path / "credentials.json"
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    assert json.loads(written.read_text()) == credentials
    assert set(credentials) == {"scim_base_url", "basic", "oauth", "bearer_token", "portal"}
    assert credentials["scim_base_url"] == "http://127.0.0.1:18080/scim/v2"
    assert credentials["oauth"]["token_url"] == "http://127.0.0.1:18080/oauth/token"
    assert settings.auth.basic[0].password_sha256 == digest(credentials["basic"]["password"])


def test_demo_credentials_are_reused_on_the_next_start(tmp_path: Path) -> None:
    first, _ = demo.prepare(var=tmp_path, host="127.0.0.1", port=18080, portal_port=19090)
    second, _ = demo.prepare(var=tmp_path, host="127.0.0.1", port=18080, portal_port=19090)

    assert second == first


def test_serve_with_a_manager_url_exits_as_a_config_error_naming_the_setting() -> None:
    finished = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "serve"],
        env={"KSG_PORTAL__URL": "https://kyvos.example.com/kyvosmanager", "PATH": ""},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert finished.returncode == EXIT_CONFIG == 2
    assert "portal.url" in finished.stderr
    assert "Kyvos Manager" in finished.stderr
