"""SCIM protocol errors, split by who is at fault; each renders its own RFC 7644 §3.12 body.

The `detail` of every error is written for the person reading the IdP's provisioning log: it says
what was wrong and what to do about it.
"""

from typing import Any, ClassVar

from gateway.errors import GatewayError

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


class ScimError(GatewayError):
    """An error answered to the IdP with a SCIM error body."""

    status: ClassVar[int] = 400
    scim_type: ClassVar[str | None] = None

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        """The wire body: `status` is a string, as RFC 7644 §3.12 and Okta require."""
        body: dict[str, Any] = {"schemas": [ERROR_SCHEMA], "status": str(self.status)}
        if self.scim_type:
            body["scimType"] = self.scim_type
        body["detail"] = self.detail
        return body


# The client sent something wrong (4xx).


class InvalidFilter(ScimError):
    scim_type = "invalidFilter"


class TooMany(ScimError):
    scim_type = "tooMany"


class InvalidSyntax(ScimError):
    scim_type = "invalidSyntax"


class InvalidPath(ScimError):
    scim_type = "invalidPath"


class NoTarget(ScimError):
    scim_type = "noTarget"


class InvalidValue(ScimError):
    scim_type = "invalidValue"


class InvalidVersion(ScimError):
    scim_type = "invalidVers"


class Mutability(ScimError):
    scim_type = "mutability"


class Sensitive(ScimError):
    status = 403
    scim_type = "sensitive"


class BadRequest(ScimError):
    """A 400 that no RFC 7644 `scimType` describes."""


class Unauthorized(ScimError):
    status = 401

    def __init__(self, detail: str, *, challenge: str = 'Basic realm="SCIM", Bearer') -> None:
        super().__init__(detail, headers={"WWW-Authenticate": challenge})


class Forbidden(ScimError):
    status = 403


class NotFound(ScimError):
    status = 404


class MethodNotAllowed(ScimError):
    status = 405


class Uniqueness(ScimError):
    status = 409
    scim_type = "uniqueness"


class Conflict(ScimError):
    status = 409


class PreconditionFailed(ScimError):
    status = 412


class PayloadTooLarge(ScimError):
    status = 413


class UnsupportedMediaType(ScimError):
    status = 415


class TooManyRequests(ScimError):
    status = 429

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)})


# The gateway or the portal behind it cannot serve the request now (5xx): the IdP should retry.


class InternalError(ScimError):
    status = 500


class NotImplementedFeature(ScimError):
    status = 501


class BadGateway(ScimError):
    status = 502


class ServiceUnavailable(ScimError):
    status = 503

    def __init__(self, detail: str, *, retry_after: int | None = None) -> None:
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
        super().__init__(detail, headers=headers)
