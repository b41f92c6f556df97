import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from gateway.auth.tokens import TokenIssuer
from gateway.scim.errors import Unauthorized
from gateway.settings import AuthSettings

from .conftest import AUDIENCE, HS256_KEY, ORIGIN, auth_settings, forge, pem, public_pem

ROTATED_HS256 = "the-previous-hs256-key-still-verifying-old-tokens"


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    values = {
        "iss": ORIGIN,
        "aud": AUDIENCE,
        "sub": "entra",
        "scope": "scim",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": "j1",
    }
    return values | overrides


def asymmetric_settings(rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey) -> Any:
    return auth_settings(
        jwt_signing_key=None,
        signing_keys=[
            {"kid": "es-2026", "algorithm": "ES256", "private_key_pem": pem(ec_key)},
            {"kid": "rs-2025", "algorithm": "RS256", "private_key_pem": pem(rsa_key)},
        ],
    )


def refusal(issuer: TokenIssuer, token: str) -> str:
    with pytest.raises(Unauthorized) as caught:
        issuer.verify(token)

    assert token not in caught.value.detail
    assert caught.value.headers == {
        "WWW-Authenticate": 'Bearer realm="SCIM", error="invalid_token"'
    }
    return caught.value.detail


def hs256(token_claims: dict[str, Any], **headers: Any) -> str:
    return jwt.encode(
        token_claims, HS256_KEY, algorithm="HS256", headers={"typ": "at+jwt"} | headers
    )


def test_an_issued_token_verifies_with_every_claim() -> None:
    now = int(time.time())
    issuer = TokenIssuer(auth_settings(), audience=AUDIENCE, clock=lambda: now)

    token = issuer.issue("entra")
    verified = issuer.verify(token.value)

    assert token.expires_in == 3600
    assert token.scope == "scim"
    assert verified == {
        "iss": ORIGIN,
        "aud": AUDIENCE,
        "sub": "entra",
        "client_id": "entra",
        "scope": "scim",
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
        "jti": verified["jti"],
    }
    assert jwt.get_unverified_header(token.value) == {"alg": "HS256", "typ": "at+jwt"}


def test_each_token_has_its_own_jti() -> None:
    issuer = TokenIssuer(auth_settings(), audience=AUDIENCE)

    first = issuer.verify(issuer.issue("entra").value)
    second = issuer.verify(issuer.issue("entra").value)

    assert first["jti"] != second["jti"]


def test_the_configured_issuer_replaces_the_origin() -> None:
    auth = auth_settings(issuer="https://idp-facing.example.com")
    issuer = TokenIssuer(auth, audience=AUDIENCE)

    assert issuer.verify(issuer.issue("entra").value)["iss"] == "https://idp-facing.example.com"


def test_the_default_issuer_keeps_a_non_default_port() -> None:
    issuer = TokenIssuer(auth_settings(), audience="http://127.0.0.1:8080/scim/v2")

    assert issuer.issuer == "http://127.0.0.1:8080"


def test_a_token_signed_with_alg_none_is_refused() -> None:
    issuer = TokenIssuer(auth_settings(), audience=AUDIENCE)
    token = forge({"alg": "none", "typ": "at+jwt"}, claims())

    assert refusal(issuer, token) == "the access token is signed with an algorithm its key forbids"


