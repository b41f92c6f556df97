"""Per-resource locks: in-process for one worker, PostgreSQL advisory locks across replicas."""

import asyncio
import contextlib
import hashlib
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway.store.errors import StoreUnavailable, sqlstate_of

logger = structlog.get_logger("gateway.store")

# Hashed with every key, so the gateway's advisory locks do not meet those of other
# applications sharing the database.
_NAMESPACE = "kyvos-scim-gateway"
_LOCK_NOT_AVAILABLE = "55P03"


def advisory_key(name: str) -> int:
    """A stable signed 64-bit number for a lock name, the argument pg_advisory_*lock takes."""
    digest = hashlib.blake2b(f"{_NAMESPACE}:{name}".encode(), digest_size=8).digest()

    return int.from_bytes(digest, "big", signed=True)


def busy(name: str, wait_limit: float) -> StoreUnavailable:
    # The name may hold a userName; the message names only its kind.
    kind = name.partition(":")[0]
    return StoreUnavailable(
        f"Another request has been working on this {kind} for more than {wait_limit:g} seconds; "
        "retry later."
    )


class KeyedLocks:
    """One asyncio.Lock per key, kept only while some coroutine holds or awaits it."""

    def __init__(self) -> None:
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def __len__(self) -> int:
        return len(self._locks)

    @asynccontextmanager
    async def hold(self, name: str, wait_limit: float) -> AsyncIterator[None]:
        lock = self._locks.get(name)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[name] = lock

        try:
            async with asyncio.timeout(wait_limit):
                await lock.acquire()
        except TimeoutError:
            raise busy(name, wait_limit) from None

        try:
            yield
        finally:
            lock.release()


@asynccontextmanager
async def advisory_lock(engine: AsyncEngine, name: str, wait_limit: float) -> AsyncIterator[None]:
    """Hold a transaction-level advisory lock on a connection of its own for the block.

    A transaction lock ends with its transaction, so a rollback, a dropped connection or a
    connection invalidated after a cancelled wait all release it: no path can return a
    connection to the pool still holding the lock. `lock_timeout` bounds the wait
    (PostgreSQL applies it to advisory locks too).
    """
    connection = await engine.connect()
    try:
        await connection.execute(
            select(func.set_config("lock_timeout", f"{max(1, round(wait_limit * 1000))}ms", True))
        )
        await _acquire(connection, name, wait_limit)

        yield
    finally:
        # Shielded: a cancelled request must still end the transaction, or the pool would
        # keep a connection that holds the lock.
        await asyncio.shield(_release(connection))


async def _acquire(connection: AsyncConnection, name: str, wait_limit: float) -> None:
    try:
        await connection.execute(select(func.pg_advisory_xact_lock(advisory_key(name))))
    except Exception as error:
        if sqlstate_of(error) == _LOCK_NOT_AVAILABLE:
            raise busy(name, wait_limit) from error
        raise


async def _release(connection: AsyncConnection) -> None:
    """End the lock's transaction; if that fails the connection is dropped, which also ends it."""
    try:
        await connection.rollback()
        await connection.close()
    except Exception as error:
        logger.warning("store_lock_release_failed", error=type(error).__name__)
        with contextlib.suppress(Exception):
            await connection.invalidate()
            await connection.close()
