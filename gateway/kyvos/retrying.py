"""When and how long to wait before calling the portal again.

Only calls that are safe to repeat are retried: reads, PUT, DELETE, the member deltas (which the
portal applies idempotently) and creations the client has made idempotent by looking the name up
first. The wait is capped exponential back-off with full jitter, so replicas that saw the same
outage do not return in step; a `Retry-After` from the portal is honoured, up to the same cap.
"""

import math
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Any

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)
from tenacity.wait import wait_base

from gateway.kyvos.errors import PortalUnavailable

# The first retry waits up to half a second; each later window doubles, up to the cap.
FIRST_WINDOW_SECONDS = 0.5


class AttemptFailed(PortalUnavailable):
    """One attempt failed in a way that another attempt may cure.

    `cause` names what happened for the logs (`ReadTimeout`, `503`); `maybe_committed` says the
    portal may have carried the call out even though no success came back, so a creation must
    look before it tries again.
    """

    def __init__(
        self,
        message: str,
        *,
        cause: str,
        maybe_committed: bool,
        status: int | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status=status, code=code, retry_after=retry_after)
        self.cause = cause
        self.maybe_committed = maybe_committed


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header: delay-seconds or an HTTP date (RFC 9110
    §10.2.3). None when absent or unreadable, so that back-off applies instead."""
    if not value:
        return None

    seconds: float | None
    try:
        seconds = float(value.strip())
    except ValueError:
        seconds = _seconds_until(value, now=time.time() if now is None else now)

    return max(0.0, seconds) if seconds is not None and math.isfinite(seconds) else None


def _seconds_until(date: str, *, now: float) -> float | None:
    try:
        return parsedate_to_datetime(date).timestamp() - now
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


class wait_for_portal(wait_base):
    """The portal's `Retry-After` when it gave one, else capped full-jitter back-off; never more
    than `cap` seconds, so that a long `Retry-After` becomes the IdP's wait, not ours."""

    def __init__(self, cap: float) -> None:
        self.cap = cap
        self.backoff = wait_random_exponential(multiplier=FIRST_WINDOW_SECONDS, max=cap)

    def __call__(self, retry_state: RetryCallState) -> float:
        failure = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(failure, AttemptFailed) and failure.retry_after is not None:
            return min(failure.retry_after, self.cap)

        return float(self.backoff(retry_state))


def log_retry(log: Callable[[], Any], *, method: str, route: str) -> Any:
    """A tenacity `before_sleep` hook that logs one `portal_retry` event per wait, on the
    logger `log()` returns (asked for only when there is a retry to log)."""

    def before_sleep(retry_state: RetryCallState) -> None:
        failure = retry_state.outcome.exception() if retry_state.outcome else None
        wait = retry_state.next_action.sleep if retry_state.next_action else 0.0

        log().warning(
            "portal_retry",
            attempt=retry_state.attempt_number,
            wait_seconds=round(wait, 3),
            cause=getattr(failure, "cause", type(failure).__name__),
            method=method,
            route=route,
        )

    return before_sleep


def portal_retrying(
    *,
    attempts: int,
    backoff_max_seconds: float,
    log: Callable[[], Any],
    method: str,
    route: str,
) -> AsyncRetrying:
    """The retry loop for one call: retries `AttemptFailed` only; any other error (a refusal,
    a conflict, a missing record) ends the call at once."""
    return AsyncRetrying(
        stop=stop_after_attempt(attempts),
        wait=wait_for_portal(backoff_max_seconds),
        retry=retry_if_exception_type(AttemptFailed),
        before_sleep=log_retry(log, method=method, route=route),
    )
