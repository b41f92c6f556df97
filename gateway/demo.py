"""`kyvos-scim-gateway run`: the gateway beside a simulated Kyvos Web Portal, on this machine.

On first start it generates demo credentials and writes them, mode 0600, to
`var/credentials.json`; later starts reuse them, so an IdP configured once keeps working. Demo
credentials sit in a file in plain text, so `run` refuses any address but loopback.
"""

import ipaddress
import json
import os
import secrets
import socket
from pathlib import Path
from typing import Any

from aiohttp import web

from gateway.auth.endpoint import TOKEN_PATH
from gateway.auth.secrets import digest, new_secret
from gateway.settings import Settings, load_settings
from gateway.simulator.app import create_app as create_simulator
from gateway.simulator.config import SimulatorConfig

CREDENTIALS_FILE = "credentials.json"
SIGNING_KEY_FILE = "signing.key"
PORTAL_SERVICE_ACCOUNT = "scim-gateway"


def refuse_non_loopback(host: str) -> None:
    """Demo credentials are written in plain text: serve them on this machine only."""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except socket.gaierror:
        raise ValueError(f"cannot resolve --host {host!r}") from None

    if not all(ipaddress.ip_address(address).is_loopback for address in addresses):
        raise ValueError(
            f"refusing to serve demo credentials on {host}, which is not a loopback address; "
            "use `kyvos-scim-gateway serve` with a real configuration instead."
        )


def prepare(
    *, var: Path, host: str, port: int, portal_port: int
) -> tuple[dict[str, Any], Settings]:
    """The demo credentials (made on first start) and the settings that use them."""
    var.mkdir(parents=True, exist_ok=True)
    scim_base_url = f"http://{_url_host(host)}:{port}/scim/v2"
    portal_url = f"http://{_url_host(host)}:{portal_port}/kyvos"
    credentials = _load_or_create_credentials(var, scim_base_url, portal_url)

    return credentials, demo_settings(credentials, var=var, host=host, port=port)


async def run(
    credentials: dict[str, Any],
    settings: Settings,
    *,
    var: Path,
    portal_port: int,
    portal_auth_system: str,
) -> None:
    """Start the simulated portal and the gateway, and serve until interrupted."""
    from gateway.app import serve

    portal = await _start_simulator(
        credentials, settings.server.host, portal_port, portal_auth_system
    )
    try:
        _announce(credentials, var)
        await serve(settings)
    finally:
        await portal.cleanup()


def demo_settings(credentials: dict[str, Any], *, var: Path, host: str, port: int) -> Settings:
    """Settings for the demo: the embedded defaults plus the generated credentials."""
    signing_key = _load_or_create_signing_key(var)

    return load_settings(
        overrides={
            "server": {"host": host, "port": port},
            "portal": {
                "url": credentials["portal"]["url"],
                "username": credentials["portal"]["username"],
                "password": credentials["portal"]["password"],
            },
            "store": {"url": f"sqlite+aiosqlite:///{(var / 'gateway.db').resolve()}"},
            "auth": {
                "basic": [
                    {
                        "username": credentials["basic"]["username"],
                        "password_sha256": digest(credentials["basic"]["password"]),
                    }
                ],
                "bearer": [{"name": "demo", "token_sha256": digest(credentials["bearer_token"])}],
                "oauth_clients": [
                    {
                        "client_id": credentials["oauth"]["client_id"],
                        "secret_sha256": [digest(credentials["oauth"]["client_secret"])],
                    }
                ],
                "jwt_signing_key": signing_key,
            },
            "logging": {"format": "json"},
        }
    )


def _load_or_create_credentials(var: Path, scim_base_url: str, portal_url: str) -> dict[str, Any]:
    path = var / CREDENTIALS_FILE
    if path.exists():
        credentials: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        credentials["scim_base_url"] = scim_base_url
        credentials["oauth"]["token_url"] = _token_url(scim_base_url)
        credentials["portal"]["url"] = portal_url
    else:
        credentials = {
            "scim_base_url": scim_base_url,
            "basic": {"username": "okta", "password": new_secret()},
            "oauth": {
                "token_url": _token_url(scim_base_url),
                "client_id": "entra",
                "client_secret": new_secret(),
            },
            "bearer_token": new_secret(),
            "portal": {
                "url": portal_url,
                "username": PORTAL_SERVICE_ACCOUNT,
                "password": new_secret(),
            },
        }

    _write_private(path, json.dumps(credentials, indent=2) + "\n")
    return credentials


def _load_or_create_signing_key(var: Path) -> str:
    path = var / SIGNING_KEY_FILE
    if not path.exists():
        _write_private(path, secrets.token_urlsafe(48))

    return path.read_text(encoding="utf-8").strip()


def _write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (0600), whatever the umask."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)
    os.chmod(path, 0o600)


async def _start_simulator(
    credentials: dict[str, Any], host: str, port: int, auth_system: str
) -> web.AppRunner:
    config = SimulatorConfig(
        service_username=credentials["portal"]["username"],
        service_password=credentials["portal"]["password"],
        authentication_system=auth_system,
    )
    runner = web.AppRunner(create_simulator(config), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()

    return runner


def _announce(credentials: dict[str, Any], var: Path) -> None:
    print(
        "\n"
        f"  Simulated Kyvos Web Portal: {credentials['portal']['url']}\n"
        f"  SCIM base URL:              {credentials['scim_base_url']}\n"
        f"  OAuth token URL:            {credentials['oauth']['token_url']}\n"
        f"  Credentials (mode 0600):    {(var / CREDENTIALS_FILE).resolve()}\n"
        "  Stop with Ctrl-C.\n",
        flush=True,
    )


def _token_url(scim_base_url: str) -> str:
    return scim_base_url.removesuffix("/scim/v2") + TOKEN_PATH


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
