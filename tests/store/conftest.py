"""Each store test runs on a fresh database of each back-end (see tests/backends.py)."""

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from gateway.store import Store
from tests.backends import Database, fresh_database

StartStore = Callable[..., Awaitable[Store]]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    async with fresh_database(request.param, tmp_path) as fresh:
        yield fresh


@pytest.fixture
async def postgres_database(tmp_path: Path) -> AsyncIterator[Database]:
    async with fresh_database("postgresql", tmp_path) as fresh:
        yield fresh


@pytest.fixture
async def start_store(database: Database) -> AsyncIterator[StartStore]:
    """Start stores on the test's database; two of them act as two replicas."""
    async with _starter(database) as start:
        yield start


@pytest.fixture
async def start_replica(postgres_database: Database) -> AsyncIterator[StartStore]:
    """Start stores on one PostgreSQL database, as separate replicas would."""
    async with _starter(postgres_database) as start:
        yield start


@pytest.fixture
async def store(start_store: StartStore) -> Store:
    return await start_store()


@asynccontextmanager
async def _starter(database: Database) -> AsyncIterator[StartStore]:
    opened: list[Store] = []

    async def start(**options: Any) -> Store:
        store = Store(database.url, schema=database.schema, **options)
        opened.append(store)
        await store.start()
        return store

    try:
        yield start
    finally:
        for store in opened:
            await store.close()
