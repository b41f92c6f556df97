"""What one request may ask of the gateway: its body, how fast it is sent, how often a client
calls.

Every replica counts on its own (no shared state on the request path), so a per-client rate of
R with N replicas behind a load balancer admits up to N times R. The limits protect the
gateway and the portal behind it from a runaway or hostile client; the IdP's own pacing stays
the first line.
"""

import asyncio
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from gateway.auth.authenticator import Principal
from gateway.scim.errors import InvalidSyntax, PayloadTooLarge, ScimError, TooManyRequests
from gateway.settings import LimitsSettings
from gateway.web.middleware import Handler

PRINCIPAL: web.RequestKey[Principal] = web.RequestKey("principal", Principal)


class RequestTimeout(ScimError):
    """The client sent its headers, then took too long over the body (RFC 9110 §15.5.9)."""

    status = 408


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RequestRate:
    """A token bucket per client: `burst` requests at once, refilled at `rate` per second.

    Remembers at most `max_clients` clients, dropping the least recent; a dropped client
    starts again with a full bucket, which errs on the side of serving it.
    """

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.max_clients = max_clients
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    @classmethod
    def from_settings(
        cls, limits: LimitsSettings, *, clock: Callable[[], float] = time.monotonic
    ) -> "RequestRate | None":
        """The limit `[limits]` describes, or None when `requests_per_second` is 0 (off)."""
        if limits.requests_per_second <= 0:
            return None

        return cls(
            limits.requests_per_second,
            limits.burst,
            max_clients=limits.max_clients,
            clock=clock,
        )

    def take(self, client: str) -> None:
        """Spend one request of `client`'s budget, or raise `TooManyRequests` (429)."""
        now = self._clock()
        bucket = self._buckets.pop(client, None) or _Bucket(float(self.burst), now)
        self._buckets[client] = bucket
        while len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)

        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return

        seconds = max(1, math.ceil((1 - bucket.tokens) / self.rate))
        raise TooManyRequests(
            f"this client sends more than {self.rate:g} requests per second (burst "
            f"{self.burst}): retry in {seconds} seconds, or lower the IdP's request rate",
            retry_after=seconds,
        )


RATE: web.AppKey[RequestRate] = web.AppKey("request_rate", RequestRate)
LIMITS: web.AppKey[LimitsSettings] = web.AppKey("limits", LimitsSettings)


@web.middleware
async def limit_rate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count the authenticated client's request against its rate; runs after authentication,
    so a client is its IdP application, not whoever shares its address."""
    rate = request.app.get(RATE)
    principal = request.get(PRINCIPAL)
    if rate is not None and principal is not None:
        rate.take(principal.client_id)

    return await handler(request)


@web.middleware
async def read_body(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Read the whole body before the handler, within `body_timeout_seconds` and
    `server.max_body_bytes`, so a stalled or oversized body is refused in SCIM form whatever
    the handler; aiohttp keeps the body for the handler's own `read()`."""
    if not request.body_exists:
        return await handler(request)

    limit = request.client_max_size
    if request.content_length is not None and request.content_length > limit:
        raise _too_large(limit)

    seconds = request.app[LIMITS].body_timeout_seconds
    try:
        async with asyncio.timeout(seconds):
            await request.read()
    except TimeoutError:
        raise RequestTimeout(
            f"The request body did not arrive within {seconds:g} seconds; send it again.",
            headers={"Connection": "close"},
        ) from None
    except web.HTTPRequestEntityTooLarge:
        # A chunked body has no Content-Length: the size shows only while reading.
        raise _too_large(limit) from None
    except web.RequestPayloadError as error:
        # The parser decodes Content-Encoding and chunked framing while the body is read; a
        # body it cannot decode is the client's fault. The rest of it cannot be skipped.
        cause = type(error.__cause__ or error).__name__
        raise InvalidSyntax(
            f"The request body cannot be decoded ({cause}): send it as plain UTF-8 JSON, or "
            "compressed as its Content-Encoding (gzip or deflate) says.",
            headers={"Connection": "close"},
        ) from None

    return await handler(request)


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"The request body is larger than the {limit} bytes the gateway accepts "
        "(server.max_body_bytes); send a smaller request."
    )
