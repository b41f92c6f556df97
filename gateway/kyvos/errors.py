"""Portal errors: every failure of the Kyvos Web Portal is translated into one of these, once, at
the client boundary, with the cause kept. Nothing above `gateway.kyvos` sees an httpx error."""

from gateway.errors import GatewayError


class PortalError(GatewayError):
    """The portal refused or failed a call."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


class PortalRejected(PortalError):
    """400: the portal refused the values it was sent."""


class PortalAuthFailed(PortalError):
    """The service account could not log in, or its session was refused after a re-login."""


class PortalForbidden(PortalError):
    """403: the portal forbids this change (for example a role change outside RAS)."""


class PortalNotFound(PortalError):
    """404: no such user, group or member."""


class PortalConflict(PortalError):
    """409: a user name or group name is already taken."""


class PortalUnavailable(PortalError):
    """Timeouts, dropped connections, 429 and 5xx that outlasted the retries: try again later."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status=status, code=code)
        self.retry_after = retry_after


class TargetIsManager(PortalError):
    """The configured target is a Kyvos Manager, which the gateway must never talk to."""


class PortalProtocolError(PortalError):
    """The portal answered outside the assumed contract (`gateway.kyvos.contract`): a body that is
    not JSON or lacks a field, an unexpected status. Retrying will not help; the gateway answers
    502 Bad Gateway, and the fix is to adapt the contract to this portal release."""
