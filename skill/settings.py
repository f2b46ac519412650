"""Every environment variable the package reads, in one place.

Each setting is read when its helper is called, not at import, so tests and long-lived hosts
(the MCP server) see changes without reloading. Nothing here touches the network or imports
httpx: planning and pricing must work offline and fast.

=============================  ==============================================================
``KLING3_HOME``                state directory (job journal); default: the platform state dir
``KLING3_JOURNAL_URL``         ``postgresql://...``: a team journal on a server instead of the file
``KLING3_ACTOR``               the person or agent recorded as submitting each job (``spend --by actor``)
``KLING3_OUTPUT_DIR``          where the agent tools save videos; default: the user's videos folder/kling3
``KLING3_DAILY_CAP_USD``       refuse submits once today's (UTC) estimated spend would exceed it
``KLING3_MAX_DOWNLOAD_BYTES``  refuse to save an output file larger than this (default 2 GiB)
``KLING3_TEMPLATES``           extra prompt-template directory
``KLING3_CACHE``               ``off`` (or 0/no/false): keep no start-up cache (compiled rules, vocabulary,
                               templates); ``KLING3_PROMPT_CACHE`` is the older name
``KLING3_RULES``               another ``routing_rules.yaml`` for the CLI (``--rules``)
``RUNCOMFY_TOKEN``             API token; wins over the token file (read by :mod:`skill.execution.auth`)
``RUNCOMFY_CONFIG_DIR``        where ``token.json`` lives, shared with the official ``runcomfy`` CLI
``RUNCOMFY_MODEL_API_BASE``    Model API base URL, including ``/v1`` (point it at an emulator)
``RUNCOMFY_WEB_BASE``          website base used by ``kling3 login``
``SSL_CERT_FILE``, ``SSL_CERT_DIR``  CA bundle for the API and downloads (corporate proxies)
=============================  ==============================================================

The ``RUNCOMFY_*`` names and defaults are the official CLI's, so one sign-in and one set of
overrides serve both tools.
"""

from __future__ import annotations

import contextlib
import math
import os
from pathlib import Path

from skill.errors import ConfigError

__all__ = [
    "API_BASE_VAR",
    "DEFAULT_API_BASE",
    "DEFAULT_DOWNLOAD_CAP_BYTES",
    "DEFAULT_WEB_BASE",
    "ENVIRONMENT",
    "TOKEN_VAR",
    "actor",
    "api_base",
    "ca_bundle",
    "cache_enabled",
    "daily_cap_usd",
    "download_cap_bytes",
    "ensure_private_dir",
    "journal_path",
    "journal_url",
    "kling3_home",
    "plain_terminal",
    "prompt_cache_enabled",
    "rules_path",
    "runcomfy_config_dir",
    "templates_dir",
    "token_from_env",
    "use_journal_url",
    "videos_dir",
    "web_base",
]

DEFAULT_API_BASE = "https://model-api.runcomfy.net/v1"
DEFAULT_WEB_BASE = "https://www.runcomfy.com"
DEFAULT_DOWNLOAD_CAP_BYTES = 2 * 1024**3
API_BASE_VAR = "RUNCOMFY_MODEL_API_BASE"
"""The Model API base; ``kling3 emulator`` prints it in the ``export`` lines a user pastes."""
TOKEN_VAR = "RUNCOMFY_TOKEN"
"""The API token variable, which wins over the token file."""

