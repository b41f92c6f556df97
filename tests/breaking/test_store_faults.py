"""The store fails while the portal works: the IdP gets 503 with a SCIM body, never a 500, and
its retry of the same request finishes the job, leaving nothing half written."""

from tests.breaking.conftest import read_only_store
from tests.conftest import Deployment
from tests.gateway.conftest import (
    EXISTING_USER,
    GROUP_SCHEMA,
    USER_SCHEMA,
    portal_group,
    portal_user,
    scim_error,
    stored,
)


async def test_user_create_whose_store_write_fails_is_undone_in_the_portal(
    deployment: Deployment,
) -> None:
    body = {"schemas": [USER_SCHEMA], "userName": "ada@example.com", "externalId": "00u-ada"}

    async with read_only_store(deployment):
        status, answer, headers = await deployment.scim("POST", "/Users", json=body)

    assert (status, answer) == (503, scim_error(503))
    assert int(headers["Retry-After"]) >= 1
    assert portal_user(deployment.portal, "ada@example.com") is None


async def test_group_create_whose_store_write_fails_is_undone_with_its_members(
    deployment: Deployment,
) -> None:
    dana = portal_user(deployment.portal, EXISTING_USER)
    assert dana is not None
    body = {"schemas": [GROUP_SCHEMA], "displayName": "Analysts", "members": [{"value": dana.id}]}

    async with read_only_store(deployment):
        status, answer, _ = await deployment.scim("POST", "/Groups", json=body)

    assert (status, answer) == (503, scim_error(503))
    assert portal_group(deployment.portal, "Analysts") is None
    assert dana.groups == {}


async def test_user_delete_retried_after_a_store_failure_finishes_the_delete(
    deployment: Deployment,
) -> None:
    body = {"schemas": [USER_SCHEMA], "userName": "ada@example.com", "externalId": "00u-ada"}
    _, created, _ = await deployment.scim("POST", "/Users", json=body)
    async with read_only_store(deployment):
        first = await deployment.scim("DELETE", f"/Users/{created['id']}")

    status, answer, _ = await deployment.scim("DELETE", f"/Users/{created['id']}")

    assert (first[0], first[1]) == (503, scim_error(503))
    assert (status, answer) == (204, None)
    assert created["id"] not in deployment.portal.users
    assert await stored(deployment, "User", created["id"]) is None


async def test_group_delete_retried_after_a_store_failure_finishes_the_delete(
    deployment: Deployment,
) -> None:
    _, created, _ = await deployment.scim(
        "POST", "/Groups", json={"schemas": [GROUP_SCHEMA], "displayName": "Analysts"}
    )
    async with read_only_store(deployment):
        first = await deployment.scim("DELETE", f"/Groups/{created['id']}")

    status, answer, _ = await deployment.scim("DELETE", f"/Groups/{created['id']}")

    assert (first[0], first[1]) == (503, scim_error(503))
    assert (status, answer) == (204, None)
    assert created["id"] not in deployment.portal.groups
    assert await stored(deployment, "Group", created["id"]) is None


async def test_deleting_a_user_neither_portal_nor_store_knows_answers_404(
    deployment: Deployment,
) -> None:
    status, answer, _ = await deployment.scim("DELETE", "/Users/0000000000000000000000000000dead")

    assert (status, answer) == (404, scim_error(404))
