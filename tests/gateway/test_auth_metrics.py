"""Refused credentials are counted where an SRE can alert on them."""

import re

from tests.conftest import Deployment


async def auth_failures(deployment: Deployment) -> float:
    async with deployment.gateway.get("/metrics") as response:
        text = await response.text()

    found = re.search(r"^scim_auth_failures_total (\S+)$", text, re.MULTILINE)
    assert found is not None
    return float(found.group(1))


async def test_wrong_credentials_are_counted_in_the_auth_failure_metric(
    deployment: Deployment,
) -> None:
    before = await auth_failures(deployment)

    missing, _, _ = await deployment.scim("GET", "/Users", headers={"Authorization": ""})
    async with deployment.gateway.get(
        "/scim/v2/Users", headers={"Authorization": "Bearer not-a-token"}
    ) as wrong:
        assert wrong.status == 401

    assert missing == 401
    assert await auth_failures(deployment) == before + 2


async def test_accepted_credentials_are_not_counted(deployment: Deployment) -> None:
    before = await auth_failures(deployment)

    status, _, _ = await deployment.scim("GET", "/Users")

    assert status == 200
    assert await auth_failures(deployment) == before
