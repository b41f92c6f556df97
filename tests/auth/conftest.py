"""Keys, credentials and a minimal app: the token endpoint plus one protected SCIM route."""

import base64
import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from gateway.auth.authenticator import Authenticator
from gateway.auth.endpoint import add_routes
from gateway.auth.secrets import digest
from gateway.auth.throttle import FailureThrottle
from gateway.auth.tokens import TokenIssuer
from gateway.scim.errors import ScimError
from gateway.settings import AuthSettings

AUDIENCE = "https://scim.example.com/scim/v2"
ORIGIN = "https://scim.example.com"

BASIC_USER = "okta"
BASIC_PASSWORD = "bYqz4k7m0c3Wf1pZ8vQeR2uT6sJ9hN5xL_aG-dC0oI4"
STATIC_TOKEN = "s7AtIc-T0ken_w1th_32-bytes-0f-randomness-ok"
HS256_KEY = "an-hs256-signing-key-of-at-least-32-bytes!"
CLIENT_ID = "entra"
CLIENT_SECRET = "cl1ent-s3cret_of-32-random-bytes-from-new-secret"
NEXT_CLIENT_SECRET = "the-n3xt-cl1ent-s3cret_during-a-rotation-window"

Client = Callable[..., Awaitable[TestClient[Any, Any]]]


@dataclass
class FakeClock:
    """Time that moves only when a test says so."""

    now: float = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def pem(key: PrivateKeyTypes) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def public_pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def auth_settings(**overrides: Any) -> AuthSettings:
    """Every method configured: Basic, one static token, one OAuth client, the HS256 key."""
    values: dict[str, Any] = {
        "basic": [{"username": BASIC_USER, "password_sha256": digest(BASIC_PASSWORD)}],
        "bearer": [{"name": "okta-header", "token_sha256": digest(STATIC_TOKEN)}],
        "oauth_clients": [{"client_id": CLIENT_ID, "secret_sha256": [digest(CLIENT_SECRET)]}],
        "jwt_signing_key": HS256_KEY,
    }
    return AuthSettings.model_validate(values | overrides)


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def forge(header: dict[str, Any], claims: dict[str, Any], hmac_key: bytes | None = None) -> str:
    """A token built by hand, as an attacker would: unsigned, or HMAC-signed with any bytes."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    signature = b""
    if hmac_key is not None:
        signature = hmac.new(hmac_key, signing_input.encode(), hashlib.sha256).digest()

    return f"{signing_input}.{b64url(signature)}"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def build_app(auth: AuthSettings, *, throttle: FailureThrottle | None = None) -> web.Application:
    """The token endpoint and a SCIM route guarded by the Authenticator, errors as SCIM bodies."""
    issuer = TokenIssuer(auth, audience=AUDIENCE)
    authenticator = Authenticator(auth, issuer, throttle=throttle)

    async def list_users(request: web.Request) -> web.Response:
        try:
            principal = authenticator.authenticate(
                request.headers.get("Authorization"), source=request.remote
            )
        except ScimError as error:
            return web.json_response(
                error.body(),
                status=error.status,
                headers=error.headers,
                content_type="application/scim+json",
            )
        return web.json_response({"client_id": principal.client_id, "method": principal.method})

    app = web.Application()
    if issuer.can_issue:
        add_routes(app, issuer, auth.oauth_clients, throttle=throttle)
    app.router.add_get("/scim/v2/Users", list_users)
    return app