def test_a_token_hmac_signed_with_the_rs256_public_key_is_refused(
    rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    issuer = TokenIssuer(asymmetric_settings(rsa_key, ec_key), audience=AUDIENCE)
    header = {"alg": "HS256", "typ": "at+jwt", "kid": "rs-2025"}
    token = forge(header, claims(), hmac_key=public_pem(rsa_key))

    assert refusal(issuer, token) == "the access token is signed with an algorithm its key forbids"


def test_a_token_hmac_signed_with_the_es256_public_key_is_refused(
    rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    issuer = TokenIssuer(asymmetric_settings(rsa_key, ec_key), audience=AUDIENCE)
    header = {"alg": "HS256", "typ": "at+jwt", "kid": "es-2026"}
    token = forge(header, claims(), hmac_key=public_pem(ec_key))

    assert refusal(issuer, token) == "the access token is signed with an algorithm its key forbids"


def test_a_kidless_rs256_token_is_refused_by_the_hs256_key(rsa_key: rsa.RSAPrivateKey) -> None:
    issuer = TokenIssuer(auth_settings(), audience=AUDIENCE)
    token = jwt.encode(claims(), rsa_key, algorithm="RS256", headers={"typ": "at+jwt"})

    assert refusal(issuer, token) == "the access token is signed with an algorithm its key forbids"


def test_an_expired_token_is_refused() -> None:
    two_hours_ago = time.time() - 7200
    issuer = TokenIssuer(auth_settings(), audience=AUDIENCE, clock=lambda: two_hours_ago)
    token = issuer.issue("entra")

    assert refusal(issuer, token.value) == "the access token has expired: request a new one"


def test_a_token_expired_within_the_leeway_is_still_accepted() -> None:
    issuer = TokenIssuer(auth_settings(leeway_seconds=30), audience=AUDIENCE)
    token = hs256(claims(exp=int(time.time()) - 10))

    assert issuer.verify(token)["sub"] == "entra"


def test_a_token_not_valid_yet_is_refused() -> None:
    issuer = TokenIssuer(auth_settings(), audience=AUDIENCE)
    token = hs256(claims(nbf=int(time.time()) + 600))

    assert refusal(issuer, token) == (
        "the access token is not valid yet: check that the gateway replicas' clocks agree"
    )


def test_a_token_from_another_issuer_is_refused() -> None:
    issuer = TokenIssuer(auth_settings(), audience=AUDIENCE)
    token = hs256(claims(iss="https://elsewhere.example.com"))

    assert refusal(issuer, token) == "the access token was issued by another issuer"


def test_a_token_for_another_audience_is_refused() -> None:
    issuer = TokenIssuer(auth_settings(), audience=AUDIENCE)
    token = hs256(claims(aud="https://other-gateway.example.com/scim/v2"))

    assert refusal(issuer, token) == "the access token was issued for another SCIM endpoint"


def test_a_token_naming_an_unknown_kid_is_refused(
    rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    issuer = TokenIssuer(asymmetric_settings(rsa_key, ec_key), audience=AUDIENCE)
    token = jwt.encode(
        claims(), ec_key, algorithm="ES256", headers={"typ": "at+jwt", "kid": "es-1999"}
    )

    assert refusal(issuer, token) == (
        "the access token names a signing key this gateway does not hold (retired by a key "
        "rotation?): request a new token"
    )


def test_a_token_without_kid_is_refused_when_every_key_is_named(
    rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    issuer = TokenIssuer(asymmetric_settings(rsa_key, ec_key), audience=AUDIENCE)
    token = jwt.encode(claims(), ec_key, algorithm="ES256", headers={"typ": "at+jwt"})

    assert refusal(issuer, token) == "the access token names no signing key (kid)"


def test_a_token_with_a_tampered_payload_is_refused() -> None:
    issuer = TokenIssuer(auth_settings(), audience=AUDIENCE)
    header, _, signature = issuer.issue("entra").value.split(".")
    forged_payload = forge({}, claims(sub="admin")).split(".")[1]

    token = f"{header}.{forged_payload}.{signature}"

    assert refusal(issuer, token) == "the access token's signature does not verify"


def test_a_token_with_a_tampered_signature_is_refused(ec_key: ec.EllipticCurvePrivateKey) -> None:
    auth = auth_settings(
        signing_keys=[{"kid": "es", "algorithm": "ES256", "private_key_pem": pem(ec_key)}]
    )
    issuer = TokenIssuer(auth, audience=AUDIENCE)
    token = issuer.issue("entra").value
    flipped = "A" if token[-5] != "A" else "B"

    tampered = token[:-5] + flipped + token[-4:]

    assert refusal(issuer, tampered) == "the access token's signature does not verify"


def test_a_token_signed_with_another_hs256_key_is_refused() -> None:
    issuer = TokenIssuer(auth_settings(), audience=AUDIENCE)
    token = jwt.encode(
        claims(),
        "some-other-key-that-is-32-bytes-long!!",
        algorithm="HS256",
        headers={"typ": "at+jwt"},
    )

    assert refusal(issuer, token) == "the access token's signature does not verify"


@pytest.mark.parametrize("claim", ["iss", "aud", "sub", "exp", "nbf", "iat", "jti", "scope"])
def test_a_token_missing_a_required_claim_is_refused(claim: str) -> None:
    issuer = TokenIssuer(auth_settings(), audience=AUDIENCE)
    token_claims = claims()
    del token_claims[claim]

    assert refusal(issuer, hs256(token_claims)) == (
        f"the access token lacks the required claim {claim}"
    )


def test_a_jwt_that_is_not_an_access_token_is_refused() -> None:
    issuer = TokenIssuer(auth_settings(), audience=AUDIENCE)
    token = jwt.encode(claims(), HS256_KEY, algorithm="HS256", headers={"typ": "JWT"})

    assert refusal(issuer, token) == "the bearer token is not an access token (typ at+jwt)"


def test_a_token_without_the_scim_scope_is_refused() -> None:
    issuer = TokenIssuer(auth_settings(), audience=AUDIENCE)

    assert refusal(issuer, hs256(claims(scope="openid"))) == (
        "the access token does not grant the scope scim"
    )


def test_garbage_with_two_dots_is_refused_as_malformed() -> None:
    issuer = TokenIssuer(auth_settings(), audience=AUDIENCE)

    assert refusal(issuer, "not.a.jwt") == "the bearer token is not a well-formed JWT"


def test_the_first_listed_key_signs_and_a_retired_one_still_verifies(
    rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    before = auth_settings(
        jwt_signing_key=None,
        signing_keys=[{"kid": "rs-2025", "algorithm": "RS256", "private_key_pem": pem(rsa_key)}],
    )
    old_token = TokenIssuer(before, audience=AUDIENCE).issue("entra").value

    rotated = TokenIssuer(asymmetric_settings(rsa_key, ec_key), audience=AUDIENCE)
    new_token = rotated.issue("entra").value

    assert jwt.get_unverified_header(new_token)["kid"] == "es-2026"
    assert jwt.get_unverified_header(new_token)["alg"] == "ES256"
    assert rotated.verify(old_token)["sub"] == "entra"
    assert rotated.verify(new_token)["sub"] == "entra"


def test_hs256_keys_rotate_by_kid_while_the_shortcut_key_still_verifies() -> None:
    shortcut_token = TokenIssuer(auth_settings(), audience=AUDIENCE).issue("entra").value
    auth = auth_settings(
        signing_keys=[{"kid": "hs-2", "algorithm": "HS256", "secret": ROTATED_HS256}]
    )
    issuer = TokenIssuer(auth, audience=AUDIENCE)

    new_token = issuer.issue("entra").value

    assert jwt.get_unverified_header(new_token) == {"alg": "HS256", "typ": "at+jwt", "kid": "hs-2"}
    assert issuer.verify(shortcut_token)["sub"] == "entra"
    assert issuer.verify(new_token)["sub"] == "entra"


def test_the_jwks_lists_the_public_asymmetric_keys(
    rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    auth = asymmetric_settings(rsa_key, ec_key).model_copy(update={"jwt_signing_key": None})
    issuer = TokenIssuer(auth, audience=AUDIENCE)

    keys = issuer.jwks()["keys"]

    ec_numbers = ec_key.public_key().public_numbers()
    rsa_numbers = rsa_key.public_key().public_numbers()
    assert [(key["kid"], key["alg"], key["kty"], key["use"]) for key in keys] == [
        ("es-2026", "ES256", "EC", "sig"),
        ("rs-2025", "RS256", "RSA", "sig"),
    ]
    assert keys[0]["crv"] == "P-256"
    assert jwt.utils.base64url_decode(keys[0]["x"]) == ec_numbers.x.to_bytes(32, "big")
    assert int.from_bytes(jwt.utils.base64url_decode(keys[1]["n"]), "big") == rsa_numbers.n
    assert not any("d" in key for key in keys)


def test_a_token_verifies_with_the_key_published_in_the_jwks(
    rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    issuer = TokenIssuer(asymmetric_settings(rsa_key, ec_key), audience=AUDIENCE)
    token = issuer.issue("entra").value

    published = jwt.PyJWKSet.from_dict(issuer.jwks())["es-2026"]
    verified = jwt.decode(token, published.key, algorithms=["ES256"], audience=AUDIENCE)

    assert verified["sub"] == "entra"


def test_the_jwks_is_empty_with_hs256_keys_only() -> None:
    auth = auth_settings(
        signing_keys=[{"kid": "hs-2", "algorithm": "HS256", "secret": ROTATED_HS256}]
    )

    assert TokenIssuer(auth, audience=AUDIENCE).jwks() == {"keys": []}


def test_an_issuer_without_keys_cannot_issue() -> None:
    issuer = TokenIssuer(AuthSettings(), audience=AUDIENCE)

    assert not issuer.can_issue
    with pytest.raises(RuntimeError):
        issuer.issue("entra")
