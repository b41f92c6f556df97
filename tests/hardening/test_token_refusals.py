"""Access tokens against the real gateway: each forged, stale or misdirected token gets 401
with a SCIM body, and the portal is left as it was."""

import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from gateway.auth.secrets import digest, new_secret
from tests.auth.conftest import forge, pem, public_pem
from tests.conftest import SIGNING_KEY, Deployment

from .conftest import USER_SCHEMA, Deploy, portal_snapshot, scim_error

ISSUER = "http://gateway.test"
AUDIENCE = "http://gateway.test/scim/v2"
INVALID_TOKEN = 'Basic realm="SCIM", charset="UTF-8", Bearer realm="SCIM", error="invalid_token"'


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    values = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "entra",
        "scope": "scim",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": new_secret(),
    }
    return {name: value for name, value in (values | overrides).items() if value is not None}


def hs256(token_claims: dict[str, Any], key: str = SIGNING_KEY, **headers: Any) -> str:
    return jwt.encode(token_claims, key, algorithm="HS256", headers={"typ": "at+jwt"} | headers)


def signed_by(key: Any, algorithm: str, kid: str, **overrides: Any) -> str:
    headers = {"typ": "at+jwt", "kid": kid}
    return jwt.encode(claims(**overrides), key, algorithm=algorithm, headers=headers)


def asymmetric(ec_key: ec.EllipticCurvePrivateKey, rsa_key: rsa.RSAPrivateKey) -> dict[str, Any]:
    """The ES256 key signs; the RS256 key, being retired, only verifies."""
    return {
        "jwt_signing_key": None,
        "signing_keys": [
            {"kid": "es-2026", "algorithm": "ES256", "private_key_pem": pem(ec_key)},
            {"kid": "rs-2025", "algorithm": "RS256", "private_key_pem": pem(rsa_key)},
        ],
    }


async def provision_with(deployment: Deployment, token: str) -> tuple[int, Any, Any]:
    """Try to create a user with `token`: what a stolen or forged token would be used for."""
    user = {"schemas": [USER_SCHEMA], "userName": f"{new_secret()[:8]}@example.com"}
    async with deployment.gateway.post(
        "/scim/v2/Users", json=user, headers={"Authorization": f"Bearer {token}"}
    ) as response:
        return response.status, await response.json(content_type=None), response.headers


async def request_token(
    deployment: Deployment, secret: str | None = None, **form: str
) -> tuple[int, Any]:
    data = {
        "grant_type": "client_credentials",
        "client_id": deployment.credentials.client_id,
        "client_secret": secret or deployment.credentials.client_secret,
    } | form
    async with deployment.gateway.post("/oauth/token", data=data) as response:
        return response.status, await response.json()


async def assert_refused(deployment: Deployment, token: str, detail: str) -> None:
    before = portal_snapshot(deployment.portal)

    status, body, headers = await provision_with(deployment, token)

    assert (status, body) == (401, scim_error(401, detail))
    assert headers["WWW-Authenticate"] == INVALID_TOKEN
    assert portal_snapshot(deployment.portal) == before


REFUSED: dict[str, tuple[Callable[[], str], str]] = {
    "alg none": (
        lambda: forge({"alg": "none", "typ": "at+jwt"}, claims()),
        "the access token is signed with an algorithm its key forbids",
    ),
    "expired beyond the leeway": (
        lambda: hs256(claims(exp=int(time.time()) - 120)),
        "the access token has expired: request a new one",
    ),
    "not valid yet": (
        lambda: hs256(claims(nbf=int(time.time()) + 600)),
        "the access token is not valid yet: check that the gateway replicas' clocks agree",
    ),
    "another issuer": (
        lambda: hs256(claims(iss="https://attacker.example")),
        "the access token was issued by another issuer",
    ),
    "another audience": (
        lambda: hs256(claims(aud="https://other-gateway.example/scim/v2")),
        "the access token was issued for another SCIM endpoint",
    ),
    "unknown kid": (
        lambda: hs256(claims(), kid="retired-2020"),
        "the access token names a signing key this gateway does not hold (retired by a key "
        "rotation?): request a new token",
    ),
    "tampered signature": (
        lambda: _tampered(hs256(claims())),
        "the access token's signature does not verify",
    ),
    "another key": (
        lambda: hs256(claims(), key="an-attacker-chosen-key-of-32-bytes-or-more!"),
        "the access token's signature does not verify",
    ),
    "no jti": (
        lambda: hs256(claims(jti=None)),
        "the access token lacks the required claim jti",
    ),
    "no sub": (
        lambda: hs256(claims(sub=None)),
        "the access token lacks the required claim sub",
    ),
    "another scope": (
        lambda: hs256(claims(scope="admin")),
        "the access token does not grant the scope scim",
    ),
    "not an access token": (
        lambda: jwt.encode(claims(), SIGNING_KEY, algorithm="HS256", headers={"typ": "JWT"}),
        "the bearer token is not an access token (typ at+jwt)",
    ),
}


def _tampered(token: str) -> str:
    head, payload, signature = token.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    return f"{head}.{payload}.{flipped}"


@pytest.mark.parametrize("case", list(REFUSED), ids=list(REFUSED))
async def test_a_bad_access_token_gets_401_and_changes_nothing(
    deployment: Deployment, case: str
) -> None:
    make_token, detail = REFUSED[case]

    await assert_refused(deployment, make_token(), detail)


