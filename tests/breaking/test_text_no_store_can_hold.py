"""A NUL character in a request: PostgreSQL cannot hold it in text, so the gateway must refuse
it up front with a SCIM 400 on every back-end, never answer 500 after writing the portal."""

import pytest

from tests.conftest import Deployment
from tests.gateway.conftest import USER_SCHEMA, portal_user, scim_error


@pytest.mark.parametrize("store_url", ["sqlite", "postgres"], indirect=True)
async def test_user_with_a_nul_in_its_external_id_is_refused_with_400(
    deployment: Deployment,
) -> None:
    body = {"schemas": [USER_SCHEMA], "userName": "ada@example.com", "externalId": "00u\u0000"}

    status, answer, _ = await deployment.scim("POST", "/Users", json=body)

    assert (status, answer) == (400, scim_error(400, "invalidSyntax"))
    assert portal_user(deployment.portal, "ada@example.com") is None


@pytest.mark.parametrize("store_url", ["sqlite", "postgres"], indirect=True)
async def test_filter_on_an_external_id_with_a_nul_is_refused_with_400(
    deployment: Deployment,
) -> None:
    status, answer, _ = await deployment.scim(
        "GET", "/Users", params={"filter": 'externalId eq "00u\\u0000"'}
    )

    assert (status, answer) == (400, scim_error(400, "invalidFilter"))