ENVIRONMENT: tuple[tuple[str, str], ...] = (
    ("KLING3_HOME", "state directory holding the job journal (jobs.sqlite3)"),
    ("KLING3_JOURNAL_URL", "postgresql://user:password@host/db: one journal and daily cap shared by a team (--journal)"),
    ("KLING3_ACTOR", "who submits, recorded on each job beside host and OS user (spend --by actor)"),
    ("KLING3_OUTPUT_DIR", "where the MCP server and function-calling tools save videos (default: the videos folder/kling3)"),
    ("KLING3_DAILY_CAP_USD", "refuse submits once today's (UTC) estimated spend would exceed it"),
    ("KLING3_MAX_DOWNLOAD_BYTES", "largest output file to save, in bytes (default 2 GiB)"),
    ("KLING3_TEMPLATES", "extra prompt-template directory"),
    ("KLING3_CACHE", "off: derive the rules, vocabulary and templates afresh in each process, keep nothing on disk"),
    ("KLING3_PROMPT_CACHE", "the older name of KLING3_CACHE (read when KLING3_CACHE is unset)"),
    ("KLING3_RULES", "another routing_rules.yaml for the CLI (--rules)"),
    (TOKEN_VAR, "API token; overrides the token file"),
    ("RUNCOMFY_CONFIG_DIR", "directory of token.json, shared with the runcomfy CLI"),
    ("XDG_CONFIG_HOME", "where RUNCOMFY_CONFIG_DIR defaults to (XDG_CONFIG_HOME/runcomfy)"),
    (API_BASE_VAR, f"Model API base URL (default {DEFAULT_API_BASE})"),
    ("RUNCOMFY_WEB_BASE", f"website base for login (default {DEFAULT_WEB_BASE})"),
    ("SSL_CERT_FILE", "CA bundle file for HTTPS (default: the system's)"),
    ("SSL_CERT_DIR", "CA certificate directory for HTTPS"),
    ("NO_COLOR", "any value: no colour in the terminal output (https://no-color.org)"),
    ("TERM", "dumb: no colour in the terminal output"),
)
"""(name, description) pairs, for ``--help`` and the docs."""


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def _base_url(name: str, default: str) -> str:
    value = _env(name)
    return value.rstrip("/") if value else default


def _invalid(name: str, raw: str, expected: str) -> ConfigError:
    return ConfigError(
        f"{name}={raw!r} is not valid: expected {expected}",
        code="invalid_setting",
        details={"setting": name, "value": raw},
    )


def kling3_home() -> Path:
    """The state directory: ``KLING3_HOME``, else the platform's per-user state dir."""
    value = _env("KLING3_HOME")
    if value:
        return Path(value).expanduser()
    import platformdirs  # only when needed: the plan path with KLING3_HOME set never is

    return platformdirs.user_state_path("kling3", appauthor=False)


def videos_dir() -> Path:
    """Where the agent tools save a video when the call names no folder: ``KLING3_OUTPUT_DIR``,
    else ``kling3/`` in the user's videos folder (``~/Videos/kling3``, or what the platform says).

    Never the working directory: an MCP host starts its servers wherever it likes (``/``, the
    user's home, whatever repository is open), and a video does not belong in any of those.
    """
    value = _env("KLING3_OUTPUT_DIR")
    if value:
        return Path(value).expanduser()
    import platformdirs

    return platformdirs.user_videos_path() / "kling3"


def journal_path() -> Path:
    """Where the job journal lives; every process of one user shares it."""
    return kling3_home() / "jobs.sqlite3"


_JOURNAL_URL_FLAG: list[str] = []


def use_journal_url(url: str | None) -> None:
    """``--journal URL`` for the rest of this command: wins over ``KLING3_JOURNAL_URL``
    (``None`` drops it again)."""
    _JOURNAL_URL_FLAG[:] = [url] if url else []


def journal_url() -> str | None:
    """``--journal`` or ``KLING3_JOURNAL_URL``: a ``postgresql://`` URL (or a SQLite file path);
    ``None``: the SQLite file :func:`journal_path`."""
    return _JOURNAL_URL_FLAG[0] if _JOURNAL_URL_FLAG else _env("KLING3_JOURNAL_URL")


def actor() -> str | None:
    """``KLING3_ACTOR``: the person or agent a team names as submitting (else only host and user)."""
    return _env("KLING3_ACTOR")


