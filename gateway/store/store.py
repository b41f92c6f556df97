"""The gateway's state store: SQLite for one instance, PostgreSQL shared by replicas."""

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any, Final

from sqlalchemy import MetaData, Row, delete, event, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.schema import CreateIndex, CreateSchema, CreateTable

from gateway.store.errors import sqlstate_of, unavailable_when_unreachable
from gateway.store.locks import KeyedLocks, advisory_key, advisory_lock
from gateway.store.resources import StoredResource, check_kind
from gateway.store.schema import resources_table

DRIVERS: Final = {"sqlite": "aiosqlite", "postgresql": "asyncpg"}

# Far below SQLite's and PostgreSQL's limits on bound parameters in one statement.
IDS_PER_QUERY: Final = 500

CONNECT_TIMEOUT_SECONDS: Final = 5.0
SQLITE_BUSY_TIMEOUT_MS: Final = 10_000

# Serialises schema creation between replicas that start at the same moment.
_SCHEMA_LOCK_NAME = "schema:scim_resources"

# What a creator that does not take the schema lock leaves behind when it wins the race:
# PostgreSQL duplicate_table, duplicate_object, duplicate_schema, and the unique violation on
# pg_type that two concurrent CREATE TABLE IF NOT EXISTS can raise.
_CREATED_CONCURRENTLY = ("42P07", "42710", "42P06", "23505")

_UPDATED_ON_SAVE = ("external_id", "extra", "created", "last_modified", "version")


