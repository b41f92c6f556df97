"""Two gateway replicas on one PostgreSQL store in front of one portal: requests racing on
the same user or group end as if they had been served one after the other."""

import asyncio
from typing import Any

from tests.breaking.conftest import Replicas
from tests.gateway.conftest import PATCH_SCHEMA, USER_SCHEMA, scim_error


def member_patch(op: str, user_id: str) -> dict[str, Any]:
    return {
        "schemas": [PATCH_SCHEMA],
        "Operations": [{"op": op, "path": "members", "value": [{"value": user_id}]}],
    }


async def test_one_user_name_created_on_both_replicas_at_once_is_one_portal_user(
    replicas: Replicas,
) -> None:
    answers = await asyncio.gather(
        replicas.first.scim("POST", "/Users", json={"schemas": [USER_SCHEMA], "userName": "Ada"}),
        replicas.second.scim("POST", "/Users", json={"schemas": [USER_SCHEMA], "userName": "ada"}),
    )

    assert sorted(status for status, _, _ in answers) == [201, 409]
    assert [body for status, body, _ in answers if status == 409] == [scim_error(409, "uniqueness")]
    names = [user.user_name.casefold() for user in replicas.portal.users.values()]
    assert names.count("ada") == 1


async def test_member_adds_and_removes_spread_over_replicas_end_as_the_serial_result(
    replicas: Replicas,
) -> None:
    ids = []
    for number in range(8):
        body = {"schemas": [USER_SCHEMA], "userName": f"user{number}@example.com"}
        status, created, _ = await replicas.first.scim("POST", "/Users", json=body)
        assert status == 201
        ids.append(created["id"])
    staying, leaving, joining = ids[:2], ids[2:5], ids[5:]
    _, group, _ = await replicas.first.scim(
        "POST",
        "/Groups",
        json={"displayName": "Analysts", "members": [{"value": i} for i in ids[:5]]},
    )
    changes = [("remove", i) for i in leaving] + [("add", i) for i in joining]
    replicas.portal.sessions.expire_all()

    answers = await asyncio.gather(
        *(
            (replicas.first if n % 2 else replicas.second).scim(
                "PATCH", f"/Groups/{group['id']}", json=member_patch(op, user_id)
            )
            for n, (op, user_id) in enumerate(changes)
        )
    )

    assert [status for status, _, _ in answers] == [200] * len(changes)
    assert set(replicas.portal.groups[group["id"]].members) == set(staying + joining)
