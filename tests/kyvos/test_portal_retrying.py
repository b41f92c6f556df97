"""The retry policy's waits, built for "attempt n failed like this" without sleeping."""

from email.utils import formatdate

import pytest
from tenacity import AsyncRetrying, RetryCallState

from gateway.kyvos.retrying import AttemptFailed, parse_retry_after, wait_for_portal


def after_attempt(number: int, *, retry_after: float | None = None) -> RetryCallState:
    state = RetryCallState(retry_object=AsyncRetrying(), fn=None, args=(), kwargs={})
    state.attempt_number = number
    failure = AttemptFailed(
        "down", cause="503", maybe_committed=False, status=503, retry_after=retry_after
    )
    state.set_exception((AttemptFailed, failure, None))

    return state


def test_the_portals_retry_after_is_the_wait() -> None:
    assert wait_for_portal(cap=8)(after_attempt(1, retry_after=3)) == 3


def test_a_retry_after_beyond_the_cap_waits_the_cap() -> None:
    assert wait_for_portal(cap=8)(after_attempt(1, retry_after=120)) == 8


@pytest.mark.parametrize("attempt", [1, 2, 5, 30])
def test_backoff_stays_within_its_window_and_the_cap(attempt: int) -> None:
    window = min(0.5 * 2 ** (attempt - 1), 4.0)

    waits = [wait_for_portal(cap=4.0)(after_attempt(attempt)) for _ in range(50)]

    assert all(0 <= wait <= window for wait in waits)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("3", 3.0),
        (" 0 ", 0.0),
        ("1.5", 1.5),
        ("-4", 0.0),
        (None, None),
        ("", None),
        ("soon", None),
        ("nan", None),
        ("inf", None),
    ],
)
def test_retry_after_is_read_as_seconds(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header) == seconds


def test_retry_after_is_read_as_an_http_date() -> None:
    now = 1_800_000_000.0

    assert parse_retry_after(formatdate(now + 30, usegmt=True), now=now) == 30.0
    assert parse_retry_after(formatdate(now - 30, usegmt=True), now=now) == 0.0