class Store:
    """What Kyvos cannot hold for a SCIM resource, keyed by kind and portal id.

    One code path serves `sqlite+aiosqlite:///path` and `postgresql+asyncpg://...`. On SQLite
    the file is shared by the worker processes of one machine (WAL journal, busy timeout),
    but `lock` serialises only the coroutines of one process. Several processes or replicas
    that must not interleave work on one resource need PostgreSQL.

    `schema` places the table in a PostgreSQL schema of its own (created when missing), for a
    database shared with other applications. `lock_timeout` bounds how long `lock` waits.
    """

    def __init__(self, url: str, *, schema: str | None = None, lock_timeout: float = 30.0):
        self._url = make_url(url)
        self._backend = self._url.get_backend_name()
        self._where = self._url.render_as_string(hide_password=True)
        _check_driver(self._backend, self._url.get_driver_name())
        if schema is not None and self._backend != "postgresql":
            raise ValueError("a schema can only be given for PostgreSQL")

        self._schema = schema
        self._table = resources_table(MetaData(schema=schema))
        self._lock_timeout = lock_timeout
        self._local_locks = KeyedLocks()
        self._engine = self._create_engine()
        # Sessions that wait on or hold advisory locks draw from a pool of their own, so that
        # they never take the connections a lock holder needs for the work inside its lock.
        self._lock_engine = self._create_engine() if self._backend == "postgresql" else None
        # SQLite takes one writer at a time; queueing this process's writers here costs nothing,
        # where leaving them to SQLite's busy handler makes them sleep and retry (seconds of
        # tail latency under concurrent creates). Other processes still meet the busy timeout.
        self._sqlite_writer = asyncio.Lock() if self._backend == "sqlite" else None

    async def start(self) -> None:
        """Create the table and its index when missing.

        Safe when several replicas or worker processes start at once: every statement says
        IF NOT EXISTS, PostgreSQL creators queue on an advisory lock, and a creator that does
        not take that lock and wins the race is tolerated.
        """
        with unavailable_when_unreachable(self._where):
            self._create_sqlite_directory()

            try:
                await self._create_schema()
            except DBAPIError as error:
                if not _created_concurrently(error):
                    raise
                await self._create_schema()

    async def close(self) -> None:
        await self._engine.dispose()
        if self._lock_engine is not None:
            await self._lock_engine.dispose()

    async def ping(self) -> None:
        """Raise `StoreUnavailable` unless the store answers a query now (readiness)."""
        async with self._connection() as connection:
            await connection.execute(select(1))

    async def get(self, kind: str, portal_id: str) -> StoredResource | None:
        check_kind(kind)
        query = select(self._table).where(
            self._table.c.kind == kind, self._table.c.portal_id == portal_id
        )

        async with self._connection() as connection:
            row = (await connection.execute(query)).first()

        return _stored_resource(row) if row is not None else None

    async def get_many(self, kind: str, ids: Iterable[str]) -> dict[str, StoredResource]:
        """The stored resources among `ids`, by portal id; ids with nothing stored are absent."""
        check_kind(kind)
        wanted = list(dict.fromkeys(ids))
        found: dict[str, StoredResource] = {}

        async with self._connection() as connection:
            for start in range(0, len(wanted), IDS_PER_QUERY):
                chunk = wanted[start : start + IDS_PER_QUERY]
                query = select(self._table).where(
                    self._table.c.kind == kind, self._table.c.portal_id.in_(chunk)
                )
                for row in await connection.execute(query):
                    found[row.portal_id] = _stored_resource(row)

        return found

    async def save(self, resource: StoredResource) -> None:
        """Insert the resource, or replace every stored field of the one with its portal id."""
        values = {
            "kind": resource.kind,
            "portal_id": resource.portal_id,
            "external_id": resource.external_id,
            "extra": resource.extra,
            "created": resource.created,
            "last_modified": resource.last_modified,
            "version": resource.version,
        }
        insert = postgresql.insert if self._backend == "postgresql" else sqlite.insert
        statement = insert(self._table).values(values)
        statement = statement.on_conflict_do_update(
            index_elements=[self._table.c.kind, self._table.c.portal_id],
            set_={name: statement.excluded[name] for name in _UPDATED_ON_SAVE},
        )

        async with self._connection(write=True) as connection:
            await connection.execute(statement)

    async def delete(self, kind: str, portal_id: str) -> None:
        """Forget the resource; forgetting one that is not stored is not an error."""
        check_kind(kind)
        statement = delete(self._table).where(
            self._table.c.kind == kind, self._table.c.portal_id == portal_id
        )

        async with self._connection(write=True) as connection:
            await connection.execute(statement)

    async def find_by_external_id(self, kind: str, external_id: str) -> list[str]:
        """Portal ids whose externalId equals `external_id` exactly (it is caseExact)."""
        check_kind(kind)
        query = (
            select(self._table.c.portal_id)
            .where(self._table.c.kind == kind, self._table.c.external_id == external_id)
            .order_by(self._table.c.portal_id)
        )

        async with self._connection() as connection:
            result = await connection.execute(query)

        return list(result.scalars())

    @asynccontextmanager
    async def lock(self, kind: str, key: str) -> AsyncIterator[None]:
        """Serialise work on one resource: one block at a time per (kind, key).

        `key` is a portal id, or a natural key normalised by the caller (a case-folded
        userName) for a resource that does not exist yet. Within one process the block waits
        on an asyncio lock; on PostgreSQL it then waits on an advisory lock, so replicas
        serialise too. Waiting longer than `lock_timeout` raises `StoreUnavailable`. Not
        re-entrant; take several locks in a sorted order.
        """
        check_kind(kind)
        name = f"{kind}:{key}"
        deadline = asyncio.get_running_loop().time() + self._lock_timeout

        async with self._local_locks.hold(name, self._lock_timeout):
            if self._lock_engine is None:
                yield
                return

            remaining = deadline - asyncio.get_running_loop().time()
            async with AsyncExitStack() as held:
                # Only taking the lock is translated; errors of the block pass untouched.
                with unavailable_when_unreachable(self._where):
                    await held.enter_async_context(
                        advisory_lock(self._lock_engine, name, remaining)
                    )

                yield

    @asynccontextmanager
    async def _connection(self, *, write: bool = False) -> AsyncIterator[AsyncConnection]:
        with unavailable_when_unreachable(self._where):
            async with AsyncExitStack() as stack:
                if write and self._sqlite_writer is not None:
                    await stack.enter_async_context(self._sqlite_writer)
                begin = self._engine.begin() if write else self._engine.connect()
                yield await stack.enter_async_context(begin)

    def _create_engine(self) -> AsyncEngine:
        if self._backend == "sqlite":
            return _sqlite_engine(self._url)

        connect_args = {} if "timeout" in self._url.query else {"timeout": CONNECT_TIMEOUT_SECONDS}
        return create_async_engine(self._url, pool_pre_ping=True, connect_args=connect_args)

    def _create_sqlite_directory(self) -> None:
        database = self._url.database
        if self._backend == "sqlite" and database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)

    async def _create_schema(self) -> None:
        async with self._connection(write=True) as connection:
            if self._backend == "postgresql":
                lock = func.pg_advisory_xact_lock(advisory_key(_SCHEMA_LOCK_NAME))
                await connection.execute(select(lock))
            if self._schema is not None:
                await connection.execute(CreateSchema(self._schema, if_not_exists=True))

            await connection.execute(CreateTable(self._table, if_not_exists=True))
            for index in self._table.indexes:
                await connection.execute(CreateIndex(index, if_not_exists=True))


def _check_driver(backend: str, driver: str) -> None:
    if DRIVERS.get(backend) != driver:
        raise ValueError(
            "the store URL must start with sqlite+aiosqlite:/// or postgresql+asyncpg://, "
            f"not {backend}+{driver}://"
        )


def _sqlite_engine(url: URL) -> AsyncEngine:
    """An engine whose connections let several processes share one file.

    WAL lets readers proceed while one process writes; the busy timeout makes a writer wait
    for another instead of failing at once. WAL needs a local file system.
    """
    engine = create_async_engine(url)

    @event.listens_for(engine.sync_engine, "connect")
    def _share_file(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    return engine


def _created_concurrently(error: DBAPIError) -> bool:
    if sqlstate_of(error) in _CREATED_CONCURRENTLY:
        return True

    return "already exists" in str(getattr(error, "orig", error))


def _stored_resource(row: Row[Any]) -> StoredResource:
    values = row._mapping
    return StoredResource(
        kind=values["kind"],
        portal_id=values["portal_id"],
        external_id=values["external_id"],
        extra=values["extra"],
        created=values["created"],
        last_modified=values["last_modified"],
        version=values["version"],
    )
