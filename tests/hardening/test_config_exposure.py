"""`check-config` and `serve` on config files that expose secrets: warned about when only the
gateway's account can read them, refused when every account can."""

from pathlib import Path

import pytest

from gateway.auth.exposure import inspect_config
from gateway.cli import EXIT_CONFIG, main
from gateway.settings import load_settings

PORTAL_PASSWORD = "portal-password-in-the-file"
SIGNING_KEY = "a-signing-key-of-at-least-thirty-two-bytes"
# An IdP credential, so that the files below are complete apart from what each test is about.
OKTA_BASIC = '[[auth.basic]]\nusername = "okta"\npassword_sha256 = "' + "ab" * 32 + '"\n'


def config_file(tmp_path: Path, text: str, mode: int) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text(text)
    path.chmod(mode)
    return path


def check_config(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        code = main(["check-config", "--config", str(path)])
    except SystemExit as stop:
        code = int(stop.code or 0)

    return code, capsys.readouterr().err


def test_a_plaintext_portal_password_in_a_private_file_is_warned_about(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = f'[portal]\npassword = "{PORTAL_PASSWORD}"\n' + OKTA_BASIC
    path = config_file(tmp_path, text, 0o600)

    code, err = check_config(path, capsys)

    assert code == 0
    assert err == (
        f"kyvos-scim-gateway: warning: {path}: portal.password is written in the config file in "
        "plain text; move it to the environment, e.g. KSG_PORTAL__PASSWORD_FILE=/run/secrets/... "
        "(a mounted secret)\n"
    )


def test_a_signing_key_in_a_world_readable_file_is_refused_with_every_other_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = f'[auth]\njwt_signing_key = "{SIGNING_KEY}"\n[portal]\nurl = "ftp://portal"\n'
    path = config_file(tmp_path, text, 0o644)

    code, err = check_config(path, capsys)

    assert code == EXIT_CONFIG
    assert "auth.jwt_signing_key is written in the config file in plain text" in err
    assert "portal.url: must be an http:// or https:// URL" in err
    assert (
        f"{path} holds auth.jwt_signing_key and every account on this machine may read it "
        f"(mode 0644): run `chmod 600 {path}`"
    ) in err
    assert SIGNING_KEY not in err


def test_a_group_readable_file_with_a_secret_is_warned_about(tmp_path: Path) -> None:
    path = config_file(tmp_path, f'[portal]\npassword = "{PORTAL_PASSWORD}"\n', 0o640)

    exposure = inspect_config(path, None)

    assert exposure.errors == []
    assert exposure.warnings[-1] == (
        f"{path} holds portal.password and its group may read it (mode 0640); "
        f"`chmod 600 {path}` unless the group is the gateway's own"
    )


def test_a_world_readable_file_without_secrets_is_fine(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KSG_PORTAL__PASSWORD", PORTAL_PASSWORD)
    path = config_file(tmp_path, '[portal]\nusername = "svc"\n' + OKTA_BASIC, 0o644)

    code, err = check_config(path, capsys)

    assert (code, err) == (0, "")


def test_a_config_with_no_idp_credential_and_no_portal_password_is_warned_about(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = config_file(tmp_path, '[portal]\nusername = "svc"\n', 0o600)

    code, err = check_config(path, capsys)

    assert code == 0
    assert err == (
        "kyvos-scim-gateway: warning: auth: no IdP credential is configured ([[auth.basic]], "
        "[[auth.bearer]] or [[auth.oauth_clients]]), so every SCIM request will be answered 401\n"
        "kyvos-scim-gateway: warning: portal.password is empty: set KSG_PORTAL__PASSWORD or "
        "KSG_PORTAL__PASSWORD_FILE, or the gateway cannot log in to the portal\n"
    )


def test_a_world_readable_secret_file_named_by_the_environment_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "portal-password"
    secret.write_text(PORTAL_PASSWORD)
    secret.chmod(0o644)
    monkeypatch.setenv("KSG_PORTAL__PASSWORD_FILE", str(secret))
    path = config_file(tmp_path, OKTA_BASIC, 0o600)

    code, err = check_config(path, capsys)

    assert code == EXIT_CONFIG
    assert f"KSG_PORTAL__PASSWORD_FILE names {secret}, which holds a secret and every " in err
    assert f"chmod 600 {secret}" in err


def test_a_store_url_password_counts_as_a_secret(tmp_path: Path) -> None:
    url = "postgresql+asyncpg://scim:hunter2-hunter2@db.internal:5432/scim"
    path = config_file(tmp_path, f'[store]\nurl = "{url}"\n', 0o604)

    exposure = inspect_config(path, None)

    assert [error.split(" and ")[0] for error in exposure.errors] == [
        f"{path} holds store.url (its password)"
    ]


def test_a_world_readable_tls_key_is_refused(tmp_path: Path) -> None:
    key, certificate = tmp_path / "tls.key", tmp_path / "tls.crt"
    key.write_text("key")
    certificate.write_text("certificate")
    key.chmod(0o644)
    settings = load_settings(
        overrides={"server": {"tls_certificate": str(certificate), "tls_key": str(key)}}
    )

    exposure = inspect_config(None, settings)

    assert exposure.errors == [
        f"server.tls_key ({key}) is a private key and every account on this machine may read "
        f"it (mode 0644): run `chmod 600 {key}`"
    ]


def test_serve_refuses_a_world_readable_file_with_a_secret_before_starting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = config_file(tmp_path, f'[portal]\npassword = "{PORTAL_PASSWORD}"\n', 0o666)

    with pytest.raises(SystemExit) as stop:
        main(["serve", "--config", str(path)])

    assert stop.value.code == EXIT_CONFIG
    assert "every account on this machine may read it (mode 0666)" in capsys.readouterr().err


def test_an_unloadable_tls_certificate_is_named_by_check_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key, certificate = tmp_path / "tls.key", tmp_path / "tls.crt"
    key.write_text("not a key")
    certificate.write_text("not a certificate")
    key.chmod(0o600)
    text = f'[server]\ntls_certificate = "{certificate}"\ntls_key = "{key}"\n'
    path = config_file(tmp_path, text, 0o600)

    code, err = check_config(path, capsys)

    assert code == EXIT_CONFIG
    assert f"server.tls_certificate / server.tls_key: cannot load {certificate}" in err


def test_only_one_of_the_tls_pair_is_a_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = config_file(tmp_path, '[server]\ntls_key = "/etc/tls.key"\n', 0o600)

    code, err = check_config(path, capsys)

    assert code == EXIT_CONFIG
    assert "set both server.tls_certificate and server.tls_key, or neither" in err
