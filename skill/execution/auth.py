"""The API token: where it is read from, how it is stored, and the device-code sign-in.

The storage is the official ``runcomfy`` CLI's (``RUNCOMFY_TOKEN``, else
``<config_dir>/token.json``), so signing in with either tool signs in both. The token never
appears in an exception message, a repr or the journal; :func:`redact` is the one helper other
modules use to scrub text that might carry it.

httpx is imported only inside :func:`device_login`: planning and pricing import this module
(through the journal) and must stay fast and offline.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skill import settings
from skill.errors import (
    ApiClientError,
    ApiServerError,
    AuthError,
    ConfigError,
    InputError,
    Kling3Error,
    TransientError,
)
from skill.settings import ensure_private_dir, runcomfy_config_dir

if TYPE_CHECKING:
    import httpx

__all__ = [
    "NOT_SIGNED_IN",
    "delete_token",
    "device_login",
    "load_token",
    "redact",
    "redact_data",
    "require_token",
    "save_token",
    "token_file_warning",
    "token_path",
]

NOT_SIGNED_IN = "not signed in: run `kling3 login` or set RUNCOMFY_TOKEN"
_MAX_BODY_CHARS = 300
_DEFAULT_POLL_INTERVAL = 5.0

_last_warning: str | None = None


def token_path() -> Path:
    """``<config_dir>/token.json``, the file the official CLI reads and writes."""
    return runcomfy_config_dir() / "token.json"


def _candidate_files() -> list[Path]:
    files = [token_path()]
    if sys.platform == "darwin":
        files.append(Path.home() / "Library" / "Application Support" / "runcomfy" / "token.json")
    return files


def _read_token_file(path: Path) -> tuple[str | None, str | None]:
    """``(token, permission warning)`` from one file; ``(None, None)`` when there is none."""
    try:
        raw = path.read_bytes()
        mode = path.stat().st_mode
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        raise AuthError(
            f"cannot read the token file {path}: {exc.strerror or type(exc).__name__}",
            code="token_file_unreadable",
        ) from None
    try:
        data = json.loads(raw)
    except ValueError:
        data = None
    token = data.get("access_token") if isinstance(data, dict) else None
    if not isinstance(data, dict) or not isinstance(token, (str, type(None))):
        raise AuthError(
            f"the token file {path} is not valid: run `kling3 login` again",
            code="token_file_invalid",
        )
    token = (token or "").strip()
    if not token:
        return None, None
    warning = None
    if os.name == "posix" and mode & 0o077:
        warning = (
            f"token file {path} is readable by other users "
            f"(mode {mode & 0o777:o}); run: chmod 600 {path}"
        )
    return token, warning


def _find_token() -> tuple[str | None, str | None]:
    env = settings.token_from_env()
    if env:
        return env, None
    for path in _candidate_files():
        token, warning = _read_token_file(path)
        if token:
            return token, warning
    return None, None


def load_token() -> str | None:
    """The token to send, or ``None`` when not signed in.

    A token file other users can read is still used (refusing would lock the user out of
    the CLI they signed in with), but :func:`token_file_warning` then says so.
    """
    global _last_warning
    token, _last_warning = _find_token()
    return token


def token_file_warning() -> str | None:
    """The permission warning from the last :func:`load_token`, for the CLI to print on stderr."""
    return _last_warning


def require_token() -> str:
    """The token, or :class:`AuthError` telling the user how to sign in."""
    token = load_token()
    if token is None:
        raise AuthError(NOT_SIGNED_IN, code="not_signed_in")
    return token


def save_token(token: str, *, email: str | None = None) -> Path:
    """Store ``token`` in the official CLI's format and return the file's path.

    The temporary file is private from its creation and replaced atomically, so a crash
    leaves the old token or the new one, and no other user ever sees it.
    """
    token = token.strip()
    if not token:
        raise InputError("the token is empty", code="invalid_token", field="token")
    path = token_path()
    try:
        return _write_private(path, token, email)
    except OSError as exc:
        raise ConfigError(
            f"cannot write the token file {path}: {exc.strerror or type(exc).__name__}",
            code="token_file_unwritable",
        ) from None


def _write_private(path: Path, token: str, email: str | None) -> Path:
    """Write the token file atomically and ``0600`` from the first byte (``O_EXCL`` temporary,
    fsync, rename), so no other user can ever read it and a crash never leaves half a file."""
    ensure_private_dir(path.parent)
    body = {"access_token": token, "refresh_token": None, "expires_at": None, "user_email": email}
    text = json.dumps(body, indent=2) + "\n"
    tmp = path.with_name(path.name + ".tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(tmp, flags, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return path


def delete_token() -> bool:
    """Remove the token file (sign out locally); ``False`` when there was none.

    ``RUNCOMFY_TOKEN`` is not touched: the environment belongs to the caller.
    """
    try:
        token_path().unlink()
    except FileNotFoundError:
        return False
    return True


LONG_TOKEN_CHARS = 16
"""From this length on a token is replaced wherever it appears, even glued to other characters:
such a string cannot occur by chance, and a real token's neighbours must not shield a leak."""
_TOKEN_CHAR = r"A-Za-z0-9_\-"


