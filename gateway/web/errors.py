"""The one place where errors become SCIM answers.

Portal and store errors are translated here, so that the IdP always gets a SCIM body with a status
it knows how to act on: 4xx for a request it must change, 503 with `Retry-After` for a fault it
should retry. `tests/web/test_errors.py` checks that every portal error class has a mapping.
"""

import math

from gateway.errors import GatewayError
from gateway.kyvos import errors as portal
from gateway.scim import errors as scim
from gateway.store import StoreUnavailable

DEFAULT_RETRY_AFTER = 5


def to_scim_error(error: GatewayError) -> scim.ScimError:
    """Translate an expected gateway error into the SCIM error the IdP receives."""
    if isinstance(error, scim.ScimError):
        return error
    if isinstance(error, portal.PortalError):
        return _from_portal(error)
    if isinstance(error, StoreUnavailable):
        return scim.ServiceUnavailable(
            "The gateway's state store is not reachable; retry later.",
            retry_after=DEFAULT_RETRY_AFTER,
        )

    return scim.ServiceUnavailable(str(error), retry_after=DEFAULT_RETRY_AFTER)


def _from_portal(error: portal.PortalError) -> scim.ScimError:
    said = f"The Kyvos portal answered: {error.message}"

    match error:
        case portal.PortalNotFound():
            return scim.NotFound(f"{said}. The resource does not exist in the Kyvos portal.")
        case portal.PortalConflict():
            return scim.Uniqueness(f"{said}. Choose another name or match the existing one.")
        case portal.PortalRejected():
            return scim.InvalidValue(f"{said}. Correct the value and send the request again.")
        case portal.PortalForbidden():
            return scim.Forbidden(f"{said}.")
        case portal.TargetIsManager():
            return scim.Forbidden(error.message)
        case portal.PortalAuthFailed():
            return scim.ServiceUnavailable(
                "The gateway cannot log in to the Kyvos portal; its operator must check "
                "portal.username and portal.password. Retry later.",
                retry_after=30,
            )
        case portal.PortalUnavailable():
            retry_after = error.retry_after or DEFAULT_RETRY_AFTER
            return scim.ServiceUnavailable(
                "The Kyvos portal is not answering (timeout, overload or maintenance); nothing "
                "was changed that a retry would not complete. Retry later.",
                retry_after=max(1, math.ceil(retry_after)),
            )

    return scim.BadGateway(f"{said}. The gateway could not understand the portal's answer.")
