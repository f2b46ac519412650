"""Token storage shared with the official `runcomfy` CLI, and the device-code login."""

from __future__ import annotations

import json
import os
import stat
from collections import deque
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx
import pytest

from skill import settings
from skill.errors import ApiServerError, AuthError, TransientError
from skill.execution import auth

TOKEN = "rc_live_Zm9vYmFyYmF6cXV4"


@pytest.fixture(autouse=True)
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "cfg" / "runcomfy"
    monkeypatch.setenv("RUNCOMFY_CONFIG_DIR", str(directory))
    monkeypatch.delenv("RUNCOMFY_TOKEN", raising=False)
    return directory


def _write_token_file(directory: Path, text: str, mode: int = 0o600) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "token.json"
    path.write_text(text)
    path.chmod(mode)
    return path


def test_not_signed_in(config_dir: Path) -> None:
    assert auth.load_token() is None
    with pytest.raises(AuthError) as err:
        auth.require_token()
    assert err.value.code == "not_signed_in" and err.value.exit_code == 77
    assert "kling3 login" in err.value.message and "RUNCOMFY_TOKEN" in err.value.message


def test_env_token_wins_and_is_trimmed(config_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write_token_file(config_dir, json.dumps({"access_token": "from-file"}))
    monkeypatch.setenv("RUNCOMFY_TOKEN", f"  {TOKEN}\n")
    assert auth.require_token() == TOKEN
    monkeypatch.setenv("RUNCOMFY_TOKEN", "   ")
    assert auth.load_token() == "from-file"


def test_save_writes_the_official_cli_format_privately(config_dir: Path) -> None:
    old = os.umask(0o022)
    try:
        path = auth.save_token(TOKEN, email="me@example.com")
    finally:
        os.umask(old)
    assert path == config_dir / "token.json"
    assert json.loads(path.read_text()) == {
        "access_token": TOKEN,
        "refresh_token": None,
        "expires_at": None,
        "user_email": "me@example.com",
    }
    assert path.read_text().startswith('{\n  "access_token"')
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(config_dir.stat().st_mode) == 0o700
    assert [p.name for p in config_dir.iterdir()] == ["token.json"]
    assert auth.load_token() == TOKEN and auth.token_file_warning() is None

    auth.save_token("second-token")
    assert auth.load_token() == "second-token"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    assert auth.delete_token() is True
    assert auth.load_token() is None
    assert auth.delete_token() is False


def test_token_readable_by_others_is_used_with_a_warning(config_dir: Path) -> None:
    path = _write_token_file(config_dir, json.dumps({"access_token": TOKEN}), 0o644)
    assert auth.load_token() == TOKEN
    warning = auth.token_file_warning()
    assert warning is not None and f"chmod 600 {path}" in warning and TOKEN not in warning
    path.chmod(0o600)
    assert auth.load_token() == TOKEN and auth.token_file_warning() is None


@pytest.mark.parametrize(
    "text",
    [f'{{"access_token": "{TOKEN}"', f'["{TOKEN}"]', '{"access_token": 12}'],
)
def test_broken_token_file_is_reported_without_its_content(config_dir: Path, text: str) -> None:
    _write_token_file(config_dir, text)
    with pytest.raises(AuthError) as err:
        auth.load_token()
    assert err.value.code == "token_file_invalid"
    assert TOKEN not in str(err.value) and TOKEN not in repr(err.value)
    assert err.value.__cause__ is None and err.value.__context__ is None
    assert auth.redact("unchanged, and no exception") == "unchanged, and no exception"


def test_redact(monkeypatch: pytest.MonkeyPatch) -> None:
    assert auth.redact(f"Authorization: Bearer {TOKEN}", TOKEN) == "Authorization: Bearer ***"
    assert auth.redact("nothing to hide") == "nothing to hide"
    monkeypatch.setenv("RUNCOMFY_TOKEN", TOKEN)
    assert auth.redact(f"{TOKEN}/{TOKEN}") == "***/***"


def test_redact_replaces_only_whole_occurrences_of_a_short_token() -> None:
    assert auth.redact("invalid or missing API token", "tok") == "invalid or missing API token"
    assert auth.redact("A tokyo street, tok-en, my_tok", "tok") == "A tokyo street, tok-en, my_tok"
    assert auth.redact("Bearer tok rejected; tok=tok.", "tok") == "Bearer *** rejected; ***=***."
    long = "rc_live_0123456789abcdef"
    assert auth.redact(f"x{long}y", long) == "x***y"  # a real token is never shielded by its neighbours


def test_redact_data_keeps_the_structure_whatever_the_token() -> None:
    doc = {"sound": True, "text": "true story", "null": None, "n": 1, "list": ["true", False], "true": "k"}
    assert auth.redact_data(doc, "true") == {
        "sound": True, "text": "*** story", "null": None, "n": 1, "list": ["***", False], "***": "k",
    }
    assert auth.redact_data({"a": None, "b": "null"}, "null") == {"a": None, "b": "***"}


class _LoginServer:
    """Serves /api/cli-auth/start and /api/cli-auth/poll from a script of answers."""

    def __init__(self, serve_http: Callable[[type[BaseHTTPRequestHandler]], str]) -> None:
        self.start: tuple[int, Any] = (
            200,
            {
                "device_code": "dev-123",
                "user_code": "ABCD-EFGH",
                "verify_url": "https://www.runcomfy.com/cli-auth?code=ABCD-EFGH",
                "expires_in": 600,
                "poll_interval": 2,
            },
        )
        self.polls: deque[tuple[int, Any]] = deque()
        self.received: list[tuple[str, Any]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"null")
                server.received.append((self.path, body))
                if self.path == "/api/cli-auth/start":
                    status, answer = server.start
                elif self.path == "/api/cli-auth/poll" and server.polls:
                    status, answer = (
                        server.polls.popleft() if len(server.polls) > 1 else server.polls[0]
                    )
                else:
                    status, answer = 404, {"error": "not found"}
                data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.base = serve_http(Handler) + "/"


@pytest.fixture
def server(serve_http: Callable[[type[BaseHTTPRequestHandler]], str]) -> _LoginServer:
    return _LoginServer(serve_http)


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(trust_env=False, timeout=5) as c:
        yield c


def _login(
    server: _LoginServer, client: httpx.Client, **kw: Any
) -> tuple[str, list[float], list[tuple[str, str]]]:
    sleeps: list[float] = []
    shown: list[tuple[str, str]] = []
    token = auth.device_login(
        server.base,
        client=client,
        on_code=lambda code, url: shown.append((code, url)),
        sleep=sleeps.append,
        **kw,
    )
    return token, sleeps, shown


def test_device_login_polls_until_authorized(server: _LoginServer, client: httpx.Client) -> None:
    server.polls.extend(
        [
            (200, {"status": "pending"}),
            (503, {"error": "try later"}),
            (200, {"status": "pending"}),
            (200, {"status": "authorized", "access_token": TOKEN}),
        ]
    )
    token, sleeps, shown = _login(server, client)
    assert token == TOKEN
    assert shown == [("ABCD-EFGH", "https://www.runcomfy.com/cli-auth?code=ABCD-EFGH")]
    assert sleeps == [2.0, 2.0, 2.0, 2.0]
    assert [path for path, _ in server.received] == ["/api/cli-auth/start"] + [
        "/api/cli-auth/poll"
    ] * 4
    assert all(body == {"device_code": "dev-123"} for _, body in server.received[1:])


@pytest.mark.parametrize(
    ("answer", "code"),
    [
        ((200, {"status": "denied"}), "login_denied"),
        ((200, {"status": "expired"}), "login_expired"),
        ((410, {"status": "denied"}), "login_denied"),
        ((410, {"status": "expired"}), "login_expired"),
        ((410, b""), "login_expired"),
    ],
)
def test_device_login_denied_or_expired(
    server: _LoginServer, client: httpx.Client, answer: tuple[int, Any], code: str
) -> None:
    server.polls.extend([(200, {"status": "pending"}), answer])
    with pytest.raises(AuthError) as err:
        _login(server, client)
    assert err.value.code == code and err.value.exit_code == 77


def test_device_login_times_out(server: _LoginServer, client: httpx.Client) -> None:
    server.polls.append((200, {"status": "pending"}))
    with pytest.raises(TransientError) as err:
        _login(server, client, timeout=7)
    assert err.value.code == "login_timeout" and err.value.exit_code == 75


def test_device_login_start_failure(server: _LoginServer, client: httpx.Client) -> None:
    server.start = (500, {"error": "down"})
    with pytest.raises(ApiServerError) as err:
        _login(server, client)
    assert err.value.status == 500
    server.start = (200, {"user_code": "X"})
    with pytest.raises(ApiServerError) as err:
        _login(server, client)
    assert err.value.code == "login_bad_response"


def test_device_login_unreachable(client: httpx.Client) -> None:
    with pytest.raises(TransientError) as err:
        auth.device_login(
            "http://127.0.0.1:9", client=client, on_code=lambda c, u: None, sleep=lambda s: None
        )
    assert err.value.code == "network_error"


def test_config_dir_lookup_matches_the_official_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNCOMFY_CONFIG_DIR", str(tmp_path / "explicit"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert settings.runcomfy_config_dir() == tmp_path / "explicit"
    assert auth.token_path() == tmp_path / "explicit" / "token.json"
    monkeypatch.setenv("RUNCOMFY_CONFIG_DIR", " ")
    assert settings.runcomfy_config_dir() == tmp_path / "xdg" / "runcomfy"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    assert settings.runcomfy_config_dir() == tmp_path / "home" / ".config" / "runcomfy"


def test_base_urls_are_trimmed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RUNCOMFY_MODEL_API_BASE", raising=False)
    monkeypatch.delenv("RUNCOMFY_WEB_BASE", raising=False)
    assert settings.api_base() == "https://model-api.runcomfy.net/v1"
    assert settings.web_base() == "https://www.runcomfy.com"
    monkeypatch.setenv("RUNCOMFY_MODEL_API_BASE", " http://127.0.0.1:8123/v1/ ")
    monkeypatch.setenv("RUNCOMFY_WEB_BASE", "http://127.0.0.1:8124/")
    assert settings.api_base() == "http://127.0.0.1:8123/v1"
    assert settings.web_base() == "http://127.0.0.1:8124"
