"""FailureThrottle states built with a fake clock: "failure n after t seconds", no sleeping."""

import pytest

from gateway.auth.throttle import FailureThrottle
from gateway.scim.errors import TooManyRequests
from gateway.settings import AuthThrottleSettings

from .conftest import FakeClock


def throttle_with(clock: FakeClock, **limits: float) -> FailureThrottle:
    values = {"max_failures": 3, "window_seconds": 60, "block_seconds": 30} | limits
    return FailureThrottle(
        int(values["max_failures"]),
        values["window_seconds"],
        values["block_seconds"],
        max_sources=int(limits.get("max_sources", 100)),
        clock=clock,
    )


def fail(throttle: FailureThrottle, source: str, times: int) -> None:
    for _ in range(times):
        throttle.failed(source)


def retry_after(throttle: FailureThrottle, source: str) -> str:
    with pytest.raises(TooManyRequests) as caught:
        throttle.check(source)

    return caught.value.headers["Retry-After"]


def test_a_source_below_the_limit_passes() -> None:
    throttle = throttle_with(FakeClock())

    fail(throttle, "10.0.0.1", 2)

    throttle.check("10.0.0.1")


def test_the_failure_that_reaches_the_limit_blocks_the_source() -> None:
    throttle = throttle_with(FakeClock())

    fail(throttle, "10.0.0.1", 3)

    assert retry_after(throttle, "10.0.0.1") == "30"


def test_retry_after_counts_down_in_whole_seconds() -> None:
    clock = FakeClock()
    throttle = throttle_with(clock)
    fail(throttle, "10.0.0.1", 3)

    clock.advance(20.5)

    assert retry_after(throttle, "10.0.0.1") == "10"


def test_the_block_ends_after_block_seconds() -> None:
    clock = FakeClock()
    throttle = throttle_with(clock)
    fail(throttle, "10.0.0.1", 3)

    clock.advance(30)

    throttle.check("10.0.0.1")


def test_a_fresh_budget_follows_a_block() -> None:
    clock = FakeClock()
    throttle = throttle_with(clock)
    fail(throttle, "10.0.0.1", 3)
    clock.advance(30)

    fail(throttle, "10.0.0.1", 2)

    throttle.check("10.0.0.1")


def test_failures_older_than_the_window_do_not_count() -> None:
    clock = FakeClock()
    throttle = throttle_with(clock)
    fail(throttle, "10.0.0.1", 2)

    clock.advance(61)
    fail(throttle, "10.0.0.1", 2)

    throttle.check("10.0.0.1")


def test_other_sources_are_not_blocked() -> None:
    throttle = throttle_with(FakeClock())

    fail(throttle, "10.0.0.1", 3)

    throttle.check("10.0.0.2")


def test_a_success_forgets_earlier_failures() -> None:
    throttle = throttle_with(FakeClock())
    fail(throttle, "10.0.0.1", 2)

    throttle.succeeded("10.0.0.1")
    fail(throttle, "10.0.0.1", 2)

    throttle.check("10.0.0.1")
    assert len(throttle) == 1


def test_a_success_does_not_lift_a_block() -> None:
    throttle = throttle_with(FakeClock())
    fail(throttle, "10.0.0.1", 3)

    throttle.succeeded("10.0.0.1")

    assert retry_after(throttle, "10.0.0.1") == "30"


def test_a_source_that_always_succeeds_is_not_remembered() -> None:
    throttle = throttle_with(FakeClock())

    throttle.succeeded("10.0.0.1")

    assert len(throttle) == 0


def test_memory_is_bounded_by_dropping_the_least_recent_source() -> None:
    throttle = throttle_with(FakeClock(), max_sources=2)
    fail(throttle, "10.0.0.1", 1)
    fail(throttle, "10.0.0.2", 1)
    fail(throttle, "10.0.0.1", 1)

    fail(throttle, "10.0.0.3", 1)

    assert len(throttle) == 2
    fail(throttle, "10.0.0.1", 1)  # kept: its third failure blocks
    assert retry_after(throttle, "10.0.0.1") == "30"
    fail(throttle, "10.0.0.2", 2)  # dropped: its first failure was forgotten
    throttle.check("10.0.0.2")


def test_the_settings_build_the_throttle() -> None:
    settings = AuthThrottleSettings(max_failures=5, window_seconds=10, block_seconds=20)

    throttle = FailureThrottle.from_settings(settings)

    assert throttle is not None
    assert (throttle.max_failures, throttle.window_seconds, throttle.block_seconds) == (5, 10, 20)
    assert throttle.max_sources == 10_000


def test_a_disabled_throttle_is_none() -> None:
    assert FailureThrottle.from_settings(AuthThrottleSettings(enabled=False)) is None
