"""Which members a group read returns when the IdP narrows the attributes."""

from tests.conftest import Deployment
from tests.gateway.test_groups import create_group, create_user


async def test_excluding_member_display_keeps_the_members(deployment: Deployment) -> None:
    ada = await create_user(deployment, "ada@example.com")
    group = await create_group(deployment, "Analysts", [ada])

    status, body, _ = await deployment.scim(
        "GET", f"/Groups/{group['id']}", params={"excludedAttributes": "members.display"}
    )

    assert status == 200
    assert body["members"] == [
        {"value": ada, "type": "User", "$ref": f"http://gateway.test/scim/v2/Users/{ada}"}
    ]


async def test_excluding_members_leaves_them_out(deployment: Deployment) -> None:
    ada = await create_user(deployment, "ada@example.com")
    group = await create_group(deployment, "Analysts", [ada])

    status, body, _ = await deployment.scim(
        "GET", f"/Groups/{group['id']}", params={"excludedAttributes": "members"}
    )

    assert status == 200
    assert "members" not in body
    assert body["displayName"] == "Analysts"
