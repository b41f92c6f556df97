"""The OAuth 2.0 token endpoint (client credentials grant, RFC 6749 §4.4) and the JWKS.

Entra (and the Kyvos app for Okta) exchange a client id and secret here for a short-lived access
token. Errors are OAuth errors (RFC 6749 §5.2), not SCIM errors: the caller is an OAuth client.
Neither route sits behind the `Authenticator`; both must be served over TLS (RFC 6749 §2.3.1).
"""

import base64
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote_plus

from aiohttp import web
from multidict import MultiDictProxy

from gateway.auth.secrets import digest, matches_any, new_secret
from gateway.auth.throttle import FailureThrottle
from gateway.auth.tokens import SCOPE, TokenIssuer
from gateway.errors import GatewayError
from gateway.scim.errors import TooManyRequests
from gateway.settings import ConfigError, OAuthClient

TOKEN_PATH = "/oauth/token"
JWKS_PATH = "/oauth/jwks"
FORM = "application/x-www-form-urlencoded"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}  # RFC 6749 §5.1
CLIENT_CHALLENGE = 'Basic realm="oauth", charset="UTF-8"'
PARAMETERS = ("grant_type", "scope", "client_id", "client_secret")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Compared against when the client id is unknown, so an unknown id costs what a wrong secret does.
_NO_CLIENT = [digest(new_secret())]


class OAuthError(GatewayError):
    """A token request refused with an RFC 6749 §5.2 error. `description` must keep to the
    characters §5.2 allows: printable ASCII without double quote or backslash."""

    def __init__(
        self,
        error: str,
        description: str,
        *,
        status: int = 400,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status
        self.headers = dict(headers or {})

    def response(self) -> web.Response:
        body = {"error": self.error, "error_description": self.description}
        return web.json_response(body, status=self.status, headers=NO_STORE | self.headers)


def add_routes(
    app: web.Application,
    issuer: TokenIssuer,
    clients: list[OAuthClient],
    *,
    throttle: FailureThrottle | None = None,
) -> None:
    """Mount `POST /oauth/token` and `GET /oauth/jwks` on `app`."""
    app.router.add_post(TOKEN_PATH, token_endpoint(issuer, clients, throttle=throttle))
    app.router.add_get(JWKS_PATH, jwks_endpoint(issuer))


def token_endpoint(
    issuer: TokenIssuer,
    clients: list[OAuthClient],
    *,
    throttle: FailureThrottle | None = None,
) -> Handler:
    """The `POST /oauth/token` handler for `clients`; failed client logins feed `throttle`."""
    if not issuer.can_issue:
        raise ConfigError(
            ["auth: the token endpoint needs auth.jwt_signing_key or auth.signing_keys"]
        )
    registry = {client.client_id: client for client in clients}

    async def issue_token(request: web.Request) -> web.StreamResponse:
        source = request.remote or "unknown"
        try:
            if throttle is not None:
                throttle.check(source)
            form = await _read_form(request)
            _check_grant_type(form)
            client_id = _authenticate_client(request, form, registry, throttle, source)
            scope = _granted_scope(form)
        except TooManyRequests as refusal:
            return OAuthError(
                "temporarily_unavailable", refusal.detail, status=429, headers=refusal.headers
            ).response()
        except OAuthError as refusal:
            return refusal.response()

        token = issuer.issue(client_id, scope)
        body = {
            "access_token": token.value,
            "token_type": "Bearer",
            "expires_in": token.expires_in,
            "scope": token.scope,
        }
        return web.json_response(body, headers=NO_STORE)

    return issue_token


def jwks_endpoint(issuer: TokenIssuer) -> Handler:
    """The `GET /oauth/jwks` handler: the public keys that verify the gateway's tokens."""

    async def publish_keys(request: web.Request) -> web.StreamResponse:
        return web.json_response(issuer.jwks(), headers={"Cache-Control": "max-age=300"})

    return publish_keys


async def _read_form(request: web.Request) -> MultiDictProxy[Any]:
    if request.content_type != FORM:
        raise OAuthError("invalid_request", f"send the token request as {FORM} (RFC 6749 4.4.2)")

    form = await request.post()
    for name in PARAMETERS:
        if len(form.getall(name, [])) > 1:
            raise OAuthError("invalid_request", f"the parameter {name} is sent more than once")
    return form


def _check_grant_type(form: MultiDictProxy[Any]) -> None:
    grant_type = form.get("grant_type")
    if not grant_type:
        raise OAuthError("invalid_request", "grant_type is missing: send client_credentials")
    if grant_type != "client_credentials":
        raise OAuthError("unsupported_grant_type", "this endpoint grants client_credentials only")


def _authenticate_client(
    request: web.Request,
    form: MultiDictProxy[Any],
    registry: dict[str, OAuthClient],
    throttle: FailureThrottle | None,
    source: str,
) -> str:
    """The id of the client whose secret is right; either configured digest of a client being
    rotated is accepted."""
    client_id, secret = _client_credentials(request, form)

    client = registry.get(client_id)
    right = matches_any(secret, client.secret_sha256 if client else _NO_CLIENT)
    if client is None or not right:
        if throttle is not None:
            throttle.failed(source)
        raise _invalid_client("the client id or secret is wrong")

    if throttle is not None:
        throttle.succeeded(source)
    return client_id


def _client_credentials(request: web.Request, form: MultiDictProxy[Any]) -> tuple[str, str]:
    """client_secret_basic (RFC 6749 §2.3.1, form-encoded id and secret inside HTTP Basic) or
    client_secret_post (the same as form fields); never both (§2.3)."""
    posted_id = form.get("client_id")
    posted_secret = form.get("client_secret")
    authorizations = request.headers.getall("Authorization", [])
    if len(authorizations) > 1:
        raise OAuthError("invalid_request", "send one Authorization header, not several")
    authorization = authorizations[0] if authorizations else None

    if authorization is None:
        if not posted_id or not posted_secret:
            raise _invalid_client(
                "send client_id and client_secret, with HTTP Basic or as form fields"
            )
        return str(posted_id), str(posted_secret)

    scheme, _, encoded = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        raise _invalid_client("authenticate the client with HTTP Basic or form fields")
    if posted_secret is not None:
        raise OAuthError(
            "invalid_request", "use one client authentication method, not both (RFC 6749 2.3)"
        )
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except ValueError:  # not base64 (non-ASCII included), or not UTF-8 once decoded
        raise _invalid_client("the Basic credentials are not base64 of id:secret") from None
    quoted_id, colon, quoted_secret = decoded.partition(":")
    if not colon:
        raise _invalid_client("the Basic credentials are not base64 of id:secret")

    client_id, secret = unquote_plus(quoted_id), unquote_plus(quoted_secret)
    if posted_id is not None and posted_id != client_id:
        raise OAuthError(
            "invalid_request", "client_id in the form differs from the one in HTTP Basic"
        )
    return client_id, secret


def _granted_scope(form: MultiDictProxy[Any]) -> str:
    """The gateway has one scope and always grants it, whatever was asked.

    RFC 6749 §3.3 lets the server grant a scope other than the one requested, saying so in the
    answer's `scope`. Okta and Entra may ask for scopes of their own (`.default`, an API URI),
    which we cannot list in advance; refusing them would stop provisioning for no safety gain.
    """
    return SCOPE


def _invalid_client(description: str) -> OAuthError:
    # RFC 6749 §5.2: 401 with a challenge for the scheme the client may use.
    return OAuthError(
        "invalid_client",
        description,
        status=401,
        headers={"WWW-Authenticate": CLIENT_CHALLENGE},
    )
