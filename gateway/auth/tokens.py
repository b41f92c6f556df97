"""Access tokens: JWTs the gateway signs at its token endpoint and verifies on every request.

Every replica holds the same keys, so any replica verifies a token another one issued, with no
shared session. Each key is pinned to one algorithm (RFC 8725 §3.1): a token's header picks the
key by `kid`, never the algorithm, which shuts out `alg: none` and a public key used as an HMAC
secret.
"""

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import jwt
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from gateway.scim.errors import Unauthorized
from gateway.settings import AuthSettings, SigningKey

SCOPE = "scim"
TOKEN_TYPE = "at+jwt"  # RFC 9068 §2.1: an access token, not any other JWT signed by the key
REQUIRED_CLAIMS = ["iss", "aud", "sub", "exp", "nbf", "iat", "jti", "scope"]
INVALID_TOKEN_CHALLENGE = 'Bearer realm="SCIM", error="invalid_token"'  # RFC 6750 §3.1

# What each verification failure means, most specific first; no detail echoes the token.
_FAILURES: list[tuple[type[jwt.InvalidTokenError], str]] = [
    (jwt.ExpiredSignatureError, "the access token has expired: request a new one"),
    (
        jwt.ImmatureSignatureError,
        "the access token is not valid yet: check that the gateway replicas' clocks agree",
    ),
    (jwt.InvalidIssuerError, "the access token was issued by another issuer"),
    (jwt.InvalidAudienceError, "the access token was issued for another SCIM endpoint"),
    (jwt.InvalidSignatureError, "the access token's signature does not verify"),
    (jwt.InvalidAlgorithmError, "the access token is signed with an algorithm its key forbids"),
    (jwt.DecodeError, "the bearer token is not a well-formed JWT"),
]


class AccessToken(NamedTuple):
    value: str
    expires_in: int
    scope: str


@dataclass(frozen=True)
class _Key:
    """One key and the single algorithm it may be used with."""

    kid: str | None
    algorithm: str
    signing: Any
    verifying: Any

    def public_jwk(self) -> dict[str, Any]:
        jwk = jwt.get_algorithm_by_name(self.algorithm).to_jwk(self.verifying, as_dict=True)
        return {**jwk, "kid": self.kid, "alg": self.algorithm, "use": "sig"}


class TokenIssuer:
    """Signs access tokens with the first configured key; verifies with any configured key."""

    def __init__(
        self,
        auth: AuthSettings,
        *,
        audience: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.audience = audience
        self.issuer = auth.issuer or _origin(audience)
        self._ttl = auth.token_ttl_seconds
        self._leeway = auth.leeway_seconds
        self._clock = clock
        self._jwt = jwt.PyJWT(options={"enforce_minimum_key_length": True})

        self._named = {key.kid: _load_key(key) for key in auth.signing_keys}
        self._unnamed: _Key | None = None
        if auth.jwt_signing_key is not None:
            secret = auth.jwt_signing_key.get_secret_value().encode()
            self._unnamed = _Key(None, "HS256", secret, secret)
        self._signer = next(iter(self._named.values()), self._unnamed)

    @property
    def can_issue(self) -> bool:
        """Whether a signing key is configured (the token endpoint needs one)."""
        return self._signer is not None

    def issue(self, client_id: str, scope: str = SCOPE) -> AccessToken:
        """A signed access token for `client_id`, valid for `auth.token_ttl_seconds`."""
        if self._signer is None:
            raise RuntimeError("no access-token signing key is configured")

        now = int(self._clock())
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": client_id,
            "client_id": client_id,
            "scope": scope,
            "iat": now,
            "nbf": now,
            "exp": now + self._ttl,
            "jti": secrets.token_urlsafe(16),
        }
        headers = {"typ": TOKEN_TYPE}
        if self._signer.kid is not None:
            headers["kid"] = self._signer.kid
        token = jwt.encode(
            claims, self._signer.signing, algorithm=self._signer.algorithm, headers=headers
        )

        return AccessToken(token, self._ttl, scope)

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of a token this gateway issued, or `Unauthorized` saying what is wrong."""
        key = self._key_for(token)

        try:
            claims: dict[str, Any] = self._jwt.decode(
                token,
                key.verifying,
                algorithms=[key.algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self._leeway,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.MissingRequiredClaimError as error:
            raise _refuse(f"the access token lacks the required claim {error.claim}") from None
        except jwt.InvalidTokenError as error:
            raise _refuse(_describe(error)) from None

        if SCOPE not in str(claims["scope"]).split():
            raise _refuse(f"the access token does not grant the scope {SCOPE}")
        return claims

    def jwks(self) -> dict[str, Any]:
        """The public keys as a JWK Set (RFC 7517 §5); HS256 keys are secret and not listed."""
        keys = [key.public_jwk() for key in self._named.values() if key.algorithm != "HS256"]
        return {"keys": keys}

    def _key_for(self, token: str) -> _Key:
        """The key the token's header names, checked against the algorithm that key allows."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise _refuse("the bearer token is not a well-formed JWT") from None

        kid = header.get("kid")
        if kid is None and self._unnamed is None:
            raise _refuse("the access token names no signing key (kid)")
        key = self._unnamed if kid is None else self._named.get(str(kid))
        if key is None:
            raise _refuse(
                "the access token names a signing key this gateway does not hold (retired by a "
                "key rotation?): request a new token"
            )

        if header.get("alg") != key.algorithm:
            raise _refuse("the access token is signed with an algorithm its key forbids")
        typ = str(header.get("typ", "")).lower().removeprefix("application/")
        if typ != TOKEN_TYPE:
            raise _refuse(f"the bearer token is not an access token (typ {TOKEN_TYPE})")
        return key


def _load_key(key: SigningKey) -> _Key:
    """Settings have checked that the key material fits the algorithm."""
    if key.secret is not None:
        secret = key.secret.get_secret_value().encode()
        return _Key(key.kid, key.algorithm, secret, secret)

    assert key.private_key_pem is not None
    private_key = load_pem_private_key(key.private_key_pem.get_secret_value().encode(), None)
    return _Key(key.kid, key.algorithm, private_key, private_key.public_key())


def _origin(url: str) -> str:
    """`https://host:port` of a URL: the default issuer, named after where the gateway answers."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def _describe(error: jwt.InvalidTokenError) -> str:
    for kind, detail in _FAILURES:
        if isinstance(error, kind):
            return detail

    return "the access token is not valid: request a new one"


def _refuse(detail: str) -> Unauthorized:
    return Unauthorized(detail, challenge=INVALID_TOKEN_CHALLENGE)
