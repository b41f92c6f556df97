"""Per-resource locks: one block at a time per key, in one process and across replicas."""

import asyncio
import gc
from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from gateway.store import Store, StoreUnavailable
from gateway.store.locks import KeyedLocks, advisory_key
from tests.backends import Database

StartStore = Callable[..., Awaitable[Store]]

# Long enough for a wrongly admitted second holder to get in; no assertion is about time.
CHANCE_TO_INTERLEAVE = 0.1


async def hold(store: Store, key: str, inside: asyncio.Event, leave: asyncio.Event) -> None:
    async with store.lock("User", key):
        inside.set()
        await leave.wait()


async def enter(store: Store, key: str, entered: list[str], name: str) -> None:
    async with store.lock("User", key):
        entered.append(name)


async def test_lock_serialises_two_coroutines_on_the_same_key(store: Store) -> None:
    inside, leave = asyncio.Event(), asyncio.Event()
    entered: list[str] = []
    holder = asyncio.create_task(hold(store, "u-1", inside, leave))
    await inside.wait()

    waiter = asyncio.create_task(enter(store, "u-1", entered, "second"))
    await asyncio.sleep(CHANCE_TO_INTERLEAVE)
    assert entered == []

    leave.set()
    await asyncio.wait_for(asyncio.gather(holder, waiter), 10)
    assert entered == ["second"]


async def test_lock_lets_different_keys_proceed_together(store: Store) -> None:
    inside, leave = asyncio.Event(), asyncio.Event()
    entered: list[str] = []
    holder = asyncio.create_task(hold(store, "u-1", inside, leave))
    await inside.wait()

    await asyncio.wait_for(enter(store, "u-2", entered, "other key"), 10)

    assert entered == ["other key"]
    leave.set()
    await holder


async def test_the_same_key_of_another_kind_is_another_lock(store: Store) -> None:
    inside, leave = asyncio.Event(), asyncio.Event()
    holder = asyncio.create_task(hold(store, "id-1", inside, leave))
    await inside.wait()

    async with asyncio.timeout(10), store.lock("Group", "id-1"):
        pass

    leave.set()
    await holder


async def test_the_lock_is_released_when_the_block_raises(store: Store) -> None:
    with pytest.raises(RuntimeError):
        async with store.lock("User", "u-1"):
            raise RuntimeError("portal call failed")

    async with asyncio.timeout(10), store.lock("User", "u-1"):
        pass


async def test_an_error_inside_the_block_passes_through_untranslated(store: Store) -> None:
    with pytest.raises(ConnectionResetError):
        async with store.lock("User", "u-1"):
            raise ConnectionResetError("not the store's")


async def test_waiting_longer_than_the_lock_timeout_raises_store_unavailable(
    start_store: StartStore,
) -> None:
    store = await start_store(lock_timeout=0.2)
    inside, leave = asyncio.Event(), asyncio.Event()
    holder = asyncio.create_task(hold(store, "alice@example.com", inside, leave))
    await inside.wait()

    with pytest.raises(StoreUnavailable, match="working on this User") as raised:
        async with store.lock("User", "alice@example.com"):
            pass

    assert "alice" not in str(raised.value)
    leave.set()
    await holder


async def test_in_process_locks_are_forgotten_once_no_one_holds_them() -> None:
    locks = KeyedLocks()

    async with locks.hold("User:u-1", 1), locks.hold("User:u-2", 1):
        assert len(locks) == 2
    gc.collect()

    assert len(locks) == 0


@pytest.mark.postgres
async def test_two_replicas_serialise_on_the_same_key(
    start_replica: StartStore, postgres_database: Database
) -> None:
    first, second = await start_replica(), await start_replica()
    inside, leave = asyncio.Event(), asyncio.Event()
    entered: list[str] = []
    holder = asyncio.create_task(hold(first, "u-1", inside, leave))
    await inside.wait()

    waiter = asyncio.create_task(enter(second, "u-1", entered, "second replica"))
    await until_waiting_on(postgres_database.url, "User:u-1")
    assert entered == []

    leave.set()
    await asyncio.wait_for(asyncio.gather(holder, waiter), 10)
    assert entered == ["second replica"]


@pytest.mark.postgres
async def test_two_replicas_do_not_serialise_on_different_keys(start_replica: StartStore) -> None:
    first, second = await start_replica(), await start_replica()
    inside, leave = asyncio.Event(), asyncio.Event()
    entered: list[str] = []
    holder = asyncio.create_task(hold(first, "u-1", inside, leave))
    await inside.wait()

    await asyncio.wait_for(enter(second, "u-2", entered, "other key"), 10)

    assert entered == ["other key"]
    leave.set()
    await holder


@pytest.mark.postgres
async def test_a_replica_waiting_longer_than_the_lock_timeout_gets_store_unavailable(
    start_replica: StartStore,
) -> None:
    first, second = await start_replica(), await start_replica(lock_timeout=0.2)
    inside, leave = asyncio.Event(), asyncio.Event()
    holder = asyncio.create_task(hold(first, "u-1", inside, leave))
    await inside.wait()

    with pytest.raises(StoreUnavailable, match="working on this User"):
        async with second.lock("User", "u-1"):
            pass

    leave.set()
    await holder


@pytest.mark.postgres
async def test_a_cancelled_wait_leaves_no_lock_behind(
    start_replica: StartStore, postgres_database: Database
) -> None:
    first, second = await start_replica(), await start_replica()
    inside, leave = asyncio.Event(), asyncio.Event()
    holder = asyncio.create_task(hold(first, "u-1", inside, leave))
    await inside.wait()
    waiter = asyncio.create_task(enter(second, "u-1", [], "cancelled"))
    await until_waiting_on(postgres_database.url, "User:u-1")

    waiter.cancel()
    leave.set()
    await holder

    async with asyncio.timeout(10), second.lock("User", "u-1"):
        pass
    assert await advisory_locks_on(postgres_database.url, "User:u-1") == 0


@pytest.mark.postgres
async def test_a_replica_that_fails_inside_the_block_leaves_no_lock_behind(
    start_replica: StartStore, postgres_database: Database
) -> None:
    store = await start_replica()

    with pytest.raises(RuntimeError):
        async with store.lock("User", "u-1"):
            raise RuntimeError("portal call failed")

    assert await advisory_locks_on(postgres_database.url, "User:u-1") == 0


async def until_waiting_on(url: str, name: str) -> None:
    """Return once PostgreSQL shows a session waiting for the advisory lock `name`."""
    async with asyncio.timeout(10):
        # The waiter is another session on the server; no event in this process can tell.
        while await advisory_locks_on(url, name, granted=False) == 0:  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def advisory_locks_on(url: str, name: str, *, granted: bool | None = None) -> int:
    # pg_locks shows a bigint advisory key as its high and low 32 bits.
    key = advisory_key(name) & 0xFFFF_FFFF_FFFF_FFFF
    query = text(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1"
        " AND classid::bigint = :high AND objid::bigint = :low"
        " AND (CAST(:granted AS boolean) IS NULL OR granted = :granted)"
    )
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            parameters = {"high": key >> 32, "low": key & 0xFFFF_FFFF, "granted": granted}
            return int((await connection.execute(query, parameters)).scalar_one())
    finally:
        await engine.dispose()
