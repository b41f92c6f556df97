"""Database back-ends for tests: where PostgreSQL is, and a skip that says so when it is not.

PostgreSQL tests read `KSG_TEST_POSTGRES_URL`; when that server cannot be reached they are
skipped with the URL and the reason, so a missing server never passes unnoticed.
"""

import asyncio
import functools
import os
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


@dataclass(frozen=True)
class Database:
    """Where a test's store lives: a store URL, and on PostgreSQL a schema of its own."""

    backend: str
    url: str
    schema: str | None


@asynccontextmanager
async def fresh_database(backend: str, tmp_path: Path) -> AsyncIterator[Database]:
    """An empty database for one test; PostgreSQL skips the test when it is out of reach."""
    if backend == "sqlite":
        yield Database(backend, f"sqlite+aiosqlite:///{tmp_path}/state/gateway.db", None)
        return

    url = require_postgres()
    async with postgres_schema(url) as schema:
        yield Database(backend, url, schema)


def postgres_url() -> str:
    return os.environ.get("KSG_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def require_postgres() -> str:
    """The PostgreSQL URL for tests, or skip the test saying why the server is out of reach."""
    url = postgres_url()
    problem = _unreachable_because(url)
    if problem is not None:
        shown = make_url(url).render_as_string(hide_password=True)
        reason = f"PostgreSQL not reachable at {shown}: {problem}; set KSG_TEST_POSTGRES_URL"
        # CI has a PostgreSQL server: there a skip would hide every PostgreSQL regression.
        if os.environ.get("KSG_TEST_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)

    return url


@asynccontextmanager
async def postgres_schema(url: str) -> AsyncIterator[str]:
    """A fresh, empty schema for one test, dropped with everything in it afterwards."""
    schema = f"ksg_test_{uuid.uuid4().hex[:12]}"
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        yield schema
    finally:
        async with engine.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await engine.dispose()


def postgres_problem(url: str) -> str | None:
    """Why the PostgreSQL server at `url` cannot be used, or None when it answers."""
    return _unreachable_because(url)


@functools.cache
def _unreachable_because(url: str) -> str | None:
    """Probe once per URL and session, in a thread of its own so any event loop may call it."""
    with ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(asyncio.run, _probe(url)).result()


async def _probe(url: str) -> str | None:
    engine = create_async_engine(url, poolclass=NullPool, connect_args={"timeout": 3})
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as error:
        cause = getattr(error, "orig", None) or error
        return f"{type(cause).__name__}: {cause}"
    finally:
        await engine.dispose()

    return None