def _current_token() -> str | None:
    try:
        return _find_token()[0]
    except Kling3Error:
        return None


def redact(text: str, token: str | None = None) -> str:
    """``text`` (free text from the outside world: an API message, an exception) with every
    whole occurrence of ``token`` (by default the current one) replaced by ``***``.

    Whole: not inside a longer word, so a short token ``tok`` leaves "token" and "a tokyo
    street" alone; a token of :data:`LONG_TOKEN_CHARS` or more is replaced wherever it appears.
    Never raises: it runs on error paths, where a broken token file must not hide the original
    error. Structured data goes through :func:`redact_data` instead, so it stays valid.
    """
    token = token if token is not None else _current_token()
    token = token.strip() if token else None
    if not token or token not in text:
        return text
    if len(token) >= LONG_TOKEN_CHARS:
        return text.replace(token, "***")
    return re.sub(rf"(?<![{_TOKEN_CHAR}]){re.escape(token)}(?![{_TOKEN_CHAR}])", "***", text)


def redact_data(value: Any, token: str | None = None) -> Any:
    """``value`` (JSON-like data) with :func:`redact` applied to every string in it, keys
    included: the structure is never touched, so a token that happens to read ``true`` or
    ``null`` cannot corrupt a stored document."""
    token = token if token is not None else _current_token()
    if not token:
        return value
    if isinstance(value, str):
        return redact(value, token)
    if isinstance(value, dict):
        return {redact_data(k, token) if isinstance(k, str) else k: redact_data(v, token) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_data(v, token) for v in value]
    return value


def _body_excerpt(response: httpx.Response) -> str:
    try:
        text = response.text
    except Exception:
        return ""
    return redact(text[:_MAX_BODY_CHARS])


def _status_error(response: httpx.Response, what: str) -> Kling3Error:
    status = response.status_code
    message = f"{what} failed with HTTP {status}: {_body_excerpt(response)}".rstrip(": ")
    if status in (401, 403):
        return AuthError(message, code="login_rejected")
    if status in (408, 429):
        return TransientError(message, code="rate_limited" if status == 429 else "network_error")
    if status >= 500:
        return ApiServerError(message, status=status)
    return ApiClientError(message, status=status)


def _json_object(response: httpx.Response, what: str) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise ApiServerError(
            f"{what} answered with something that is not a JSON object",
            code="login_bad_response",
            status=response.status_code,
        )
    return data


def device_login(
    web_base: str,
    *,
    client: httpx.Client,
    on_code: Callable[[str, str], None],
    sleep: Callable[[float], None] = time.sleep,
    timeout: float = 600,
) -> str:
    """Sign in with the device-code flow and return the new token (the caller saves it).

    ``on_code(user_code, verify_url)`` shows the user where to approve. Polling tolerates
    network errors, 5xx and 429 until ``timeout``, because the user may take minutes to approve
    and a blip should not waste their approval; a denial or expiry ends it at once.
    ``sleep`` is injectable so tests run without waiting; elapsed time counts the requested
    sleeps as well as the wall clock.
    """
    base = web_base.strip().rstrip("/")
    device_code, user_code, verify_url, interval = _start_login(client, base)
    on_code(user_code, verify_url)
    return _poll_login(client, base, device_code, interval, sleep, timeout)


