"""`serve` terminates TLS 1.2+ itself with a certificate, and warns without one off loopback."""

import asyncio
import datetime
import ipaddress
import json
import logging
import socket
import ssl
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gateway.app import serve
from gateway.settings import Settings
from gateway.simulator import SimulatorConfig, create_app
from gateway.web.listener import plain_http_warning
from tests.conftest import SERVICE_USERNAME, gateway_settings, make_credentials


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """`serve` configures logging for the process; put the test run's back afterwards."""
    handlers = logging.getLogger().handlers[:]
    yield
    structlog.reset_defaults()
    logging.getLogger().handlers[:] = handlers


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    certificate_path, key_path = tmp_path / "tls.crt", tmp_path / "tls.key"
    certificate_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return certificate_path, key_path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@asynccontextmanager
async def serving(aiohttp_server: Any, tmp_path: Path, **server: Any) -> AsyncIterator[Settings]:
    """`serve` (what the CLI runs) in front of a simulated portal, until the block ends."""
    credentials = make_credentials()
    config = SimulatorConfig(
        service_username=SERVICE_USERNAME, service_password=credentials.portal_password
    )
    portal = await aiohttp_server(create_app(config))
    settings = gateway_settings(
        credentials,
        str(portal.make_url("/kyvos")),
        f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}",
        server={"public_base_url": None, "port": free_port(), **server},
    )
    task = asyncio.create_task(serve(settings))
    try:
        await _listening(settings.server.port)
        yield settings
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _listening(port: int) -> None:
    for _ in range(200):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.025)
            continue
        writer.close()
        return
    raise AssertionError("serve did not start listening")


async def test_serve_terminates_tls_with_the_configured_certificate(
    aiohttp_server: Any, tmp_path: Path
) -> None:
    certificate, key = self_signed(tmp_path)
    trust = ssl.create_default_context(cafile=str(certificate))

    async with (
        serving(aiohttp_server, tmp_path, tls_certificate=str(certificate), tls_key=str(key)) as s,
        httpx.AsyncClient(verify=trust) as client,
    ):
        response = await client.get(f"https://127.0.0.1:{s.server.port}/healthz")
        version = response.extensions["network_stream"].get_extra_info("ssl_object").version()

    assert response.status_code == 200
    assert version in ("TLSv1.2", "TLSv1.3")


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated")
async def test_serve_refuses_tls_older_than_1_2(aiohttp_server: Any, tmp_path: Path) -> None:
    certificate, key = self_signed(tmp_path)
    old = ssl.create_default_context(cafile=str(certificate))
    old.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    old.maximum_version = ssl.TLSVersion.TLSv1_1

    async with (
        serving(aiohttp_server, tmp_path, tls_certificate=str(certificate), tls_key=str(key)) as s,
        httpx.AsyncClient(verify=old) as client,
    ):
        with pytest.raises(httpx.ConnectError):
            await client.get(f"https://127.0.0.1:{s.server.port}/healthz")


async def test_serve_without_tls_off_loopback_warns_that_it_expects_a_proxy(
    aiohttp_server: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with serving(aiohttp_server, tmp_path, host="0.0.0.0") as settings:
        pass

    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    warning = next(event for event in events if event["event"] == "no_tls")
    assert warning["level"] == "warning"
    assert warning["detail"] == plain_http_warning(settings.server)
    assert "expects a reverse proxy" in warning["detail"]


def test_plain_http_on_loopback_needs_no_warning() -> None:
    settings = Settings()

    assert plain_http_warning(settings.server) is None
