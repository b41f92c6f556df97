"""The portal's refusals, each knowing its status and its wire body."""

from __future__ import annotations

from typing import Any


class PortalRefusal(Exception):
    """A request the simulated portal answers with an error: status + `errorCode` + message."""

    def __init__(
        self,
        status: int,
        error_code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"errorCode": self.error_code, "message": self.message}


def bad_request(error_code: str, message: str) -> PortalRefusal:
    return PortalRefusal(400, error_code, message)


def not_found(error_code: str, message: str) -> PortalRefusal:
    return PortalRefusal(404, error_code, message)


def conflict(error_code: str, message: str) -> PortalRefusal:
    return PortalRefusal(409, error_code, message)
