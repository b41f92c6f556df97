"""A record of the portal calls made on behalf of the current SCIM request.

The web layer opens `track_portal_calls()` around each request; the client appends one
`PortalCall` per HTTP exchange (retries and re-logins included) to whatever list is current, so
the access log can report how many portal calls a request cost and how long they took. Tasks
started inside the request share its list, because they copy the context that holds it.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PortalCall:
    method: str
    route: str
    """The route template, such as `/rest/security/users/{id}`: no ids, no query string."""
    status: int | None
    """None when no answer came (timeout, dropped connection)."""
    seconds: float
    error: str | None = None
    """The transport failure's class name, such as `ReadTimeout`, when no answer came."""


_portal_calls: ContextVar[list[PortalCall] | None] = ContextVar("portal_calls", default=None)


@contextmanager
def track_portal_calls() -> Iterator[list[PortalCall]]:
    """Collect the portal calls made until the block ends; yields the growing list."""
    calls: list[PortalCall] = []
    token = _portal_calls.set(calls)
    try:
        yield calls
    finally:
        _portal_calls.reset(token)


def current_calls() -> list[PortalCall]:
    """The calls recorded so far in the current block (a copy); empty outside any block."""
    calls = _portal_calls.get()

    return list(calls) if calls is not None else []


def record_call(call: PortalCall) -> None:
    calls = _portal_calls.get()
    if calls is not None:
        calls.append(call)
