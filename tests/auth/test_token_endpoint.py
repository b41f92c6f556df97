"""POST /oauth/token (RFC 6749 §4.4) and GET /oauth/jwks over real HTTP."""

import base64
from typing import Any
from urllib.parse import quote_plus

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from gateway.auth.secrets import digest
from gateway.auth.throttle import FailureThrottle

from .conftest import (
    AUDIENCE,
    CLIENT_ID,
    CLIENT_SECRET,
    NEXT_CLIENT_SECRET,
    Client,
    FakeClock,
    auth_settings,
    basic,
    build_app,
    pem,
)

GRANT = {"grant_type": "client_credentials"}
NO_STORE = "no-store"
CLIENT_CHALLENGE = 'Basic realm="oauth", charset="UTF-8"'


async def request_token(
    client: Client, data: dict[str, str] | str, headers: dict[str, str] | None = None, **app: Any
) -> Any:
    session = await client(build_app(app.pop("auth", auth_settings()), **app))
    return await session.post("/oauth/token", data=data, headers=headers or {})


async def assert_granted(response: Any) -> dict[str, Any]:
    assert response.status == 200
    assert response.headers["Cache-Control"] == NO_STORE
    body = await response.json()
    assert body == {
        "access_token": body["access_token"],
        "token_type": "Bearer",
        "expires_in": 3600,
        "scope": "scim",
    }
    return body


async def assert_oauth_error(response: Any, status: int, error: str, description: str) -> None:
    assert response.status == status
    assert response.headers["Cache-Control"] == NO_STORE
    assert await response.json() == {"error": error, "error_description": description}


async def test_client_secret_basic_gets_an_access_token(aiohttp_client: Client) -> None:
    response = await request_token(
        aiohttp_client, GRANT, {"Authorization": basic(CLIENT_ID, CLIENT_SECRET)}
    )

    body = await assert_granted(response)
    claims = jwt.decode(
        body["access_token"], options={"verify_signature": False}, audience=AUDIENCE
    )
    assert (claims["sub"], claims["aud"], claims["scope"]) == ("entra", AUDIENCE, "scim")


async def test_client_secret_post_gets_an_access_token(aiohttp_client: Client) -> None:
    form = GRANT | {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}

    response = await request_token(aiohttp_client, form)

    await assert_granted(response)


async def test_basic_credentials_are_form_decoded(aiohttp_client: Client) -> None:
    # RFC 6749 §2.3.1: id and secret are application/x-www-form-urlencoded inside HTTP Basic.
    odd_id, odd_secret = "tenant:42 app", "p@ss:word+with spaces and 32+ characters"
    auth = auth_settings(oauth_clients=[{"client_id": odd_id, "secret_sha256": digest(odd_secret)}])
    encoded = f"{quote_plus(odd_id)}:{quote_plus(odd_secret)}"
    header = "Basic " + base64.b64encode(encoded.encode()).decode()

    response = await request_token(aiohttp_client, GRANT, {"Authorization": header}, auth=auth)

    await assert_granted(response)


async def test_both_secrets_of_a_rotation_are_accepted(aiohttp_client: Client) -> None:
    auth = auth_settings(
        oauth_clients=[
            {
                "client_id": CLIENT_ID,
                "secret_sha256": [digest(CLIENT_SECRET), digest(NEXT_CLIENT_SECRET)],
            }
        ]
    )
    session = await aiohttp_client(build_app(auth))

    for secret in (CLIENT_SECRET, NEXT_CLIENT_SECRET):
        form = GRANT | {"client_id": CLIENT_ID, "client_secret": secret}
        await assert_granted(await session.post("/oauth/token", data=form))


async def test_a_wrong_secret_is_invalid_client_with_a_challenge(aiohttp_client: Client) -> None:
    response = await request_token(
        aiohttp_client, GRANT, {"Authorization": basic(CLIENT_ID, "wrong")}
    )

    await assert_oauth_error(response, 401, "invalid_client", "the client id or secret is wrong")
    assert response.headers["WWW-Authenticate"] == CLIENT_CHALLENGE


async def test_an_unknown_client_is_answered_like_a_wrong_secret(aiohttp_client: Client) -> None:
    form = GRANT | {"client_id": "nobody", "client_secret": CLIENT_SECRET}

    response = await request_token(aiohttp_client, form)

    await assert_oauth_error(response, 401, "invalid_client", "the client id or secret is wrong")


async def test_a_request_without_client_credentials_is_invalid_client(
    aiohttp_client: Client,
) -> None:
    response = await request_token(aiohttp_client, GRANT)

    await assert_oauth_error(
        response,
        401,
        "invalid_client",
        "send client_id and client_secret, with HTTP Basic or as form fields",
    )


