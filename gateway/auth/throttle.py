"""Slows down a source that keeps failing authentication: 429 with Retry-After.

Each replica counts on its own (no shared state), so N replicas allow up to N times
`max_failures` per window: enough to stop a misconfigured IdP from hammering the portal login
path and to make guessing pointless, without a shared store on the request path. The source is
whatever the caller passes, normally the peer address; behind a proxy the web layer must pass the
client address the proxy reports, or every IdP shares one budget.
"""

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from gateway.scim.errors import TooManyRequests
from gateway.settings import AuthThrottleSettings


@dataclass
class _Record:
    failures: deque[float]
    blocked_until: float = field(default=-math.inf)


class FailureThrottle:
    """Blocks a source for `block_seconds` once it fails `max_failures` times within
    `window_seconds`. Remembers at most `max_sources` sources, dropping the least recent."""

    def __init__(
        self,
        max_failures: int = 20,
        window_seconds: float = 60,
        block_seconds: float = 60,
        *,
        max_sources: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window_seconds = window_seconds
        self.block_seconds = block_seconds
        self.max_sources = max_sources
        self._clock = clock
        self._sources: OrderedDict[str, _Record] = OrderedDict()

    @classmethod
    def from_settings(
        cls, settings: AuthThrottleSettings, *, clock: Callable[[], float] = time.monotonic
    ) -> "FailureThrottle | None":
        """The throttle `auth.throttle` describes, or None when it is turned off."""
        if not settings.enabled:
            return None

        return cls(
            settings.max_failures,
            settings.window_seconds,
            settings.block_seconds,
            max_sources=settings.max_sources,
            clock=clock,
        )

    def __len__(self) -> int:
        """How many sources are remembered."""
        return len(self._sources)

    def check(self, source: str) -> None:
        """Raise `TooManyRequests` while `source` is blocked; call before authenticating."""
        record = self._sources.get(source)
        if record is None:
            return

        wait = record.blocked_until - self._clock()
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            raise TooManyRequests(
                f"too many failed authentication attempts from this address: retry in {seconds} "
                "seconds, after checking the credentials configured in the IdP",
                retry_after=seconds,
            )

    def failed(self, source: str) -> None:
        """Count one failed attempt; the one that reaches `max_failures` starts a block."""
        now = self._clock()
        record = self._sources.pop(source, None) or _Record(deque(maxlen=self.max_failures))
        self._sources[source] = record

        record.failures.append(now)
        while record.failures and record.failures[0] <= now - self.window_seconds:
            record.failures.popleft()
        if len(record.failures) >= self.max_failures:
            record.blocked_until = now + self.block_seconds
            record.failures.clear()

        while len(self._sources) > self.max_sources:
            self._sources.popitem(last=False)

    def succeeded(self, source: str) -> None:
        """Forget the source's failures; a block already started runs its course."""
        record = self._sources.get(source)
        if record is None:
            return

        if record.blocked_until > self._clock():
            record.failures.clear()
        else:
            del self._sources[source]
