"""The Authenticator behind a real HTTP route, as an IdP meets it."""

from typing import Any

from gateway.auth.secrets import digest
from gateway.auth.throttle import FailureThrottle

from .conftest import (
    BASIC_PASSWORD,
    BASIC_USER,
    CLIENT_ID,
    CLIENT_SECRET,
    STATIC_TOKEN,
    Client,
    FakeClock,
    auth_settings,
    basic,
    build_app,
)

ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
CHALLENGE = 'Basic realm="SCIM", charset="UTF-8", Bearer realm="SCIM"'
INVALID_TOKEN_CHALLENGE = (
    'Basic realm="SCIM", charset="UTF-8", Bearer realm="SCIM", error="invalid_token"'
)
METHODS = (
    "use HTTP Basic or a static bearer token or an access token from the gateway's token endpoint"
)


async def get_users(client: Client, authorization: str | None, **app: Any) -> Any:
    session = await client(build_app(app.pop("auth", auth_settings()), **app))
    headers = {} if authorization is None else {"Authorization": authorization}
    return await session.get("/scim/v2/Users", headers=headers)


async def test_http_basic_with_the_configured_password_is_accepted(aiohttp_client: Client) -> None:
    response = await get_users(aiohttp_client, basic(BASIC_USER, BASIC_PASSWORD))

    assert response.status == 200
    assert await response.json() == {"client_id": "okta", "method": "basic"}


async def test_either_password_of_a_basic_rotation_is_accepted(aiohttp_client: Client) -> None:
    auth = auth_settings(
        basic=[
            {"username": "okta", "password_sha256": digest("old-password-32-bytes-long-enough")},
            {"username": "okta", "password_sha256": digest(BASIC_PASSWORD)},
        ]
    )
    session = await aiohttp_client(build_app(auth))

    old = await session.get(
        "/scim/v2/Users",
        headers={"Authorization": basic("okta", "old-password-32-bytes-long-enough")},
    )
    new = await session.get(
        "/scim/v2/Users", headers={"Authorization": basic("okta", BASIC_PASSWORD)}
    )

    assert (old.status, new.status) == (200, 200)


async def test_a_static_token_with_the_bearer_scheme_is_accepted(aiohttp_client: Client) -> None:
    response = await get_users(aiohttp_client, f"Bearer {STATIC_TOKEN}")

    assert response.status == 200
    assert await response.json() == {"client_id": "okta-header", "method": "bearer"}


async def test_the_scheme_is_case_insensitive(aiohttp_client: Client) -> None:
    response = await get_users(aiohttp_client, f"bearer {STATIC_TOKEN}")

    assert response.status == 200


async def test_a_static_token_with_no_scheme_is_accepted(aiohttp_client: Client) -> None:
    # Okta "HTTP Header" mode sends the token as the whole header value.
    response = await get_users(aiohttp_client, STATIC_TOKEN)

    assert response.status == 200
    assert await response.json() == {"client_id": "okta-header", "method": "bearer"}


async def test_an_access_token_from_the_token_endpoint_is_accepted(
    aiohttp_client: Client,
) -> None:
    session = await aiohttp_client(build_app(auth_settings()))
    grant = await session.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        },
    )
    token = (await grant.json())["access_token"]

    response = await session.get("/scim/v2/Users", headers={"Authorization": f"Bearer {token}"})

    assert response.status == 200
    assert await response.json() == {"client_id": "entra", "method": "oauth"}


async def test_a_request_without_credentials_gets_a_scim_401_with_a_challenge(
    aiohttp_client: Client,
) -> None:
    response = await get_users(aiohttp_client, None)

    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == CHALLENGE
    assert response.content_type == "application/scim+json"
    assert await response.json() == {
        "schemas": [ERROR],
        "status": "401",
        "detail": f"send credentials in the Authorization header: {METHODS}",
    }


async def test_a_header_with_no_known_scheme_or_token_gets_401(aiohttp_client: Client) -> None:
    response = await get_users(aiohttp_client, "non-token")

    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == CHALLENGE
    assert await response.json() == {
        "schemas": [ERROR],
        "status": "401",
        "detail": "the Authorization header holds neither a known scheme (Basic, Bearer) nor a "
        f"configured token: {METHODS}",
    }


