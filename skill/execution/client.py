"""The RunComfy Model API client: submit, status, result, cancel and model schema.

Two twins with one behaviour, :class:`RunComfyClient` (blocking) and :class:`AsyncRunComfyClient`
(asyncio, for the MCP server), implementing the :class:`~skill.execution.model_api.ModelApi` and
:class:`~skill.execution.model_api.AsyncModelApi` protocols the execution flow is written
against. Everything that decides what a response *means* (error mapping, retry decisions,
parsing) lives in one shared base, sans I/O, so the twins differ only in how they send and wait.
The answer records (:class:`Submission`, :class:`JobStatus`, ...) are the protocols' own,
re-exported here.

Where the official CLI gives up on the first hiccup, this client retries what is safe to retry:
reads (status, result, schema) and cancel, on network errors, time-outs, 408, 429 and 5xx, with
capped exponential backoff and full jitter, honouring ``Retry-After``. A submit is paid and the
API has no idempotency key, so it is repeated only when the server provably never saw it
(connection refused, DNS failure, connect time-out) or refused it with 429. Any other failure
after the request may have left raises :class:`~skill.errors.SubmitUnconfirmed`: resubmitting
blindly could pay twice. Those rules, and the loop that applies them, are
:mod:`skill.execution.retry`'s, shared with the downloader; :class:`RetryPolicy` and
:func:`retry_after_seconds` are re-exported here because a client is configured with them.

The token is read lazily (constructing a client never fails), sent only to the configured base
URL (URLs from API answers are never followed with it), and scrubbed from every message.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, NoReturn

import httpx

from skill import settings
from skill._version import __version__
from skill.errors import (
    ApiClientError,
    ApiServerError,
    AuthError,
    ConfigError,
    InputError,
    Kling3Error,
    SubmitUnconfirmed,
    TransientError,
)
from skill.execution.auth import redact, require_token
from skill.execution.model_api import CancelOutcome, JobResult, JobStatus, Submission, wire_json
from skill.execution.pacing import MIN_POLL_INTERVAL_S, poll_floor
from skill.execution.retry import (
    DEFAULT_RETRY,
    NOT_SENT,
    RetryPolicy,
    TryAgain,
    aretrying,
    retry_after_seconds,
    retrying,
    should_retry,
)
from skill.execution.states import API_CANCELLED
from skill.execution.transport import client_tls, default_tls_context

__all__ = [
    "DEFAULT_USER_AGENT",
    "MAX_RESPONSE_BYTES",
    "AsyncRunComfyClient",
    "CancelOutcome",
    "JobResult",
    "JobStatus",
    "RetryPolicy",
    "RunComfyClient",
    "Submission",
    "default_tls_context",
    "retry_after_seconds",
    "validate_model_id",
    "validate_request_id",
]

DEFAULT_USER_AGENT = f"kling3-skill/{__version__}"
MAX_RESPONSE_BYTES = 16 << 20
"""Largest API answer read; the API's JSON is tiny, so more is a broken proxy or an attack."""

_MAX_MESSAGE_CHARS = 300
_REQUEST_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
_MODEL_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_MESSAGE_KEYS = ("error_message", "message", "error", "detail")
# The RunComfy error codes of the docs, as the HTTP status they mean.
_ERROR_CODE_STATUS = {400001: 404, 400002: 402, 400004: 401, 403001: 403, 404001: 404}


def validate_request_id(request_id: object) -> str:
    """``request_id`` if it is safe to put in a URL path, else :class:`InputError`."""
    if not isinstance(request_id, str) or not _REQUEST_ID.fullmatch(request_id):
        shown = repr(request_id)[:60]
        raise InputError(
            f"not a valid request id: {shown} (expected 1-128 letters, digits, '_' or '-')",
            code="bad_request_id",
            field="request_id",
        )
    return request_id


def validate_model_id(model_id: object) -> str:
    """``model_id`` if it is a slash-separated id safe to use raw in the path."""
    if isinstance(model_id, str):
        segments = model_id.split("/")
        if len(segments) >= 2 and all(
            _MODEL_SEGMENT.fullmatch(s) and s not in (".", "..") for s in segments
        ):
            return model_id
    raise InputError(
        f"not a valid model id: {repr(model_id)[:80]} (expected e.g. "
        "kling/kling-3.0/standard/text-to-video)",
        code="bad_model_id",
        field="model_id",
    )


