"""Fixtures for the gateway's edge: a gateway served as `serve` serves it (HTTP parser limits
and its access log for refused requests), the JSON log it writes, and raw HTTP exchanges for
requests no client library would send."""

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from aiohttp.test_utils import TestServer

from gateway.app import build_app
from gateway.observability.logging import configure_logging
from gateway.settings import LoggingSettings
from gateway.web.listener import access_log_options, server_options
from tests.conftest import Deployment


@pytest.fixture
def logging_restored() -> Iterator[None]:
    """Put back the logging set-up a test changes by configuring the gateway's logging."""
    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level

    yield

    structlog.configure(**saved)
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def log(logging_restored: None) -> io.StringIO:
    """The gateway's JSON log, as `serve` configures it, written to a buffer for the test."""
    stream = io.StringIO()
    configure_logging(LoggingSettings(level="info", format="json"), stream)

    return stream


@pytest.fixture
async def served(deployment: Deployment, aiohttp_client: Any) -> Deployment:
    """The deployment's gateway settings, listening with `serve`'s runner options."""
    server = TestServer(build_app(deployment.settings))
    await server.start_server(**access_log_options(), **server_options(deployment.settings.limits))
    deployment.gateway = await aiohttp_client(server)

    return deployment


def log_events(log: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.getvalue().splitlines() if line.strip()]


async def exchange(deployment: Deployment, request: bytes) -> tuple[int, bytes]:
    """Send bytes as they are on a new connection; the status and body of the answer. The
    request must ask for `Connection: close`, or be one the gateway closes after."""
    reader, writer = await asyncio.open_connection(deployment.gateway.host, deployment.gateway.port)
    writer.write(request)
    await writer.drain()
    try:
        answer = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()

    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body
