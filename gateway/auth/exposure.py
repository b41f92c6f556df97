"""Where the configuration leaves secrets exposed: in the config file itself, or in key files
other accounts on the machine can read.

A secret written in the TOML file is allowed but warned about: the file tends to be copied,
committed and attached to tickets, while `KSG_*_FILE` secrets stay in a mounted secret. A file
holding a secret that every account may read (mode o+r) is refused, as ssh refuses such a
private key; one only its group may read is warned about, since Kubernetes `fsGroup` mounts
secrets that way on purpose.
"""

import stat
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from gateway.settings import Settings

MOVE_HINT = "move it to the environment, e.g. {env}_FILE=/run/secrets/... (a mounted secret)"


@dataclass
class Exposure:
    """What `check-config` and `serve` report: `errors` stop the gateway, `warnings` do not."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def inspect_config(
    path: Path | None, settings: Settings | None, environ: Mapping[str, str] | None = None
) -> Exposure:
    """Every exposed secret in the file at `path`, the key files `settings` name and the
    `KSG_*_FILE` files `environ` names, and settings the gateway cannot work with."""
    exposure = Exposure()
    if path is not None:
        _inspect_config_file(path, exposure)
    if settings is not None:
        for setting, key_file in _key_files(settings):
            _inspect_mode(key_file, f"{setting} ({key_file}) is a private key", exposure)
        _inspect_missing(settings, exposure)
    for variable, secret_file in _secret_files(environ or {}):
        _inspect_mode(
            secret_file, f"{variable} names {secret_file}, which holds a secret", exposure
        )

    return exposure


def _inspect_missing(settings: Settings, exposure: Exposure) -> None:
    """Settings that load, but with which the gateway cannot do its work."""
    auth = settings.auth
    if not (auth.basic or auth.bearer or auth.oauth_clients):
        exposure.warnings.append(
            "auth: no IdP credential is configured ([[auth.basic]], [[auth.bearer]] or "
            "[[auth.oauth_clients]]), so every SCIM request will be answered 401"
        )
    if not settings.portal.password.get_secret_value():
        exposure.warnings.append(
            "portal.password is empty: set KSG_PORTAL__PASSWORD or KSG_PORTAL__PASSWORD_FILE, "
            "or the gateway cannot log in to the portal"
        )


def _secret_files(environ: Mapping[str, str]) -> Iterator[tuple[str, Path]]:
    for variable, value in environ.items():
        if variable.upper().startswith("KSG_") and variable.upper().endswith("_FILE") and value:
            yield variable, Path(value)


def _inspect_config_file(path: Path, exposure: Exposure) -> None:
    try:
        values = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return  # loading the settings names this problem

    held = list(plaintext_secrets(values))
    for setting in held:
        env = "KSG_" + setting.split("[")[0].replace(".", "__").upper()
        exposure.warnings.append(
            f"{path}: {setting} is written in the config file in plain text; "
            + MOVE_HINT.format(env=env)
        )
    if held:
        _inspect_mode(path, f"{path} holds {', '.join(held)}", exposure)


def plaintext_secrets(values: dict[str, Any]) -> Iterator[str]:
    """The settings in a parsed config file that hold a secret itself, not its digest."""
    portal = _table(values, "portal")
    if portal.get("password"):
        yield "portal.password"

    auth = _table(values, "auth")
    if auth.get("jwt_signing_key"):
        yield "auth.jwt_signing_key"
    keys = auth.get("signing_keys")
    for index, key in enumerate(keys if isinstance(keys, list) else []):
        if isinstance(key, dict) and key.get("secret"):
            yield f"auth.signing_keys[{index}].secret"
        if isinstance(key, dict) and key.get("private_key_pem"):
            yield f"auth.signing_keys[{index}].private_key_pem"

    store_url = _table(values, "store").get("url")
    if isinstance(store_url, str) and _has_password(store_url):
        yield "store.url (its password)"


def _inspect_mode(path: Path, what: str, exposure: Exposure) -> None:
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return

    if mode & 0o007:
        exposure.errors.append(
            f"{what} and every account on this machine may read it (mode {mode:04o}): "
            f"run `chmod 600 {path}`"
        )
    elif mode & 0o070:
        exposure.warnings.append(
            f"{what} and its group may read it (mode {mode:04o}); `chmod 600 {path}` unless "
            "the group is the gateway's own"
        )


def _key_files(settings: Settings) -> Iterator[tuple[str, Path]]:
    if settings.server.tls_key is not None:
        yield "server.tls_key", settings.server.tls_key
    for index, key in enumerate(settings.auth.signing_keys):
        if key.private_key_file is not None:
            yield f"auth.signing_keys[{index}].private_key_file", key.private_key_file


def _table(values: dict[str, Any], name: str) -> dict[str, Any]:
    table = values.get(name)
    return table if isinstance(table, dict) else {}


def _has_password(url: str) -> bool:
    try:
        return bool(urlsplit(url).password)
    except ValueError:
        return False
