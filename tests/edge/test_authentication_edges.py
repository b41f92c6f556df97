"""Authorization headers an IdP, a proxy or an attacker may send, and what each gets."""

import base64

from gateway.app import build_app
from tests.conftest import Deployment, gateway_settings
from tests.edge.conftest import exchange
from tests.gateway.conftest import USER_SCHEMA, scim_error

INVALID_TOKEN = 'Basic realm="SCIM", charset="UTF-8", Bearer realm="SCIM", error="invalid_token"'


NEW_USER_NAME = "edge.case@example.com"


def new_user() -> dict[str, object]:
    return {"schemas": [USER_SCHEMA], "userName": NEW_USER_NAME}


def portal_user_names(deployment: Deployment) -> set[str]:
    return {user.user_name for user in deployment.portal.users.values()}


async def test_basic_credentials_with_bytes_outside_ascii_get_401_not_500(
    deployment: Deployment,
) -> None:
    request = (
        b"GET /scim/v2/Users HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n"
        b"Authorization: Basic \xc3\xa9t\xc3\xa9\r\n\r\n"
    )

    status, body = await exchange(deployment, request)

    assert status == 401
    assert body.startswith(b'{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"]')
    assert b"the Basic credentials are not base64 of user:password" in body


async def test_basic_credentials_that_decode_to_no_utf8_get_401(deployment: Deployment) -> None:
    headers = {"Authorization": "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode()}

    status, body, _ = await deployment.scim("GET", "/Users", headers=headers)

    assert (status, body) == (401, scim_error(401))


async def test_two_authorization_headers_are_refused_even_when_the_first_is_right(
    deployment: Deployment,
) -> None:
    basic = deployment.credentials.basic_header
    request = (
        "POST /scim/v2/Users HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n"
        f"Authorization: {basic}\r\nAuthorization: Bearer forged\r\n"
        "Content-Type: application/scim+json\r\n"
    )
    body = f'{{"schemas":["{USER_SCHEMA}"],"userName":"{NEW_USER_NAME}"}}'
    request += f"Content-Length: {len(body)}\r\n\r\n{body}"

    status, answer = await exchange(deployment, request.encode())

    assert status == 401
    assert b"send one Authorization header, not several" in answer
    assert NEW_USER_NAME not in portal_user_names(deployment)


async def test_a_token_request_with_bytes_outside_ascii_in_basic_gets_invalid_client(
    deployment: Deployment,
) -> None:
    form = b"grant_type=client_credentials"
    request = (
        b"POST /oauth/token HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n"
        b"Authorization: Basic \xc3\xa9t\xc3\xa9\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: " + str(len(form)).encode() + b"\r\n\r\n" + form
    )

    status, body = await exchange(deployment, request)

    assert status == 401
    assert body.startswith(b'{"error": "invalid_client"')


async def test_a_token_request_with_two_authorization_headers_is_invalid_request(
    deployment: Deployment,
) -> None:
    credentials = deployment.credentials
    right = base64.b64encode(f"{credentials.client_id}:{credentials.client_secret}".encode())
    form = b"grant_type=client_credentials"
    request = (
        b"POST /oauth/token HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n"
        b"Authorization: Basic " + right + b"\r\nAuthorization: Basic d3Jvbmc6d3Jvbmc=\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: " + str(len(form)).encode() + b"\r\n\r\n" + form
    )

    status, body = await exchange(deployment, request)

    assert status == 400
    assert body == (
        b'{"error": "invalid_request", "error_description": '
        b'"send one Authorization header, not several"}'
    )


async def test_an_access_token_of_a_client_removed_from_the_config_is_refused(
    deployment: Deployment, aiohttp_client: object
) -> None:
    credentials = deployment.credentials
    form = {
        "grant_type": "client_credentials",
        "client_id": credentials.client_id,
        "client_secret": credentials.client_secret,
    }
    async with deployment.gateway.post("/oauth/token", data=form) as response:
        token = (await response.json())["access_token"]
    settings = gateway_settings(
        credentials,
        deployment.portal_url,
        deployment.settings.store.url,
        auth={"oauth_clients": []},
    )
    restarted = await aiohttp_client(build_app(settings))  # type: ignore[operator]

    async with restarted.post(
        "/scim/v2/Users", json=new_user(), headers={"Authorization": f"Bearer {token}"}
    ) as response:
        status, body = response.status, await response.json(content_type=None)
        challenge = response.headers["WWW-Authenticate"]

    assert (status, body) == (401, scim_error(401))
    assert body["detail"] == "the access token was issued to a client this gateway no longer knows"
    assert challenge == INVALID_TOKEN
    assert NEW_USER_NAME not in portal_user_names(deployment)