async def test_an_access_token_from_the_token_endpoint_provisions(
    deployment: Deployment,
) -> None:
    _, granted = await request_token(deployment)

    status, body, _ = await provision_with(deployment, granted["access_token"])

    assert status == 201
    assert body["userName"] in {user.user_name for user in deployment.portal.users.values()}


async def test_a_token_expired_within_the_leeway_is_still_accepted(
    deployment: Deployment,
) -> None:
    token = hs256(claims(exp=int(time.time()) - 5))

    status, _, _ = await provision_with(deployment, token)

    assert status == 201


async def test_the_leeway_is_configurable(deploy: Deploy) -> None:
    deployment = await deploy(auth={"leeway_seconds": 0})

    await assert_refused(
        deployment,
        hs256(claims(exp=int(time.time()) - 5)),
        "the access token has expired: request a new one",
    )


async def test_the_rs256_public_key_used_as_an_hmac_secret_is_refused(
    deploy: Deploy, ec_key: ec.EllipticCurvePrivateKey, rsa_key: rsa.RSAPrivateKey
) -> None:
    deployment = await deploy(auth=asymmetric(ec_key, rsa_key))
    header = {"alg": "HS256", "typ": "at+jwt", "kid": "rs-2025"}

    token = forge(header, claims(), hmac_key=public_pem(rsa_key))

    await assert_refused(
        deployment, token, "the access token is signed with an algorithm its key forbids"
    )


async def test_the_es256_public_key_used_as_an_hmac_secret_is_refused(
    deploy: Deploy, ec_key: ec.EllipticCurvePrivateKey, rsa_key: rsa.RSAPrivateKey
) -> None:
    deployment = await deploy(auth=asymmetric(ec_key, rsa_key))
    header = {"alg": "HS256", "typ": "at+jwt", "kid": "es-2026"}

    token = forge(header, claims(), hmac_key=public_pem(ec_key))

    await assert_refused(
        deployment, token, "the access token is signed with an algorithm its key forbids"
    )


async def test_the_newest_key_signs_and_the_jwks_verifies_it(
    deploy: Deploy, ec_key: ec.EllipticCurvePrivateKey, rsa_key: rsa.RSAPrivateKey
) -> None:
    deployment = await deploy(auth=asymmetric(ec_key, rsa_key))
    _, granted = await request_token(deployment)
    async with deployment.gateway.get("/oauth/jwks") as response:
        jwks = jwt.PyJWKSet.from_dict(await response.json())

    token = granted["access_token"]
    kid = jwt.get_unverified_header(token)["kid"]
    verified = jwt.decode(token, jwks[kid].key, algorithms=["ES256"], audience=AUDIENCE)

    assert kid == "es-2026"
    assert sorted(str(key.key_id) for key in jwks.keys) == ["es-2026", "rs-2025"]
    assert (verified["iss"], verified["sub"], verified["scope"]) == (ISSUER, "entra", "scim")


async def test_a_token_signed_by_the_retired_key_still_verifies(
    deploy: Deploy, ec_key: ec.EllipticCurvePrivateKey, rsa_key: rsa.RSAPrivateKey
) -> None:
    deployment = await deploy(auth=asymmetric(ec_key, rsa_key))

    status, _, _ = await provision_with(deployment, signed_by(rsa_key, "RS256", "rs-2025"))

    assert status == 201


async def test_a_key_rotation_keeps_tokens_valid_until_the_old_key_is_dropped(
    deploy: Deploy, ec_key: ec.EllipticCurvePrivateKey, rsa_key: rsa.RSAPrivateKey
) -> None:
    old_key = {"kid": "rs-2025", "algorithm": "RS256", "private_key_pem": pem(rsa_key)}
    new_key = {"kid": "es-2026", "algorithm": "ES256", "private_key_pem": pem(ec_key)}
    before = await deploy(auth={"jwt_signing_key": None, "signing_keys": [old_key]})
    shared = {"credentials": before.credentials, "portal_server": before.portal_server}
    during = await deploy(
        auth={"jwt_signing_key": None, "signing_keys": [new_key, old_key]}, **shared
    )
    after = await deploy(auth={"jwt_signing_key": None, "signing_keys": [new_key]}, **shared)
    _, granted = await request_token(before)

    accepted, _, _ = await provision_with(during, granted["access_token"])

    assert accepted == 201
    await assert_refused(
        after,
        granted["access_token"],
        "the access token names a signing key this gateway does not hold (retired by a key "
        "rotation?): request a new token",
    )


async def test_both_client_secrets_work_while_one_is_rotated(deploy: Deploy) -> None:
    old, new = new_secret(), new_secret()
    client = {"client_id": "entra", "secret_sha256": [digest(old), digest(new)]}
    deployment = await deploy(auth={"oauth_clients": [client]})

    for secret in (old, new):
        status, granted = await request_token(deployment, secret)
        created, _, _ = await provision_with(deployment, granted["access_token"])
        assert (status, created) == (200, 201)


async def test_a_secret_outside_the_rotation_is_refused(deployment: Deployment) -> None:
    status, body = await request_token(deployment, new_secret())

    assert (status, body) == (
        401,
        {"error": "invalid_client", "error_description": "the client id or secret is wrong"},
    )


async def test_unknown_requested_scopes_are_ignored_and_scim_is_granted(
    deployment: Deployment,
) -> None:
    status, granted = await request_token(
        deployment, scope="api://kyvos-scim/.default offline_access"
    )
    created, _, _ = await provision_with(deployment, granted["access_token"])

    assert (status, granted["scope"], created) == (200, "scim", 201)
