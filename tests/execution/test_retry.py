"""The one retry policy shared by the Model API client and the downloader: what is retried,
how long each wait is, and the sync and async loops that apply it."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import httpx
import pytest

from skill.execution.retry import (
    NOT_SENT,
    RetryPolicy,
    TryAgain,
    aretrying,
    retry_after_seconds,
    retrying,
    should_retry,
)

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)


# -- what is retried -------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504, 599])
def test_408_429_and_5xx_are_retried(status: int) -> None:
    assert should_retry(status=status)


@pytest.mark.parametrize("status", [200, 301, 400, 401, 402, 403, 404, 409, 410, 422])
def test_other_statuses_are_not(status: int) -> None:
    assert not should_retry(status=status)
    assert not should_retry(status=status, submit=True)


def test_a_submit_is_retried_on_429_only_never_on_408_or_5xx() -> None:
    assert should_retry(status=429, submit=True)
    for status in (408, 500, 502, 503, 504):
        assert not should_retry(status=status, submit=True), status


@pytest.mark.parametrize(
    "error",
    [
        httpx.ConnectError("refused"),
        httpx.ConnectTimeout("no SYN-ACK"),
        httpx.PoolTimeout("no free connection"),
    ],
)
def test_a_failure_before_anything_was_sent_is_retried_even_for_a_submit(
    error: Exception,
) -> None:
    assert isinstance(error, NOT_SENT)
    assert should_retry(error=error)
    assert should_retry(error=error, submit=True)


@pytest.mark.parametrize(
    "error",
    [
        httpx.ReadTimeout("slow"),
        httpx.WriteTimeout("slow"),
        httpx.ReadError("reset"),
        httpx.WriteError("broken pipe"),
        httpx.RemoteProtocolError("peer closed"),
        httpx.ProxyError("proxy down"),
    ],
)
def test_a_failure_once_the_request_may_have_left_is_retried_for_reads_only(
    error: Exception,
) -> None:
    assert should_retry(error=error)
    assert should_retry(error=error, any_transport=True)
    assert not should_retry(error=error, submit=True)


@pytest.mark.parametrize(
    "error",
    [
        httpx.UnsupportedProtocol("ftp"),
        httpx.InvalidURL("bad"),
        httpx.LocalProtocolError("bad header"),
    ],
)
def test_a_mistake_in_the_request_is_never_retried(error: Exception) -> None:
    assert not should_retry(error=error)
    assert not should_retry(error=error, any_transport=True)
    assert not should_retry(error=error, submit=True)


def test_unknown_transport_failures_are_retried_only_when_any_transport_counts() -> None:
    error = httpx.DecodingError("bad gzip")
    assert not should_retry(error=error)
    assert should_retry(error=error, any_transport=True)
    assert not should_retry(error=error, submit=True)


def test_nothing_to_judge_is_not_retried() -> None:
    assert not should_retry()


# -- how long to wait ------------------------------------------------------------------------------


def test_retry_after_parsing() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("") is None
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds(" 0.5 ") == 0.5
    assert retry_after_seconds("-1") is None
    assert retry_after_seconds("nan") is None
    assert retry_after_seconds("soon") is None
    later = format_datetime(now + timedelta(seconds=42), usegmt=True)
    assert retry_after_seconds(later, now=now) == 42.0
    earlier = format_datetime(now - timedelta(seconds=42), usegmt=True)
    assert retry_after_seconds(earlier, now=now) == 0.0


def test_an_http_date_without_a_zone_is_read_as_utc() -> None:
    assert retry_after_seconds("Thu, 01 Jan 2026 12:00:30 -0000", now=NOW) == 30.0


def test_backoff_is_capped_full_jitter() -> None:
    policy = RetryPolicy(attempts=10, base_delay=0.5, max_delay=4.0)
    for retry in range(1, 12):
        cap = min(4.0, 0.5 * 2 ** (retry - 1))
        assert all(0 <= policy.backoff(retry) <= cap for _ in range(50))
    with pytest.raises(ValueError):
        RetryPolicy(attempts=0)


@pytest.mark.parametrize("name", ["base_delay", "max_delay", "max_retry_after"])
@pytest.mark.parametrize("value", [-1.0, float("inf"), float("nan")])
def test_delays_must_be_finite_and_not_negative(name: str, value: float) -> None:
    with pytest.raises(ValueError, match=name):
        RetryPolicy(**{name: value})  # type: ignore[arg-type]


def test_the_delay_honours_retry_after_seconds_and_http_dates() -> None:
    policy = RetryPolicy(attempts=3, base_delay=100.0, max_delay=100.0, max_retry_after=60.0)
    assert policy.delay(1, retry_after_seconds("7")) == 7.0
    date = format_datetime(NOW + timedelta(seconds=12), usegmt=True)
    assert policy.delay(1, retry_after_seconds(date, now=NOW)) == 12.0
    assert policy.delay(1, 0.0) == 0.0


def test_a_retry_after_beyond_the_patience_gives_up_at_once() -> None:
    policy = RetryPolicy(attempts=5, max_retry_after=60.0)
    assert policy.delay(1, 60.0) == 60.0
    assert policy.delay(1, 61.0) is None


def test_without_retry_after_the_delay_is_jittered_backoff() -> None:
    policy = RetryPolicy(attempts=10, base_delay=0.5, max_delay=4.0)
    for tries in range(1, 10):
        cap = min(4.0, 0.5 * 2 ** (tries - 1))
        assert all(0 <= (policy.delay(tries) or 0) <= cap for _ in range(20))
        assert policy.delay(tries) is not None


def test_no_delay_once_the_attempts_are_spent() -> None:
    policy = RetryPolicy(attempts=3)
    assert policy.delay(2) is not None
    assert policy.delay(3) is None
    assert policy.delay(3, 1.0) is None
    assert RetryPolicy(attempts=1).delay(1) is None


# -- the loops -------------------------------------------------------------------------------------


class Flaky:
    """Fails with :class:`TryAgain` ``failures`` times, then returns ``"ok"``."""

    def __init__(self, failures: int, retry_after: float | None = None) -> None:
        self.failures = failures
        self.retry_after = retry_after
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise TryAgain(f"failure {self.calls}", retry_after=self.retry_after)
        return "ok"


class GaveUp(Exception):
    pass


def give_up(failure: TryAgain, tries: int) -> BaseException:
    return GaveUp(f"{failure.reason} after {tries}")


FAST = RetryPolicy(attempts=4, base_delay=0.001, max_delay=0.004, max_retry_after=1.0)


def test_the_loop_retries_until_a_try_works() -> None:
    sleeps: list[float] = []
    attempt = Flaky(2, retry_after=0.5)
    assert retrying(attempt, FAST, sleeps.append, give_up) == "ok"
    assert attempt.calls == 3
    assert sleeps == [0.5, 0.5]


def test_the_loop_gives_up_after_the_last_attempt_with_the_count() -> None:
    sleeps: list[float] = []
    attempt = Flaky(10)
    with pytest.raises(GaveUp, match="failure 4 after 4"):
        retrying(attempt, FAST, sleeps.append, give_up)
    assert attempt.calls == FAST.attempts
    assert len(sleeps) == FAST.attempts - 1
    assert all(0 <= s <= FAST.max_delay for s in sleeps)


def test_the_loop_gives_up_at_once_on_a_long_retry_after() -> None:
    sleeps: list[float] = []
    attempt = Flaky(10, retry_after=5.0)
    with pytest.raises(GaveUp, match="after 1"):
        retrying(attempt, FAST, sleeps.append, give_up)
    assert attempt.calls == 1 and sleeps == []


def test_any_other_error_ends_the_loop_untouched() -> None:
    sleeps: list[float] = []

    def attempt() -> str:
        raise KeyError("final")

    with pytest.raises(KeyError):
        retrying(attempt, FAST, sleeps.append, give_up)
    assert sleeps == []


@pytest.mark.parametrize("failures", [0, 2, 10])
def test_the_async_loop_tries_and_waits_the_same(failures: int) -> None:
    sync_sleeps: list[float] = []
    async_sleeps: list[float] = []
    sync_attempt, async_attempt = Flaky(failures, 0.25), Flaky(failures, 0.25)

    async def sleep(seconds: float) -> None:
        async_sleeps.append(seconds)

    async def attempt() -> str:
        return async_attempt()

    async def run() -> str:
        return await aretrying(attempt, FAST, sleep, give_up)

    try:
        expected: object = retrying(sync_attempt, FAST, sync_sleeps.append, give_up)
    except GaveUp as exc:
        expected = str(exc)
    try:
        got: object = asyncio.run(run())
    except GaveUp as exc:
        got = str(exc)
    assert got == expected
    assert async_sleeps == sync_sleeps
    assert async_attempt.calls == sync_attempt.calls
