"""Who is calling: HTTP Basic, static bearer tokens, or access tokens from our token endpoint.

Okta sends Basic, a static token with `Bearer`, or ("HTTP Header" mode) the bare token with no
scheme; Entra sends its "Secret Token" or an OAuth 2.0 access token with `Bearer`. Every secret is
compared by SHA-256 digest in constant time: machine credentials are long and random, so a slow
password hash would only cost time on every request.
"""

import base64
import hmac
from dataclasses import dataclass
from typing import Literal

from gateway.auth.secrets import digest, find_digest
from gateway.auth.throttle import FailureThrottle
from gateway.auth.tokens import TokenIssuer
from gateway.scim.errors import Unauthorized
from gateway.settings import AuthSettings, BasicCredential

REALM = "SCIM"


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: a Basic username, a static token's name or an OAuth client id."""

    client_id: str
    method: Literal["basic", "bearer", "oauth"]


class Authenticator:
    """Checks the `Authorization` header of a SCIM request against the configured credentials."""

    def __init__(
        self,
        auth: AuthSettings,
        issuer: TokenIssuer,
        *,
        throttle: FailureThrottle | None = None,
    ) -> None:
        self._basic = list(auth.basic)
        self._oauth_clients = frozenset(client.client_id for client in auth.oauth_clients)
        self._bearer_names = [token.name for token in auth.bearer]
        self._bearer_digests = [token.token_sha256 for token in auth.bearer]
        self._issuer = issuer
        self._throttle = throttle
        self._accepts_basic = bool(auth.basic)
        self._accepts_bearer = bool(auth.bearer) or issuer.can_issue

    def authenticate(
        self, authorization: str | list[str] | None, *, source: str | None = None
    ) -> Principal:
        """The caller named by the header, or `Unauthorized` (401) saying what to send.

        `authorization` is the header's value, or every value the request carried: a request
        with several is refused, since a proxy in front may have checked another one than ours.
        With a `source` (the client address) and a throttle, a source that keeps failing gets
        `TooManyRequests` (429) before its credentials are even looked at.
        """
        if self._throttle is None or source is None:
            return self._identify(authorization)

        self._throttle.check(source)
        try:
            principal = self._identify(authorization)
        except Unauthorized:
            self._throttle.failed(source)
            raise

        self._throttle.succeeded(source)
        return principal

    def challenge(self, *, invalid_token: bool = False) -> str:
        """The `WWW-Authenticate` value: one challenge per configured method (RFC 7235 §4.1)."""
        challenges = []
        if self._accepts_basic:
            challenges.append(f'Basic realm="{REALM}", charset="UTF-8"')
        if self._accepts_bearer or not challenges:
            bearer = f'Bearer realm="{REALM}"'
            challenges.append(bearer + (', error="invalid_token"' if invalid_token else ""))

        return ", ".join(challenges)

    def _identify(self, authorization: str | list[str] | None) -> Principal:
        if isinstance(authorization, list):
            if len(authorization) > 1:
                # RFC 9110 §5.3: Authorization is not a list; two values are two claims.
                raise self._refuse("send one Authorization header, not several")
            authorization = authorization[0] if authorization else None

        value = (authorization or "").strip()
        if not value:
            raise self._refuse(f"send credentials in the Authorization header: {self._methods()}")

        scheme, _, credentials = value.partition(" ")
        if scheme.lower() == "basic":
            return self._basic_login(credentials.strip())
        if scheme.lower() == "bearer":
            return self._bearer_token(credentials.strip())

        return self._header_token(value)

    def _basic_login(self, credentials: str) -> Principal:
        if not self._accepts_basic:
            raise self._refuse(f"HTTP Basic is not enabled on this gateway: {self._methods()}")
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except ValueError:  # not base64 (non-ASCII included), or not UTF-8 once decoded
            raise self._refuse("the Basic credentials are not base64 of user:password") from None
        username, colon, password = decoded.partition(":")
        if not colon:
            raise self._refuse("the Basic credentials are not base64 of user:password")

        credential = _find_login(self._basic, username, password)
        if credential is None:
            raise self._refuse("the Basic username or password is wrong")
        return Principal(credential.username, "basic")

    def _bearer_token(self, token: str) -> Principal:
        if not token:
            raise self._refuse("the Bearer scheme came without a token", invalid_token=True)

        position = find_digest(token, self._bearer_digests)
        if position is not None:
            return Principal(self._bearer_names[position], "bearer")

        if token.count(".") == 2 and self._issuer.can_issue:
            try:
                claims = self._issuer.verify(token)
            except Unauthorized as refusal:
                raise self._refuse(refusal.detail, invalid_token=True) from None
            return self._oauth_client(str(claims["sub"]))

        raise self._refuse("the bearer token is not one this gateway knows", invalid_token=True)

    def _oauth_client(self, client_id: str) -> Principal:
        """A token outlives neither its signing key nor its client: removing a client from
        `auth.oauth_clients` refuses its unexpired tokens as soon as the gateway restarts."""
        if client_id not in self._oauth_clients:
            raise self._refuse(
                "the access token was issued to a client this gateway no longer knows",
                invalid_token=True,
            )

        return Principal(client_id, "oauth")

    def _header_token(self, value: str) -> Principal:
        """Okta "HTTP Header" mode sends the configured token as the whole header."""
        position = find_digest(value, self._bearer_digests)
        if position is not None:
            return Principal(self._bearer_names[position], "bearer")

        raise self._refuse(
            "the Authorization header holds neither a known scheme (Basic, Bearer) nor a "
            f"configured token: {self._methods()}"
        )

    def _methods(self) -> str:
        methods = []
        if self._accepts_basic:
            methods.append("HTTP Basic")
        if self._bearer_digests:
            methods.append("a static bearer token")
        if self._issuer.can_issue:
            methods.append("an access token from the gateway's token endpoint")

        return "use " + " or ".join(methods) if methods else "no credentials are configured"

    def _refuse(self, detail: str, *, invalid_token: bool = False) -> Unauthorized:
        return Unauthorized(detail, challenge=self.challenge(invalid_token=invalid_token))


def _find_login(
    credentials: list[BasicCredential], username: str, password: str
) -> BasicCredential | None:
    """The credential with this username and password; every entry is compared in full, so the
    time taken does not tell whether the username exists."""
    password_digest = digest(password)
    found: BasicCredential | None = None
    for credential in credentials:
        same_user = hmac.compare_digest(username.encode(), credential.username.encode())
        same_password = hmac.compare_digest(password_digest, credential.password_sha256)
        if same_user and same_password and found is None:
            found = credential

    return found