def _clip(text: str, limit: int = _MAX_MESSAGE_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _status_text(value: object) -> str:
    return value.strip().lower() if isinstance(value, str) else ""


def _as_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _describe_exc(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _final(failure: TryAgain, tries: int) -> BaseException:
    """The error to raise when no try is left: the last try's own, as it was built."""
    assert failure.error is not None
    return failure.error


# -- the shared brain ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Call:
    """One logical API call; ``what`` names it in messages."""

    method: str
    path: str
    what: str
    submit: bool = False
    request_id: str | None = None
    model_id: str | None = None
    body: bytes | None = None


@dataclass
class _Attempt:
    """How one try ended: with data, or with an error that may be worth another try."""

    data: dict[str, Any] | None = None
    error: Kling3Error | None = None
    retry: bool = False
    retry_after: float | None = None


class _Base:
    """Configuration, request building and the meaning of answers, shared by both twins."""

    def __init__(
        self,
        *,
        base_url: str | None,
        token: str | None,
        timeout: float,
        retry: RetryPolicy,
        user_agent: str,
    ) -> None:
        if not timeout > 0:
            raise ValueError("timeout must be > 0")
        self._base_arg = base_url
        self._base: str | None = None
        self.__token = token
        self.timeout = float(timeout)
        self.retry = retry
        self.user_agent = user_agent

    def __repr__(self) -> str:
        base = self._base or self._base_arg or "<settings.api_base()>"
        return f"{type(self).__name__}(base_url={base!r})"

    @property
    def base_url(self) -> str:
        """The API base (``/v1`` included); resolved and checked on first use."""
        if self._base is None:
            raw = self._base_arg if self._base_arg is not None else settings.api_base()
            base = raw.strip().rstrip("/")
            try:
                url = httpx.URL(base)
            except httpx.InvalidURL:
                url = None
            if url is None or url.scheme not in ("http", "https") or not url.host:
                raise ConfigError(
                    f"the Model API base URL {base[:200]!r} is not an http(s) URL",
                    code="bad_api_base",
                )
            self._base = base
        return self._base

    def _token(self) -> str:
        if self.__token is None or not self.__token.strip():
            self.__token = require_token()
        token = self.__token.strip()
        if not all(0x21 <= ord(c) <= 0x7E for c in token):
            # httpx would reject it with an error quoting the header, token included
            raise AuthError(
                "the API token contains spaces or characters that cannot be sent; "
                "run `kling3 login` or fix RUNCOMFY_TOKEN",
                code="invalid_token",
            )
        return token

    def _redact(self, text: str) -> str:
        token = self.__token.strip() if self.__token else None
        return redact(text, token) if token else redact(text)

    def _timeouts(self) -> httpx.Timeout:
        return httpx.Timeout(self.timeout, connect=min(self.timeout, 10.0))

    def _headers(self, call: _Call) -> dict[str, str]:
        headers = {
            "Authorization": f"Bearer {self._token()}",
            "Accept": "application/json",
            "User-Agent": self.user_agent,
        }
        if call.body is not None:
            headers["Content-Type"] = "application/json"
        return headers

    # -- calls ---------------------------------------------------------------------------------

    def _submit_call(self, model_id: str, payload: dict[str, Any]) -> _Call:
        """The submit request, checked and serialised before anything is sent (a payload that
        is not strict JSON is the caller's mistake, not a reason to send half a request)."""
        model_id = validate_model_id(model_id)
        if not isinstance(payload, dict):
            raise InputError(
                "the submit payload must be a JSON object (a dict)", code="bad_payload"
            )
        try:
            body = wire_json(payload).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise InputError(
                f"the submit payload is not valid JSON: {exc}", code="bad_payload"
            ) from None
        return _Call(
            "POST",
            f"/models/{model_id}",
            f"submit to {model_id}",
            submit=True,
            model_id=model_id,
            body=body,
        )

    def _retry_floor(self, call: _Call) -> float:
        """The least wait before retrying a status poll, so a failing poll is not repeated
        faster than polls are allowed (:func:`~skill.execution.pacing.poll_floor`); 0 for
        anything else (the retry policy's own backoff applies)."""
        if call.request_id is None or not call.path.endswith("/status"):
            return 0.0
        floor = poll_floor(self.base_url)
        return floor if floor >= MIN_POLL_INTERVAL_S else 0.0

    def _request_call(self, request_id: str, action: str) -> _Call:
        request_id = validate_request_id(request_id)
        method = "POST" if action == "cancel" else "GET"
        return _Call(
            method,
            f"/requests/{request_id}/{action}",
            f"{action} of request {request_id}",
            request_id=request_id,
        )

    def _schema_call(self, model_id: str) -> _Call:
        model_id = validate_model_id(model_id)
        return _Call("GET", f"/models/{model_id}", f"schema of {model_id}", model_id=model_id)

    # -- answers -------------------------------------------------------------------------------

    def _deadline_check(self, deadline: float, request: httpx.Request) -> None:
        if time.monotonic() > deadline:
            raise httpx.ReadTimeout(
                f"no complete answer within {self.timeout:g} s", request=request
            )

    def _declared_too_large(self, response: httpx.Response) -> bool:
        declared = _as_int(response.headers.get("Content-Length"))
        return declared is not None and declared > MAX_RESPONSE_BYTES

    def _transport_failure(self, call: _Call, exc: Exception, *, answered: int | None) -> _Attempt:
        """A failure below HTTP: ``answered`` is the status when headers had arrived."""
        reason = self._redact(_describe_exc(exc))
        host = httpx.URL(self.base_url).host
        if isinstance(exc, (httpx.UnsupportedProtocol, httpx.InvalidURL)):
            return _Attempt(
                error=ConfigError(
                    f"cannot use the Model API base URL: {reason}", code="bad_api_base"
                )
            )
        if isinstance(exc, httpx.LocalProtocolError):
            return _Attempt(
                error=InputError(
                    f"{call.what}: the request could not be sent: {reason}",
                    code="unsendable_request",
                    request_id=call.request_id,
                )
            )
        if isinstance(exc, NOT_SENT):
            return _Attempt(
                error=TransientError(
                    f"{call.what}: cannot reach the Model API at {host}: {reason}",
                    code="network_error",
                    request_id=call.request_id,
                ),
                retry=should_retry(error=exc, submit=call.submit),
            )
        if call.submit:
            detail = f"{reason} after HTTP {answered}" if answered else reason
            return _Attempt(error=self._unconfirmed(call, detail, status=answered))
        timed_out = isinstance(exc, httpx.TimeoutException)
        return _Attempt(
            error=TransientError(
                f"{call.what}: {'timed out' if timed_out else 'network error'} talking to "
                f"{host}: {reason}",
                code="network_error",
                request_id=call.request_id,
            ),
            retry=should_retry(error=exc),
        )

    def _too_large(self, call: _Call, status: int) -> _Attempt:
        """An answer over :data:`MAX_RESPONSE_BYTES`: a read is tried again, a submit may have
        created a job and is unconfirmed."""
        if call.submit:
            return _Attempt(
                error=self._unconfirmed(
                    call,
                    f"HTTP {status} with an answer over {MAX_RESPONSE_BYTES} bytes",
                    status=status,
                )
            )
        return _Attempt(
            error=ApiServerError(
                f"{call.what}: the API answered more than {MAX_RESPONSE_BYTES} bytes",
                code="bad_response",
                status=status,
                request_id=call.request_id,
            ),
            retry=True,
        )

    def _unconfirmed(
        self, call: _Call, reason: str, *, status: int | None = None, request_id: str | None = None
    ) -> SubmitUnconfirmed:
        details: dict[str, Any] = {"model_id": call.model_id, "reason": reason}
        if status is not None:
            details["http_status"] = status
        known = f" (the answer named request {request_id})" if request_id else ""
        return SubmitUnconfirmed(
            f"the submit to {call.model_id} could not be confirmed: {reason}{known}. "
            "The job may or may not have been created; the submit was not repeated, so it "
            "cannot be paid twice. Check your RunComfy requests before submitting again.",
            request_id=request_id,
            details=details,
        )

    def _interpret(self, call: _Call, response: httpx.Response, body: bytes) -> _Attempt:
        """What a complete answer means, sans I/O: its data, or the error to raise and whether
        another try may help. Written once for both twins; RunComfy's ``error_code`` can
        contradict the HTTP status, and the code wins."""
        status = response.status_code
        try:
            data: Any = json.loads(body) if body else None
        except (ValueError, UnicodeDecodeError):
            data = None
        if 200 <= status < 300 and isinstance(data, dict) and not data.get("error_code"):
            return _Attempt(data=data)  # the common answer: nothing to redact or wait for
        text = self._redact(body[:4096].decode("utf-8", "replace"))
        retry_after = retry_after_seconds(response.headers.get("Retry-After"))

        effective = status
        if 200 <= status < 300:
            if not isinstance(data, dict):
                if call.submit:
                    return _Attempt(
                        error=self._unconfirmed(
                            call,
                            f"HTTP {status} with a body that is not a JSON object",
                            status=status,
                        )
                    )
                return _Attempt(
                    error=ApiServerError(
                        f"{call.what}: HTTP {status} with a body that is not a JSON object: "
                        f"{_clip(text) or '(empty)'}",
                        code="bad_response",
                        status=status,
                        request_id=call.request_id,
                    ),
                    retry=True,
                )
            if data.get("error_code") in (None, 0, "0", "", False):
                return _Attempt(data=data)
            effective = self._status_from_error_code(data.get("error_code"))
        elif status == 400 and isinstance(data, dict):
            mapped = _ERROR_CODE_STATUS.get(_as_int(data.get("error_code")) or 0)
            effective = mapped if mapped is not None else status

        retryable = should_retry(status=effective, submit=call.submit)
        if call.submit and (effective >= 500 or effective == 408):
            rid = data.get("request_id") if isinstance(data, dict) else None
            message = self._message(data, text)
            return _Attempt(
                error=self._unconfirmed(
                    call,
                    f"HTTP {status}" + (f": {message}" if message else ""),
                    status=status,
                    request_id=rid if isinstance(rid, str) and _REQUEST_ID.fullmatch(rid) else None,
                )
            )
        error = self._api_error(call, status, effective, data, text, retry_after)
        return _Attempt(error=error, retry=retryable, retry_after=retry_after)

    @staticmethod
    def _status_from_error_code(code: object) -> int:
        number = _as_int(code)
        if number is None:
            return 500
        if number in _ERROR_CODE_STATUS:
            return _ERROR_CODE_STATUS[number]
        if 400 <= number <= 599:
            return number
        if 400 <= number // 1000 <= 599:
            return number // 1000
        return 500

    def _message(self, data: Any, text: str) -> str:
        if isinstance(data, dict):
            for key in _MESSAGE_KEYS:
                value = data.get(key)
                if isinstance(value, dict):
                    value = value.get("message") or value.get("error_message")
                if isinstance(value, str) and value.strip():
                    return _clip(self._redact(value))
        return _clip(text)

    @staticmethod
    def _fields(data: Any) -> list[str]:
        """Field names from a validation ``detail`` list (``loc`` paths, ``body`` dropped)."""
        detail = data.get("detail") if isinstance(data, dict) else None
        names: list[str] = []
        if not isinstance(detail, list):
            return names
        for item in detail:
            if not isinstance(item, dict):
                continue
            loc = item.get("loc")
            name: str | None = None
            if isinstance(loc, list):
                parts = [str(p) for p in loc if not (isinstance(p, str) and p in ("body", "query"))]
                name = ".".join(parts) or None
            elif isinstance(loc, str):
                name = loc
            elif isinstance(item.get("field"), str):
                name = item["field"]
            if name and name not in names:
                names.append(_clip(name, 80))
        return names

    def _api_error(
        self,
        call: _Call,
        status: int,
        effective: int,
        data: Any,
        text: str,
        retry_after: float | None,
    ) -> Kling3Error:
        """The error for a refused call, by its effective status: each says what to do next
        (sign in, add credit, fix a field, wait), so callers can act on the code alone."""
        message = self._message(data, text) or "(no message)"
        shown = f"HTTP {status}" if status == effective else f"HTTP {status}, error {effective}"
        details: dict[str, Any] = {"http_status": status}
        if isinstance(data, dict) and data.get("error_code") is not None:
            details["error_code"] = data.get("error_code")
        kw: dict[str, Any] = {"request_id": call.request_id, "details": details}
        if effective == 401:
            return AuthError(
                f"{call.what}: the API rejected the token ({shown}): {message}. "
                "Run `kling3 login` or set RUNCOMFY_TOKEN.",
                code="auth_rejected",
                **kw,
            )
        if effective == 403:
            return AuthError(
                f"{call.what}: permission denied ({shown}): {message}",
                code="permission_denied",
                **kw,
            )
        if effective == 402:
            return ApiClientError(
                f"{call.what}: insufficient balance on the RunComfy account ({shown}): "
                f"{message}. Add credit to the account, then submit again.",
                code="insufficient_balance",
                status=status,
                **kw,
            )
        if effective == 404:
            return ApiClientError(
                f"{call.what}: not found ({shown}): {message}",
                code="not_found",
                status=status,
                **kw,
            )
        if effective in (400, 422):
            fields = self._fields(data)
            named = f" (fields: {', '.join(fields)})" if fields else ""
            if fields:
                details["fields"] = fields
            return ApiClientError(
                f"{call.what}: the API refused the input ({shown}): {message}{named}",
                code="api_rejected_input",
                status=status,
                field=fields[0] if fields else None,
                **kw,
            )
        if effective == 429:
            if retry_after is not None:
                details["retry_after_s"] = retry_after
            wait = f"; retry after {retry_after:g} s" if retry_after is not None else ""
            return TransientError(
                f"{call.what}: rate limited ({shown}): {message}{wait}",
                code="rate_limited",
                **kw,
            )
        if effective == 408:
            return TransientError(
                f"{call.what}: the API timed out ({shown}): {message}", code="network_error", **kw
            )
        if effective >= 500:
            return ApiServerError(
                f"{call.what}: the API is unavailable ({shown}): {message}",
                code="api_unavailable",
                status=status,
                **kw,
            )
        if 300 <= effective < 400:
            return ApiServerError(
                f"{call.what}: unexpected redirect ({shown}); check RUNCOMFY_MODEL_API_BASE",
                code="unexpected_response",
                status=status,
                **kw,
            )
        return ApiClientError(
            f"{call.what}: the API refused the request ({shown}): {message}",
            status=status,
            **kw,
        )

    def _settle(self, attempt: _Attempt) -> dict[str, Any]:
        """The data of a try that worked; else its error, wrapped in :class:`TryAgain` when
        another try may fix it (the retry loop then decides whether one is left)."""
        if attempt.data is not None:
            return attempt.data
        assert attempt.error is not None
        if attempt.retry:
            raise TryAgain(
                attempt.error.message, error=attempt.error, retry_after=attempt.retry_after
            )
        raise attempt.error

    # -- parsing ---------------------------------------------------------------------------------

    def _bad_shape(self, call: _Call, what: str, data: dict[str, Any]) -> NoReturn:
        raise ApiServerError(
            f"{call.what}: the answer {what}: {_clip(self._redact(json.dumps(data)[:1000]))}",
            code="bad_response",
            request_id=call.request_id,
        )

    def _submission(self, call: _Call, data: dict[str, Any]) -> Submission:
        rid = data.get("request_id")
        if not isinstance(rid, str) or not _REQUEST_ID.fullmatch(rid):
            raise self._unconfirmed(
                call,
                "the answer has no usable request_id: "
                + _clip(self._redact(json.dumps(data)[:1000]), 200),
                status=200,
            )

        def url(key: str) -> str | None:
            value = data.get(key)
            return value if isinstance(value, str) and value else None

        return Submission(rid, url("status_url"), url("result_url"), url("cancel_url"), data)

    def _job_status(self, call: _Call, data: dict[str, Any]) -> JobStatus:
        status = _status_text(data.get("status"))
        if not status:
            self._bad_shape(call, "has no status", data)
        assert call.request_id is not None
        return JobStatus(call.request_id, status, _as_int(data.get("queue_position")), data)

    def _job_result(self, call: _Call, data: dict[str, Any]) -> JobResult:
        status = _status_text(data.get("status"))
        if not status:
            self._bad_shape(call, "has no status", data)
        output = data.get("output")
        if output is not None and not isinstance(output, dict):
            output = {"output": output}
        assert call.request_id is not None
        return JobResult(call.request_id, status, output, data.get("error"), data)

    def _cancel_outcome(self, call: _Call, data: dict[str, Any]) -> CancelOutcome:
        status = _status_text(data.get("status")) or None
        outcome = _status_text(data.get("outcome"))
        if not outcome:
            if status in API_CANCELLED or status == "cancellation_requested":
                outcome = "cancelled"
            else:
                outcome = status or "unknown"
        assert call.request_id is not None
        return CancelOutcome(call.request_id, outcome, status, data)


# -- the twins ---------------------------------------------------------------------------------------


class RunComfyClient(_Base):
    """Blocking Model API client. Use as a context manager, or call :meth:`close`.

    ``sleep`` is the backoff wait (injectable so tests run fast). ``http`` may be shared and is
    then left open on :meth:`close`; default headers it carries are overridden per request.
    """

    def __init__(
        self,
        *,
        base_url: str | None = None,
        token: str | None = None,
        timeout: float = 60.0,
        retry: RetryPolicy = DEFAULT_RETRY,
        sleep: Callable[[float], None] = time.sleep,
        http: httpx.Client | None = None,
        user_agent: str = DEFAULT_USER_AGENT,
    ) -> None:
        super().__init__(
            base_url=base_url, token=token, timeout=timeout, retry=retry, user_agent=user_agent
        )
        self._sleep = sleep
        self._http = http
        self._owns_http = http is None

    def _client(self) -> httpx.Client:
        if self._http is None:
            self._http = httpx.Client(
                timeout=self._timeouts(),
                follow_redirects=False,
                **client_tls(self.base_url, asynchronous=False),
            )
        return self._http

    def download_http(self) -> httpx.Client:
        """The HTTP client downloads of this client's jobs go through: its own connection pool,
        so fetching many outputs opens no client and no connection per file (download requests
        never carry the token or cookies: :mod:`skill.execution.downloads` strips them)."""
        return self._client()

    def close(self) -> None:
        """Close the HTTP client if this object created it."""
        if self._owns_http and self._http is not None:
            self._http.close()
            self._http = None

    def __enter__(self) -> RunComfyClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def submit(self, model_id: str, payload: dict[str, Any]) -> Submission:
        """Submit one paid job; never repeated once it may have reached the server."""
        call = self._submit_call(model_id, payload)
        return self._submission(call, self._run(call))

    def status(self, request_id: str) -> JobStatus:
        """One status poll; retried like every read."""
        call = self._request_call(request_id, "status")
        return self._job_status(call, self._run(call))

    def result(self, request_id: str) -> JobResult:
        """The result record (outputs or error); retried like every read."""
        call = self._request_call(request_id, "result")
        return self._job_result(call, self._run(call))

    def cancel(self, request_id: str) -> CancelOutcome:
        """Ask to cancel; retried, as cancelling twice is harmless."""
        call = self._request_call(request_id, "cancel")
        return self._cancel_outcome(call, self._run(call))

    def model_schema(self, model_id: str) -> dict[str, Any]:
        """The model's details: price and ``input_schema``."""
        return self._run(self._schema_call(model_id))

    def _run(self, call: _Call) -> dict[str, Any]:
        floor = self._retry_floor(call)
        sleep = self._sleep if not floor else (lambda s: self._sleep(max(s, floor)))
        return retrying(lambda: self._settle(self._attempt(call)), self.retry, sleep, _final)

    def _attempt(self, call: _Call) -> _Attempt:
        """One try: send, read at most :data:`MAX_RESPONSE_BYTES` within the time-out, and
        leave the meaning to :meth:`_interpret`. Streaming lets a huge or endless answer be
        cut short instead of filling memory."""
        client = self._client()
        request = client.build_request(
            call.method,
            self.base_url + call.path,
            headers=self._headers(call),
            content=call.body,
            timeout=self._timeouts(),
        )
        deadline = time.monotonic() + self.timeout
        try:
            response = client.send(request, stream=True, auth=None, follow_redirects=False)
        except httpx.HTTPError as exc:
            return self._transport_failure(call, exc, answered=None)
        try:
            if self._declared_too_large(response):
                return self._too_large(call, response.status_code)
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_RESPONSE_BYTES:
                    return self._too_large(call, response.status_code)
                self._deadline_check(deadline, request)
        except httpx.HTTPError as exc:
            return self._transport_failure(call, exc, answered=response.status_code)
        finally:
            response.close()
        return self._interpret(call, response, bytes(body))


class AsyncRunComfyClient(_Base):
    """The asyncio twin of :class:`RunComfyClient`: same calls, same retries, same errors."""

    def __init__(
        self,
        *,
        base_url: str | None = None,
        token: str | None = None,
        timeout: float = 60.0,
        retry: RetryPolicy = DEFAULT_RETRY,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        http: httpx.AsyncClient | None = None,
        user_agent: str = DEFAULT_USER_AGENT,
    ) -> None:
        super().__init__(
            base_url=base_url, token=token, timeout=timeout, retry=retry, user_agent=user_agent
        )
        self._sleep = sleep
        self._http = http
        self._owns_http = http is None

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(
                timeout=self._timeouts(),
                follow_redirects=False,
                **client_tls(self.base_url, asynchronous=True),
            )
        return self._http

    def download_http(self) -> httpx.AsyncClient:
        """The asyncio twin of :meth:`RunComfyClient.download_http`."""
        return self._client()

    async def aclose(self) -> None:
        """Close the HTTP client if this object created it."""
        if self._owns_http and self._http is not None:
            await self._http.aclose()
            self._http = None

    close = aclose

    async def __aenter__(self) -> AsyncRunComfyClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def submit(self, model_id: str, payload: dict[str, Any]) -> Submission:
        """Submit one paid job; never repeated once it may have reached the server."""
        call = self._submit_call(model_id, payload)
        return self._submission(call, await self._run(call))

    async def status(self, request_id: str) -> JobStatus:
        """One status poll; retried like every read."""
        call = self._request_call(request_id, "status")
        return self._job_status(call, await self._run(call))

    async def result(self, request_id: str) -> JobResult:
        """The result record (outputs or error); retried like every read."""
        call = self._request_call(request_id, "result")
        return self._job_result(call, await self._run(call))

    async def cancel(self, request_id: str) -> CancelOutcome:
        """Ask to cancel; retried, as cancelling twice is harmless."""
        call = self._request_call(request_id, "cancel")
        return self._cancel_outcome(call, await self._run(call))

    async def model_schema(self, model_id: str) -> dict[str, Any]:
        """The model's details: price and ``input_schema``."""
        return await self._run(self._schema_call(model_id))

    async def _run(self, call: _Call) -> dict[str, Any]:
        async def attempt() -> dict[str, Any]:
            return self._settle(await self._attempt(call))

        floor = self._retry_floor(call)

        async def sleep(seconds: float) -> None:
            await self._sleep(max(seconds, floor))

        return await aretrying(attempt, self.retry, sleep if floor else self._sleep, _final)

    async def _attempt(self, call: _Call) -> _Attempt:
        """The asyncio twin of :meth:`RunComfyClient._attempt`."""
        client = self._client()
        request = client.build_request(
            call.method,
            self.base_url + call.path,
            headers=self._headers(call),
            content=call.body,
            timeout=self._timeouts(),
        )
        deadline = time.monotonic() + self.timeout
        try:
            response = await client.send(request, stream=True, auth=None, follow_redirects=False)
        except httpx.HTTPError as exc:
            return self._transport_failure(call, exc, answered=None)
        try:
            if self._declared_too_large(response):
                return self._too_large(call, response.status_code)
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_RESPONSE_BYTES:
                    return self._too_large(call, response.status_code)
                self._deadline_check(deadline, request)
        except httpx.HTTPError as exc:
            return self._transport_failure(call, exc, answered=response.status_code)
        finally:
            await response.aclose()
        return self._interpret(call, response, bytes(body))
