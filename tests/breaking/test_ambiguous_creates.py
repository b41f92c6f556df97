"""A create whose first attempt failed without a clear answer must never take over a user or
group that existed before it: the IdP gets 409 uniqueness and the portal keeps what it had."""

from typing import Any

from gateway.simulator import FaultRule
from tests.conftest import Deployment
from tests.gateway.conftest import (
    EXISTING_USER,
    GROUP_SCHEMA,
    USER_SCHEMA,
    member_names,
    portal_group,
    portal_user,
    scim_error,
    stored,
)

USERS = "/rest/security/users"
GROUPS = "/rest/security/groups"
UNKNOWN_ID = "0000000000000000000000000000dead"


def refuse_first_create(deployment: Deployment, path: str) -> None:
    """The portal answers the first creation 503 before doing anything (an overloaded portal or
    its load balancer): the client cannot tell that from a creation that happened."""
    deployment.portal.faults.add(FaultRule(path, method="POST", count=1, status=503))


async def test_creating_an_existing_portal_user_after_a_503_answers_409(
    deployment: Deployment,
) -> None:
    refuse_first_create(deployment, USERS)
    body: dict[str, Any] = {
        "schemas": [USER_SCHEMA],
        "userName": EXISTING_USER,
        "externalId": "00u-other",
        "name": {"givenName": "Someone", "familyName": "Else"},
    }

    status, answer, _ = await deployment.scim("POST", "/Users", json=body)

    assert (status, answer) == (409, scim_error(409, "uniqueness"))
    dana = portal_user(deployment.portal, EXISTING_USER)
    assert dana is not None
    assert (dana.first_name, dana.last_name, dana.role) == ("Dana", "Whitfield", "Designer")
    assert await stored(deployment, "User", dana.id) is None


async def test_creating_an_existing_group_after_a_503_leaves_that_group_and_its_members(
    deployment: Deployment,
) -> None:
    dana = portal_user(deployment.portal, EXISTING_USER)
    assert dana is not None
    existing = {
        "schemas": [GROUP_SCHEMA],
        "displayName": "Analysts",
        "members": [{"value": dana.id}],
    }
    assert (await deployment.scim("POST", "/Groups", json=existing))[0] == 201
    refuse_first_create(deployment, GROUPS)
    again = {
        "schemas": [GROUP_SCHEMA],
        "displayName": "analysts",
        "members": [{"value": UNKNOWN_ID}],
    }

    status, answer, _ = await deployment.scim("POST", "/Groups", json=again)

    assert (status, answer) == (409, scim_error(409, "uniqueness"))
    group = portal_group(deployment.portal, "Analysts")
    assert group is not None
    assert member_names(deployment.portal, group.id) == [EXISTING_USER]
