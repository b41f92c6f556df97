"""Starting, pinging and failing: what the store does when its database is not there."""

import asyncio
import socket
import sqlite3
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url

from gateway.errors import GatewayError
from gateway.store import Store, StoredResource, StoreUnavailable
from gateway.store.errors import is_unavailable
from tests.backends import Database

StartStore = Callable[..., Awaitable[Store]]


def closed_port() -> int:
    """A local port nothing listens on: bound once by the OS, then released."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def unreachable_postgres_url() -> str:
    return f"postgresql+asyncpg://gateway:s3cret@127.0.0.1:{closed_port()}/gateway"


async def test_ping_answers_when_the_store_is_up(store: Store) -> None:
    await store.ping()


async def test_starting_twice_at_once_is_safe(database: Database) -> None:
    stores = [Store(database.url, schema=database.schema) for _ in range(4)]
    try:
        await asyncio.gather(*(store.start() for store in stores))
        await stores[0].start()

        await stores[1].ping()
    finally:
        for store in stores:
            await store.close()


async def test_a_restarted_store_still_has_what_was_saved(
    start_store: StartStore, store: Store
) -> None:
    saved = StoredResource(
        kind="User",
        portal_id="u-1",
        external_id="00u1",
        extra={"nickName": "Sam"},
        created=datetime(2026, 3, 1, tzinfo=UTC),
        last_modified=datetime(2026, 3, 2, tzinfo=UTC),
        version=2,
    )
    await store.save(saved)
    await store.close()

    again = await start_store()

    assert await again.get("User", "u-1") == saved


async def test_start_creates_the_missing_directory_of_the_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "var" / "lib" / "gateway.db"
    store = Store(f"sqlite+aiosqlite:///{path}")

    await store.start()
    await store.close()

    assert path.is_file()


async def test_the_sqlite_file_is_shared_through_a_wal_journal(tmp_path: Path) -> None:
    path = tmp_path / "gateway.db"
    store = Store(f"sqlite+aiosqlite:///{path}")
    await store.start()
    await store.close()

    with sqlite3.connect(path) as other_process:
        assert other_process.execute("PRAGMA journal_mode").fetchone() == ("wal",)


async def test_ping_on_an_unreachable_postgresql_raises_store_unavailable() -> None:
    store = Store(unreachable_postgres_url())

    with pytest.raises(StoreUnavailable) as raised:
        await store.ping()
    await store.close()

    assert isinstance(raised.value, GatewayError)
    assert isinstance(raised.value.__cause__, OSError)
    assert "KSG_STORE__URL" in raised.value.detail


async def test_the_unavailable_message_hides_the_database_password() -> None:
    store = Store(unreachable_postgres_url())

    with pytest.raises(StoreUnavailable) as raised:
        await store.start()
    await store.close()

    assert "s3cret" not in str(raised.value)
    assert "gateway:***@127.0.0.1" in str(raised.value)


async def test_a_sqlite_file_that_cannot_be_created_raises_store_unavailable(
    tmp_path: Path,
) -> None:
    (tmp_path / "not-a-directory").write_text("")
    store = Store(f"sqlite+aiosqlite:///{tmp_path}/not-a-directory/gateway.db")

    with pytest.raises(StoreUnavailable) as raised:
        await store.start()
    await store.close()

    assert raised.value.__cause__ is not None


async def test_a_statement_the_database_refuses_is_not_reported_as_unavailable(
    database: Database,
) -> None:
    if database.backend == "sqlite":
        Path(make_url(database.url).database or "").parent.mkdir(parents=True)
    never_started = Store(database.url, schema=database.schema)

    with pytest.raises(sa_exc.DBAPIError) as raised:
        await never_started.get("User", "u-1")
    await never_started.close()

    assert not isinstance(raised.value, StoreUnavailable)


class DriverError(Exception):
    def __init__(self, message: str, *, sqlstate: str | None = None, sqlite: str | None = None):
        super().__init__(message)
        if sqlstate is not None:
            self.sqlstate = sqlstate
        if sqlite is not None:
            self.sqlite_errorname = sqlite


def from_driver(kind: type[sa_exc.DBAPIError], **code: str) -> sa_exc.DBAPIError:
    return kind("SELECT 1", None, DriverError("from the driver", **code))


@pytest.mark.parametrize(
    ("error", "unavailable"),
    [
        (ConnectionRefusedError(111, "Connect call failed"), True),
        (socket.gaierror(-2, "Name or service not known"), True),
        (TimeoutError(), True),
        (sa_exc.TimeoutError("QueuePool limit reached"), True),
        (sa_exc.DisconnectionError("connection closed"), True),
        (from_driver(sa_exc.InterfaceError), True),
        (from_driver(sa_exc.DBAPIError, sqlstate="08006"), True),
        (from_driver(sa_exc.DBAPIError, sqlstate="28P01"), True),
        (from_driver(sa_exc.DBAPIError, sqlstate="3D000"), True),
        (from_driver(sa_exc.DBAPIError, sqlstate="53300"), True),
        (from_driver(sa_exc.DBAPIError, sqlstate="57P01"), True),
        (from_driver(sa_exc.DBAPIError, sqlstate="57P03"), True),
        (from_driver(sa_exc.OperationalError, sqlite="SQLITE_BUSY"), True),
        (from_driver(sa_exc.OperationalError, sqlite="SQLITE_CANTOPEN"), True),
        (from_driver(sa_exc.OperationalError, sqlite="SQLITE_IOERR_WRITE"), True),
        (from_driver(sa_exc.OperationalError, sqlite="SQLITE_FULL"), True),
        (from_driver(sa_exc.OperationalError, sqlite="SQLITE_ERROR"), False),
        (from_driver(sa_exc.IntegrityError, sqlite="SQLITE_CONSTRAINT_PRIMARYKEY"), False),
        (from_driver(sa_exc.IntegrityError, sqlstate="23505"), False),
        (from_driver(sa_exc.ProgrammingError, sqlstate="42P01"), False),
        (from_driver(sa_exc.DBAPIError, sqlstate="22P02"), False),
        (ValueError("not the store's"), False),
    ],
    ids=repr,
)
def test_only_failures_to_reach_the_store_count_as_unavailable(
    error: Exception, unavailable: bool
) -> None:
    assert is_unavailable(error) is unavailable


def test_an_unsupported_url_is_refused_when_the_store_is_built() -> None:
    with pytest.raises(ValueError, match="sqlite\\+aiosqlite"):
        Store("mysql+aiomysql://gateway@db/gateway")
