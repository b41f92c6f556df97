"""Each way an IdP authenticates, end to end: the answer it gets, and 401 when it is wrong."""

import base64
from typing import Any

import jwt
import pytest

from tests.conftest import Deployment
from tests.gateway.conftest import LIST_SCHEMA, scim_error

LOOKUP = "/scim/v2/Users?filter=userName%20eq%20%22dana.whitfield%40example.com%22"


async def get_users(deployment: Deployment, authorization: str | None) -> tuple[int, Any, Any]:
    headers = {"Authorization": authorization} if authorization is not None else {}
    async with deployment.gateway.get(LOOKUP, headers=headers) as response:
        return response.status, await response.json(content_type=None), response.headers


def found_dana(status: int, body: Any) -> bool:
    return (
        status == 200
        and body["schemas"] == [LIST_SCHEMA]
        and [user["userName"] for user in body["Resources"]] == ["dana.whitfield@example.com"]
    )


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


async def request_token(deployment: Deployment, **kwargs: Any) -> tuple[int, Any]:
    async with deployment.gateway.post("/oauth/token", **kwargs) as response:
        return response.status, await response.json(content_type=None)


async def test_basic_credentials_are_accepted(deployment: Deployment) -> None:
    status, body, _ = await get_users(deployment, deployment.credentials.basic_header)

    assert found_dana(status, body)


async def test_static_token_with_the_bearer_scheme_is_accepted(deployment: Deployment) -> None:
    status, body, _ = await get_users(deployment, f"Bearer {deployment.credentials.bearer_token}")

    assert found_dana(status, body)


async def test_static_token_without_a_scheme_is_accepted_as_okta_sends_it(
    deployment: Deployment,
) -> None:
    status, body, _ = await get_users(deployment, deployment.credentials.bearer_token)

    assert found_dana(status, body)


async def test_client_secret_basic_gets_a_token_that_opens_scim(deployment: Deployment) -> None:
    credentials = deployment.credentials

    status, token = await request_token(
        deployment,
        data={"grant_type": "client_credentials"},
        headers={"Authorization": basic(credentials.client_id, credentials.client_secret)},
    )

    assert status == 200
    assert token == {
        "access_token": token["access_token"],
        "token_type": "Bearer",
        "expires_in": 3600,
        "scope": "scim",
    }
    assert token["access_token"].count(".") == 2
    status, body, _ = await get_users(deployment, f"Bearer {token['access_token']}")
    assert found_dana(status, body)


async def test_client_secret_post_gets_a_token_that_opens_scim(deployment: Deployment) -> None:
    credentials = deployment.credentials

    status, token = await request_token(
        deployment,
        data={
            "grant_type": "client_credentials",
            "client_id": credentials.client_id,
            "client_secret": credentials.client_secret,
        },
    )

    assert status == 200
    status, body, _ = await get_users(deployment, f"Bearer {token['access_token']}")
    assert found_dana(status, body)


async def test_wrong_client_secret_gets_no_token(deployment: Deployment) -> None:
    status, body = await request_token(
        deployment,
        data={
            "grant_type": "client_credentials",
            "client_id": deployment.credentials.client_id,
            "client_secret": "not-the-secret",
        },
    )

    assert status == 401
    assert body["error"] == "invalid_client"
    assert "access_token" not in body


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Basic " + base64.b64encode(b"okta:wrong-password").decode(),
        "Basic not-base64!",
        "Bearer not-a-known-token",
        "Bearer a.b.c",
        "not-a-known-token",
        "Digest username=okta",
    ],
    ids=[
        "missing",
        "empty",
        "wrong-password",
        "malformed-basic",
        "unknown-bearer",
        "forged-jwt",
        "unknown-header-token",
        "unknown-scheme",
    ],
)
async def test_missing_or_wrong_credentials_get_401_with_a_challenge(
    deployment: Deployment, authorization: str | None
) -> None:
    before = deployment.portal.requests.counters()["requests"]

    status, body, headers = await get_users(deployment, authorization)

    assert (status, body) == (401, scim_error(401))
    assert "Basic" in headers["WWW-Authenticate"] and "Bearer" in headers["WWW-Authenticate"]
    assert deployment.portal.requests.counters()["requests"] == before


async def test_token_signed_by_another_key_is_refused(deployment: Deployment) -> None:
    forged = jwt.encode(
        {"sub": deployment.credentials.client_id, "scope": "scim"},
        "another-signing-key-0123456789-0123456789",
        algorithm="HS256",
    )

    status, body, headers = await get_users(deployment, f"Bearer {forged}")

    assert (status, body) == (401, scim_error(401))
    assert 'error="invalid_token"' in headers["WWW-Authenticate"]
