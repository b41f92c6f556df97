"""Two groups renamed to one name at once: one rename wins, the other changes nothing at all,
not even the members its PATCH also added."""

import asyncio
from typing import Any

import pytest

from gateway.simulator import FaultAction, FaultRule
from tests.conftest import Deployment
from tests.gateway.conftest import (
    EXISTING_USER,
    GROUP_SCHEMA,
    PATCH_SCHEMA,
    member_names,
    portal_user,
    scim_error,
)

GROUPS = "/rest/security/groups"


def add_dana_and_rename(dana: str, name: str) -> dict[str, Any]:
    return {
        "schemas": [PATCH_SCHEMA],
        "Operations": [
            {"op": "add", "path": "members", "value": [{"value": dana}]},
            {"op": "replace", "path": "displayName", "value": name},
        ],
    }


async def create_group(deployment: Deployment, name: str) -> str:
    body = {"schemas": [GROUP_SCHEMA], "displayName": name}
    status, answer, _ = await deployment.scim("POST", "/Groups", json=body)
    assert status == 201, answer

    return str(answer["id"])


def members_added(deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> asyncio.Event:
    """Set once the portal has carried out a member addition."""
    added = asyncio.Event()
    add_members = deployment.portal.add_members

    def add_and_tell(group_id: str, user_ids: Any) -> None:
        add_members(group_id, user_ids)
        added.set()

    monkeypatch.setattr(deployment.portal, "add_members", add_and_tell)
    return added


async def test_losing_rename_to_a_taken_name_adds_no_member(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    dana = portal_user(deployment.portal, EXISTING_USER)
    assert dana is not None
    first, second = await create_group(deployment, "Sales"), await create_group(deployment, "Ops")
    # The first rename is held at the portal after its member add, the window in which the
    # second PATCH would otherwise find the name still free.
    deployment.portal.faults.add(
        FaultRule(f"{GROUPS}/{first}", method="PUT", action=FaultAction.DELAY, delay_seconds=0.5)
    )
    added = members_added(deployment, monkeypatch)
    winner = asyncio.create_task(
        deployment.scim("PATCH", f"/Groups/{first}", json=add_dana_and_rename(dana.id, "Shared"))
    )
    await added.wait()

    loser = await deployment.scim(
        "PATCH", f"/Groups/{second}", json=add_dana_and_rename(dana.id, "shared")
    )

    assert (await winner)[0] == 200
    assert (loser[0], loser[1]) == (409, scim_error(409, "uniqueness"))
    assert deployment.portal.groups[second].name == "Ops"
    assert member_names(deployment.portal, second) == []
    assert member_names(deployment.portal, first) == [EXISTING_USER]
