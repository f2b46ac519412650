"""The one retry policy of stage 4: what is worth another try, how long to wait, and the loops.

The Model API client and the downloader both repeat what is safe to repeat, and they used to
carry a copy each of the rules; now both ask this module, so a status or a wait cannot be
retried by one and not by the other.

- *What*: :func:`should_retry`. Network failures, time-outs, 408, 429 and 5xx are worth another
  try. A submit is paid and the API has no idempotency key, so it is repeated only when the
  server provably never saw it (connection refused, DNS failure, connect or pool time-out) or
  refused it with 429; anything else after the request may have left is final.
- *How long*: :meth:`RetryPolicy.delay`. The server's ``Retry-After`` (seconds or an HTTP date,
  :func:`retry_after_seconds`) when it sent one, else capped exponential backoff with full
  jitter; a ``Retry-After`` beyond the policy's patience ends the retries at once.
- *The loop*: :func:`retrying` and :func:`aretrying`, thin twins that differ only in how they
  wait. A try signals "another may fix this" by raising :class:`TryAgain`; anything else it
  raises ends the loop untouched.
"""

from __future__ import annotations

import email.utils
import math
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TypeVar

import httpx

__all__ = [
    "DEFAULT_RETRY",
    "NOT_SENT",
    "REQUEST_MISTAKES",
    "TRANSIENT_TRANSPORT",
    "RetryPolicy",
    "TryAgain",
    "aretrying",
    "retry_after_seconds",
    "retrying",
    "should_retry",
]

T = TypeVar("T")

NOT_SENT: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
)
"""Failures raised before a byte of the request left this machine: safe to repeat even a submit."""

TRANSIENT_TRANSPORT: tuple[type[Exception], ...] = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
    httpx.ProxyError,
)
"""Transport failures known to be passing: an API read hit by one is tried again."""

REQUEST_MISTAKES: tuple[type[Exception], ...] = (
    httpx.UnsupportedProtocol,
    httpx.InvalidURL,
    httpx.LocalProtocolError,
)
"""Failures of the request itself (a bad URL, an unsendable header): no retry can fix them."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently retryable calls are repeated.

    ``attempts`` counts every try, the first included. Delays are "full jitter" backoff:
    uniform in ``[0, min(max_delay, base_delay * 2**(n-1))]`` before the n-th retry, so many
    clients hitting one outage do not retry in lockstep. A ``Retry-After`` longer than
    ``max_retry_after`` ends the retries at once (the error carries the wait) instead of
    blocking the caller for minutes.
    """

    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 20.0
    max_retry_after: float = 120.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be >= 1")
        for name in ("base_delay", "max_delay", "max_retry_after"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0")

    def backoff(self, retry: int) -> float:
        """The jittered wait before the ``retry``-th retry (1-based)."""
        cap = min(self.max_delay, self.base_delay * 2.0 ** min(max(retry - 1, 0), 60))
        return random.uniform(0.0, cap)

    def delay(self, tries: int, retry_after: float | None = None) -> float | None:
        """Seconds to wait after the ``tries``-th failed try, or ``None`` to give up.

        The server's ``retry_after`` wins over backoff because it knows when it will be
        ready; one longer than ``max_retry_after`` gives up rather than block the caller.
        """
        if tries >= self.attempts:
            return None
        if retry_after is not None:
            return None if retry_after > self.max_retry_after else retry_after
        return self.backoff(tries)


DEFAULT_RETRY = RetryPolicy()
"""The policy of a client or download that is given none: 5 tries, 0.5 s doubling to 20 s."""


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds, fractional allowed, or an
    HTTP date); ``None`` when absent or unparsable."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    current = now if now is not None else datetime.now(timezone.utc)
    return max(0.0, (when - current).total_seconds())


def should_retry(
    *,
    status: int | None = None,
    error: BaseException | None = None,
    submit: bool = False,
    any_transport: bool = False,
) -> bool:
    """Whether a try that ended with HTTP ``status`` or transport ``error`` is worth another.

    ``submit``: the try was a paid submit, repeated only when it provably never arrived
    (:data:`NOT_SENT`) or was refused with 429, never after a 408, a 5xx or a failure once
    the request may have left (it could have created a job: resubmitting could pay twice).
    ``any_transport``: count every transport failure but a :data:`REQUEST_MISTAKES` as passing,
    not only the :data:`TRANSIENT_TRANSPORT` ones. Downloads do: the file is paid for and
    fetching it again costs nothing, whereas an API call gives up on an unknown failure.
    """
    if error is not None:
        if isinstance(error, NOT_SENT):
            return True
        if submit or isinstance(error, REQUEST_MISTAKES):
            return False
        if any_transport:
            return isinstance(error, httpx.HTTPError)
        return isinstance(error, TRANSIENT_TRANSPORT)
    if status is None:
        return False
    if submit:
        return status == 429
    return status in (408, 429) or status >= 500


class TryAgain(Exception):
    """Raised by one try that failed in a way another try may fix.

    ``error`` is what the caller raises when no try is left (``None`` when the loop's
    ``give_up`` builds it from ``reason``); ``retry_after`` is the server's wait, in seconds.
    """

    def __init__(
        self,
        reason: str,
        *,
        error: BaseException | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.error = error
        self.retry_after = retry_after


GiveUp = Callable[[TryAgain, int], BaseException]
"""``give_up(last_failure, tries)``: the exception to raise once no try is left."""


def retrying(
    attempt: Callable[[], T],
    policy: RetryPolicy,
    sleep: Callable[[float], None],
    give_up: GiveUp,
) -> T:
    """Call ``attempt`` until it returns, repeating it after :class:`TryAgain` as ``policy``
    allows; then raise ``give_up(failure, tries)``."""
    tries = 0
    while True:
        tries += 1
        try:
            return attempt()
        except TryAgain as exc:
            failure = exc
        delay = policy.delay(tries, failure.retry_after)
        if delay is None:
            raise give_up(failure, tries)
        sleep(delay)


async def aretrying(
    attempt: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    sleep: Callable[[float], Awaitable[None]],
    give_up: GiveUp,
) -> T:
    """The asyncio twin of :func:`retrying`: same tries, same waits, awaited."""
    tries = 0
    while True:
        tries += 1
        try:
            return await attempt()
        except TryAgain as exc:
            failure = exc
        delay = policy.delay(tries, failure.retry_after)
        if delay is None:
            raise give_up(failure, tries)
        await sleep(delay)