async def test_another_grant_type_is_unsupported(aiohttp_client: Client) -> None:
    form = {"grant_type": "password", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}

    response = await request_token(aiohttp_client, form)

    await assert_oauth_error(
        response, 400, "unsupported_grant_type", "this endpoint grants client_credentials only"
    )


async def test_a_missing_grant_type_is_an_invalid_request(aiohttp_client: Client) -> None:
    form = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}

    response = await request_token(aiohttp_client, form)

    await assert_oauth_error(
        response, 400, "invalid_request", "grant_type is missing: send client_credentials"
    )


async def test_a_json_body_is_an_invalid_request(aiohttp_client: Client) -> None:
    response = await request_token(
        aiohttp_client,
        '{"grant_type": "client_credentials"}',
        {"Content-Type": "application/json"},
    )

    await assert_oauth_error(
        response,
        400,
        "invalid_request",
        "send the token request as application/x-www-form-urlencoded (RFC 6749 4.4.2)",
    )


async def test_a_repeated_parameter_is_an_invalid_request(aiohttp_client: Client) -> None:
    body = f"grant_type=client_credentials&client_id={CLIENT_ID}&client_id=other"

    response = await request_token(
        aiohttp_client, body, {"Content-Type": "application/x-www-form-urlencoded"}
    )

    await assert_oauth_error(
        response, 400, "invalid_request", "the parameter client_id is sent more than once"
    )


async def test_two_client_authentication_methods_at_once_are_refused(
    aiohttp_client: Client,
) -> None:
    form = GRANT | {"client_secret": CLIENT_SECRET}

    response = await request_token(
        aiohttp_client, form, {"Authorization": basic(CLIENT_ID, CLIENT_SECRET)}
    )

    await assert_oauth_error(
        response,
        400,
        "invalid_request",
        "use one client authentication method, not both (RFC 6749 2.3)",
    )


async def test_the_scim_scope_may_be_asked_for(aiohttp_client: Client) -> None:
    form = GRANT | {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "scope": "scim"}

    await assert_granted(await request_token(aiohttp_client, form))


async def test_unknown_requested_scopes_are_ignored_and_scim_is_granted(
    aiohttp_client: Client,
) -> None:
    scopes = "https://scim.example.com/.default admin"
    form = GRANT | {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "scope": scopes}

    body = await assert_granted(await request_token(aiohttp_client, form))

    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["scope"] == "scim"


async def test_scim_among_other_scopes_grants_only_scim(aiohttp_client: Client) -> None:
    form = GRANT | {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "scope": "openid scim"}

    await assert_granted(await request_token(aiohttp_client, form))


async def test_a_client_that_keeps_failing_is_slowed_with_429(aiohttp_client: Client) -> None:
    throttle = FailureThrottle(max_failures=2, block_seconds=45, clock=FakeClock())
    session = await aiohttp_client(build_app(auth_settings(), throttle=throttle))
    wrong = GRANT | {"client_id": CLIENT_ID, "client_secret": "wrong"}
    for _ in range(2):
        assert (await session.post("/oauth/token", data=wrong)).status == 401

    right = GRANT | {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    response = await session.post("/oauth/token", data=right)

    assert response.headers["Retry-After"] == "45"
    await assert_oauth_error(
        response,
        429,
        "temporarily_unavailable",
        "too many failed authentication attempts from this address: retry in 45 seconds, "
        "after checking the credentials configured in the IdP",
    )


async def test_the_token_endpoint_answers_post_only(aiohttp_client: Client) -> None:
    session = await aiohttp_client(build_app(auth_settings()))

    response = await session.get("/oauth/token")

    assert response.status == 405


async def test_the_jwks_endpoint_publishes_the_signing_keys(
    aiohttp_client: Client, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    auth = auth_settings(
        jwt_signing_key=None,
        signing_keys=[{"kid": "es-1", "algorithm": "ES256", "private_key_pem": pem(ec_key)}],
    )
    session = await aiohttp_client(build_app(auth))
    grant = await session.post(
        "/oauth/token", data=GRANT, headers={"Authorization": basic(CLIENT_ID, CLIENT_SECRET)}
    )
    token = (await grant.json())["access_token"]

    response = await session.get("/oauth/jwks")

    assert response.status == 200
    jwks = await response.json()
    assert [(key["kid"], key["kty"], key["crv"]) for key in jwks["keys"]] == [
        ("es-1", "EC", "P-256")
    ]
    published = jwt.PyJWKSet.from_dict(jwks)["es-1"]
    assert (
        jwt.decode(token, published.key, algorithms=["ES256"], audience=AUDIENCE)["sub"] == "entra"
    )


async def test_the_jwks_is_empty_for_an_hs256_key(aiohttp_client: Client) -> None:
    session = await aiohttp_client(build_app(auth_settings()))

    response = await session.get("/oauth/jwks")

    assert await response.json() == {"keys": []}