def api_base() -> str:
    """Model API base, ``/v1`` included, without a trailing slash (same rule as the CLI)."""
    return _base_url(API_BASE_VAR, DEFAULT_API_BASE)


def web_base() -> str:
    """Website base for the device-code login, without a trailing slash."""
    return _base_url("RUNCOMFY_WEB_BASE", DEFAULT_WEB_BASE)


def runcomfy_config_dir() -> Path:
    """The official CLI's config dir, so ``runcomfy login`` and ``kling3 login`` share a token.

    Same lookup on every OS, as the CLI does: ``RUNCOMFY_CONFIG_DIR``, then
    ``$XDG_CONFIG_HOME/runcomfy``, then ``~/.config/runcomfy``.
    """
    value = _env("RUNCOMFY_CONFIG_DIR")
    if value:
        return Path(value).expanduser()
    xdg = _env("XDG_CONFIG_HOME")
    if xdg:
        return Path(xdg).expanduser() / "runcomfy"
    return Path.home() / ".config" / "runcomfy"


def daily_cap_usd() -> float | None:
    """``KLING3_DAILY_CAP_USD`` as dollars, or ``None`` when unset.

    A malformed cap raises instead of being ignored: a typo must not silently remove a
    spending limit the user believes is in force.
    """
    raw = _env("KLING3_DAILY_CAP_USD")
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise _invalid(
            "KLING3_DAILY_CAP_USD", raw, "a positive number of US dollars, e.g. 5 or 12.50"
        )
    return value


def download_cap_bytes() -> int:
    """``KLING3_MAX_DOWNLOAD_BYTES`` (default 2 GiB, the official CLI's limit)."""
    raw = _env("KLING3_MAX_DOWNLOAD_BYTES")
    if raw is None:
        return DEFAULT_DOWNLOAD_CAP_BYTES
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise _invalid("KLING3_MAX_DOWNLOAD_BYTES", raw, "a positive whole number of bytes")
    return value


def templates_dir() -> Path | None:
    """``KLING3_TEMPLATES``: an extra prompt-template directory, or ``None``."""
    value = _env("KLING3_TEMPLATES")
    return Path(value).expanduser() if value else None


def cache_enabled() -> bool:
    """``KLING3_CACHE``: False for ``off``/``0``/``no``/``false``; the start-up cache is on by default.

    ``KLING3_PROMPT_CACHE`` (its older name, from when only the prompt vocabulary was cached) is
    read when ``KLING3_CACHE`` is unset.
    """
    value = _env("KLING3_CACHE") or _env("KLING3_PROMPT_CACHE")
    return value is None or value.lower() not in ("off", "0", "no", "false")


def prompt_cache_enabled() -> bool:
    """The older name of :func:`cache_enabled`."""
    return cache_enabled()


def rules_path() -> str | None:
    """``KLING3_RULES``: the CLI's default for ``--rules`` (another ``routing_rules.yaml``)."""
    return _env("KLING3_RULES")


def token_from_env() -> str | None:
    """``RUNCOMFY_TOKEN``: the API token, which wins over the token file."""
    return _env(TOKEN_VAR)


def ca_bundle() -> tuple[str | None, str | None]:
    """``SSL_CERT_FILE`` and ``SSL_CERT_DIR`` as read by OpenSSL (unset: the system's CAs)."""
    return os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")


def plain_terminal() -> bool:
    """``NO_COLOR`` set (to anything) or ``TERM=dumb``: write no colour (rich checks NO_COLOR too)."""
    return _env("NO_COLOR") is not None or _env("TERM") == "dumb"


def ensure_private_dir(path: Path) -> None:
    """Create ``path`` and any missing parents as 0700; leave existing directories alone.

    Tokens and the journal (prompts, costs) are private to the user, but chmod-ing a directory
    the user already owns, like ``~/.config``, would be rude, so only new ones are restricted.
    """
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):
            directory.mkdir(mode=0o700)