async def test_a_wrong_basic_password_gets_401(aiohttp_client: Client) -> None:
    response = await get_users(aiohttp_client, basic(BASIC_USER, "wrong"))

    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == CHALLENGE
    assert await response.json() == {
        "schemas": [ERROR],
        "status": "401",
        "detail": "the Basic username or password is wrong",
    }


async def test_a_right_password_under_another_username_gets_401(aiohttp_client: Client) -> None:
    response = await get_users(aiohttp_client, basic("someone-else", BASIC_PASSWORD))

    assert response.status == 401


async def test_basic_credentials_that_are_not_base64_get_401(aiohttp_client: Client) -> None:
    response = await get_users(aiohttp_client, "Basic !!not-base64!!")

    assert response.status == 401
    assert (await response.json())["detail"] == (
        "the Basic credentials are not base64 of user:password"
    )


async def test_an_unknown_bearer_token_gets_401_marked_invalid_token(
    aiohttp_client: Client,
) -> None:
    response = await get_users(aiohttp_client, "Bearer not-a-configured-token")

    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == INVALID_TOKEN_CHALLENGE
    assert await response.json() == {
        "schemas": [ERROR],
        "status": "401",
        "detail": "the bearer token is not one this gateway knows",
    }


async def test_a_bad_access_token_gets_401_saying_why_without_echoing_it(
    aiohttp_client: Client,
) -> None:
    forged = "eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0.eyJzdWIiOiJ4In0."

    response = await get_users(aiohttp_client, f"Bearer {forged}")

    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == INVALID_TOKEN_CHALLENGE
    assert await response.json() == {
        "schemas": [ERROR],
        "status": "401",
        "detail": "the access token is signed with an algorithm its key forbids",
    }


async def test_the_challenge_names_only_the_configured_methods(aiohttp_client: Client) -> None:
    auth = auth_settings(bearer=[], oauth_clients=[], jwt_signing_key=None)

    response = await get_users(aiohttp_client, "Bearer anything", auth=auth)

    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="SCIM", charset="UTF-8"'
    assert (await response.json())["detail"] == "the bearer token is not one this gateway knows"


async def test_basic_is_refused_when_only_tokens_are_configured(aiohttp_client: Client) -> None:
    auth = auth_settings(basic=[])

    response = await get_users(aiohttp_client, basic(BASIC_USER, BASIC_PASSWORD), auth=auth)

    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="SCIM"'
    assert (await response.json())["detail"] == (
        "HTTP Basic is not enabled on this gateway: use a static bearer token or an access "
        "token from the gateway's token endpoint"
    )


async def test_a_source_that_keeps_failing_gets_429_with_retry_after(
    aiohttp_client: Client,
) -> None:
    clock = FakeClock()
    throttle = FailureThrottle(max_failures=3, window_seconds=60, block_seconds=30, clock=clock)
    session = await aiohttp_client(build_app(auth_settings(), throttle=throttle))
    for _ in range(3):
        refused = await session.get("/scim/v2/Users", headers={"Authorization": "non-token"})
        assert refused.status == 401

    blocked = await session.get("/scim/v2/Users", headers={"Authorization": STATIC_TOKEN})

    assert blocked.status == 429
    assert blocked.headers["Retry-After"] == "30"
    assert await blocked.json() == {
        "schemas": [ERROR],
        "status": "429",
        "detail": "too many failed authentication attempts from this address: retry in 30 "
        "seconds, after checking the credentials configured in the IdP",
    }


async def test_a_blocked_source_is_served_again_once_the_block_ends(
    aiohttp_client: Client,
) -> None:
    clock = FakeClock()
    throttle = FailureThrottle(max_failures=1, block_seconds=30, clock=clock)
    session = await aiohttp_client(build_app(auth_settings(), throttle=throttle))
    await session.get("/scim/v2/Users")

    clock.advance(30)
    response = await session.get("/scim/v2/Users", headers={"Authorization": STATIC_TOKEN})

    assert response.status == 200
