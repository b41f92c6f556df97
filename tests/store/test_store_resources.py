"""Saving, reading, finding and forgetting what the gateway keeps per resource."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from gateway.store import Store, StoredResource
from gateway.store.store import IDS_PER_QUERY

CREATED = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)


def resource(portal_id: str = "u-1", **fields: object) -> StoredResource:
    values: dict[str, object] = {
        "kind": "User",
        "portal_id": portal_id,
        "external_id": f"ext-{portal_id}",
        "extra": {},
        "created": CREATED,
        "last_modified": CREATED,
        "version": 1,
    }
    values.update(fields)
    return StoredResource(**values)  # type: ignore[arg-type]


async def test_a_saved_resource_reads_back_whole(store: Store) -> None:
    saved = resource(
        extra={
            "displayName": "Zoë Ångström-Łukasiewicz 山田",
            "emails": [{"value": "zoe@example.com", "primary": True}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "R&D"},
        },
        last_modified=CREATED + timedelta(minutes=5),
        version=3,
    )
    await store.save(saved)

    assert await store.get("User", "u-1") == saved


async def test_timestamps_come_back_aware_and_in_utc(store: Store) -> None:
    paris = timezone(timedelta(hours=2))
    await store.save(resource(created=datetime(2026, 3, 1, 11, 30, tzinfo=paris)))

    stored = await store.get("User", "u-1")

    assert stored is not None
    assert stored.created == datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    assert stored.created.utcoffset() == timedelta(0)
    assert stored.last_modified.tzinfo is not None


async def test_saving_again_replaces_every_stored_field(store: Store) -> None:
    await store.save(resource(extra={"title": "Analyst"}))
    newer = resource(
        external_id="ext-other",
        extra={"nickName": "Sam"},
        created=CREATED - timedelta(days=1),
        last_modified=CREATED + timedelta(hours=1),
        version=2,
    )

    await store.save(newer)

    assert await store.get("User", "u-1") == newer


async def test_a_resource_never_saved_is_none(store: Store) -> None:
    assert await store.get("User", "missing") is None


async def test_users_and_groups_with_one_portal_id_are_kept_apart(store: Store) -> None:
    user = resource("same-id")
    group = resource("same-id", kind="Group", external_id=None, extra={"note": "group"})

    await store.save(user)
    await store.save(group)

    assert await store.get("User", "same-id") == user
    assert await store.get("Group", "same-id") == group


async def test_get_many_returns_the_stored_ones_by_portal_id(store: Store) -> None:
    await store.save(resource("u-1"))
    await store.save(resource("u-2", version=7))
    await store.save(resource("u-3", kind="Group"))

    found = await store.get_many("User", ["u-1", "u-2", "u-3", "u-missing", "u-1"])

    assert found == {"u-1": resource("u-1"), "u-2": resource("u-2", version=7)}


async def test_get_many_with_no_ids_is_empty(store: Store) -> None:
    assert await store.get_many("User", []) == {}


async def test_get_many_answers_more_ids_than_one_query_holds(store: Store) -> None:
    ids = [f"u-{number}" for number in range(IDS_PER_QUERY * 2 + 1)]
    for portal_id in ids[::50]:
        await store.save(resource(portal_id))

    found = await store.get_many("User", ids)

    assert sorted(found) == sorted(ids[::50])


async def test_find_by_external_id_is_case_exact(store: Store) -> None:
    await store.save(resource("u-1", external_id="00uAbC"))
    await store.save(resource("u-2", external_id="00uabc"))

    assert await store.find_by_external_id("User", "00uAbC") == ["u-1"]
    assert await store.find_by_external_id("User", "00UABC") == []


async def test_find_by_external_id_returns_every_portal_id_that_shares_it(store: Store) -> None:
    await store.save(resource("u-2", external_id="shared"))
    await store.save(resource("u-1", external_id="shared"))
    await store.save(resource("g-1", kind="Group", external_id="shared"))

    assert await store.find_by_external_id("User", "shared") == ["u-1", "u-2"]
    assert await store.find_by_external_id("Group", "shared") == ["g-1"]


async def test_delete_forgets_the_resource_and_its_external_id(store: Store) -> None:
    await store.save(resource("u-1", external_id="gone"))

    await store.delete("User", "u-1")

    assert await store.get("User", "u-1") is None
    assert await store.find_by_external_id("User", "gone") == []


async def test_deleting_a_resource_never_saved_is_not_an_error(store: Store) -> None:
    await store.delete("User", "missing")


async def test_delete_leaves_the_other_kind_alone(store: Store) -> None:
    await store.save(resource("same-id"))
    await store.save(resource("same-id", kind="Group"))

    await store.delete("User", "same-id")

    assert await store.get("Group", "same-id") == resource("same-id", kind="Group")


def test_a_naive_timestamp_is_refused() -> None:
    with pytest.raises(ValueError, match="aware datetime"):
        resource(created=datetime(2026, 3, 1, 9, 30))


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="kind must be one of"):
        replace(resource(), kind="Users")