def _start_login(client: httpx.Client, base: str) -> tuple[str, str, str, float]:
    """Ask for a device code: ``(device_code, user_code, verify_url, poll interval)``; the
    interval the server asks for is kept within 1-60 s."""
    import httpx

    try:
        started = client.post(f"{base}/api/cli-auth/start", json={})
    except httpx.HTTPError as exc:
        raise TransientError(
            f"cannot reach {base} to start the login: {type(exc).__name__}", code="network_error"
        ) from None
    if not started.is_success:
        raise _status_error(started, "starting the login")
    start = _json_object(started, "the login start")
    device_code = start.get("device_code")
    user_code = start.get("user_code")
    verify_url = start.get("verify_url")
    if not all(isinstance(v, str) and v for v in (device_code, user_code, verify_url)):
        raise ApiServerError(
            "the login start answer lacks device_code, user_code or verify_url",
            code="login_bad_response",
        )
    assert isinstance(device_code, str) and isinstance(user_code, str)
    assert isinstance(verify_url, str)
    interval = start.get("poll_interval")
    if isinstance(interval, bool) or not isinstance(interval, (int, float)) or interval <= 0:
        interval = _DEFAULT_POLL_INTERVAL
    return device_code, user_code, verify_url, float(min(max(interval, 1.0), 60.0))


def _poll_login(
    client: httpx.Client,
    base: str,
    device_code: str,
    interval: float,
    sleep: Callable[[float], None],
    timeout: float,
) -> str:
    """Poll until the user approves (the token), denies, or lets the code expire; passing
    failures only count towards ``timeout``, and ``slow_down`` stretches the interval."""
    import httpx

    clock_start = time.monotonic()
    slept = 0.0
    last_problem = "the login was not approved in time"
    while True:
        elapsed = max(time.monotonic() - clock_start, slept)
        remaining = timeout - elapsed
        if remaining <= 0:
            raise TransientError(
                f"login timed out after {timeout:g} s: {last_problem}", code="login_timeout"
            )
        pause = min(interval, remaining)
        sleep(pause)
        slept += pause
        try:
            polled = client.post(f"{base}/api/cli-auth/poll", json={"device_code": device_code})
        except httpx.HTTPError as exc:
            last_problem = f"last poll failed: {type(exc).__name__}"
            continue
        if polled.status_code == 429 or polled.status_code >= 500:
            last_problem = f"last poll answered HTTP {polled.status_code}"
            continue
        status, token = _poll_answer(polled)
        if token is not None:
            return token
        if status in ("pending", "slow_down"):
            if status == "slow_down":
                interval = min(interval + 5.0, 60.0)
            last_problem = "the login was not approved in time"
            continue
        raise _login_ended(status)


def _poll_answer(polled: httpx.Response) -> tuple[object, str | None]:
    """A poll answer's ``(status, token)``; the token only once authorized."""
    if polled.status_code == 410:
        return _gone_status(polled), None
    if not polled.is_success:
        raise _status_error(polled, "polling the login")
    body = _json_object(polled, "the login poll")
    status = body.get("status")
    if status != "authorized":
        return status, None
    token = body.get("access_token")
    if not isinstance(token, str) or not token.strip():
        raise ApiServerError(
            "the login was authorized but no access_token came back",
            code="login_bad_response",
        )
    return status, token.strip()


def _login_ended(status: object) -> Kling3Error:
    """The error for a poll status that ends the login without a token."""
    if status == "denied":
        return AuthError("the login was denied in the browser", code="login_denied")
    if status == "expired":
        return AuthError(
            "the login code expired before it was approved: run `kling3 login` again",
            code="login_expired",
        )
    return ApiServerError(
        f"the login poll answered an unknown status {str(status)[:40]!r}",
        code="login_bad_response",
    )


def _gone_status(response: httpx.Response) -> str:
    """HTTP 410 means denied or expired; the body says which when it can."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict) and data.get("status") == "denied":
        return "denied"
    return "expired"
