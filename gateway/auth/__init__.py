"""Authentication: HTTP Basic, static bearer tokens and the OAuth 2.0 token endpoint."""

from gateway.auth.authenticator import Authenticator, Principal
from gateway.auth.throttle import FailureThrottle
from gateway.auth.tokens import AccessToken, TokenIssuer

__all__ = ["AccessToken", "Authenticator", "FailureThrottle", "Principal", "TokenIssuer"]
