"""The configuration: the annotated default file, environment overrides and refusals."""

from pathlib import Path

import pytest

from gateway.settings import ConfigError, Settings, load_settings

ROOT = Path(__file__).resolve().parents[1]


def test_annotated_default_config_loads_to_the_embedded_defaults() -> None:
    assert load_settings(ROOT / "config" / "gateway.toml") == Settings()


@pytest.mark.parametrize("example", sorted((ROOT / "config" / "examples").glob("*.toml")))
def test_every_example_config_is_valid(example: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KSG_PORTAL__PASSWORD", "from-the-environment")
    monkeypatch.setenv("KSG_AUTH__JWT_SIGNING_KEY", "k" * 48)

    load_settings(example)


def test_environment_overrides_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KSG_PORTAL__USERNAME", "svc-from-env")

    settings = load_settings(ROOT / "config" / "gateway.toml")

    assert settings.portal.username == "svc-from-env"


def test_secret_is_read_from_a_file_named_by_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret_file = tmp_path / "portal-password"
    secret_file.write_text("s3cret-from-file\n")
    monkeypatch.setenv("KSG_PORTAL__PASSWORD_FILE", str(secret_file))

    settings = load_settings()

    assert settings.portal.password.get_secret_value() == "s3cret-from-file"


def test_manager_url_is_refused_naming_the_setting() -> None:
    with pytest.raises(ConfigError) as refusal:
        load_settings(overrides={"portal": {"url": "https://kyvos.example.com/kyvosmanager"}})

    assert refusal.value.problems[0].startswith("portal.url: ")
    assert "Kyvos Manager" in refusal.value.problems[0]


def test_every_problem_is_named_at_once() -> None:
    with pytest.raises(ConfigError) as refusal:
        load_settings(
            overrides={
                "portal": {"url": "ftp://portal"},
                "auth": {"basic": [{"username": "okta", "password_sha256": "plaintext"}]},
                "servr": {},
            }
        )

    assert [problem.split(":")[0] for problem in refusal.value.problems] == [
        "portal.url",
        "auth.basic.0.password_sha256",
        "servr",
    ]


def test_unreadable_toml_names_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[portal\nurl = 1")

    with pytest.raises(ConfigError) as refusal:
        load_settings(broken)

    assert str(broken) in refusal.value.problems[0]


@pytest.mark.parametrize(
    ("server", "problem"),
    [
        ({"port": True}, "server.port: must be a port number, not true or false"),
        ({"host": ""}, "server.host: String should have at least 1 character"),
        (
            {"public_base_url": "scim.example.com/scim/v2"},
            "server.public_base_url: must be the absolute URL the IdP calls, "
            "e.g. https://scim.example.com/scim/v2",
        ),
    ],
)
def test_server_values_that_would_silently_misbehave_are_refused(
    server: dict[str, object], problem: str
) -> None:
    with pytest.raises(ConfigError) as refusal:
        load_settings(overrides={"server": server})

    assert refusal.value.problems == [problem]


def test_a_port_from_the_environment_is_read_as_a_number(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KSG_SERVER__PORT", "9000")

    assert load_settings().server.port == 9000


def test_an_unreadable_secret_file_is_named_beside_an_unknown_section(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KSG_PORTAL__PASSWORD_FILE", str(tmp_path / "missing"))
    monkeypatch.setenv("KSG_NOPE__X", "1")

    with pytest.raises(ConfigError) as refusal:
        load_settings()

    assert [problem.split(":")[0] for problem in refusal.value.problems] == [
        "KSG_NOPE__X",
        "KSG_PORTAL__PASSWORD_FILE",
    ]
