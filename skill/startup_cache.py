"""The start-up cache: what a process derives from the data files, kept on disk between processes.

Parsing ``routing_rules.yaml`` and compiling its patterns, the prompt vocabulary and the Jinja
templates costs more than a whole plan. Each derived thing is stored once, under a key made of the
bytes it was derived from, the source of the code that derived it and the versions of everything
that shaped it (this package, Python, the libraries, this format); a later process with the same
key loads it in C instead of deriving it again.

Rules of the store, so that a cache can only ever be as good as deriving afresh:

- a file is a magic, a SHA-256 of its payload, then the payload: a damaged or truncated file,
  or one that does not load, is a miss (rebuilt and rewritten), never an error;
- files are written to a temporary name and renamed into place, so readers never see half;
- they live in ``KLING3_HOME/cache``; when that cannot be written, in a per-user directory
  (the platform cache dir, else ``<tmp>/kling3-cache-<uid>``, 0700 and owned by the user);
  files prebuilt into the wheel (``skill/data/cache``) are read when neither holds the key;
- ``KLING3_CACHE=off`` (alias ``KLING3_PROMPT_CACHE=off``) derives everything afresh and
  reads and writes nothing.

Payloads are pickles whose regular expressions are stored as what ``re`` hands ``_sre.compile``,
so loading rebuilds them without parsing. A pickle is code, like the ``.pyc`` files next to the
package: it is only read from the package itself or from directories private to the user.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import hashlib
import io
import os
import pickle
import re
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from skill import settings
from skill._version import __version__

__all__ = [
    "FORMAT",
    "PREBUILT_DIR",
    "cache_dirs",
    "compile_pattern",
    "dumps",
    "enabled",
    "entry_name",
    "key",
    "lib_versions",
    "load",
    "loads",
    "memo",
    "pattern_from",
    "pattern_ingredients",
    "prebuilding",
    "recording",
    "store",
    "writable_dir",
]

T = TypeVar("T")

FORMAT = 1
"""Bump when the layout of a stored payload changes."""

_MAGIC = b"K3SC\x01"
_DIGEST = 32

PREBUILT_DIR = Path(__file__).resolve().parent / "data" / "cache"
"""Entries built with the wheel (read only)."""

_PREBUILD: contextvars.ContextVar[Path | None] = contextvars.ContextVar("_PREBUILD", default=None)
_RECORDER: contextvars.ContextVar[dict[tuple[str, int], tuple[Any, ...]] | None] = contextvars.ContextVar(
    "_RECORDER", default=None
)


def enabled() -> bool:
    """False when ``KLING3_CACHE`` (or the older ``KLING3_PROMPT_CACHE``) says ``off``."""
    return settings.cache_enabled()


# -- keys ----------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=16)
def _lib_version(name: str) -> str:
    """A library's version, read without importing it when it is not imported yet."""
    mod = sys.modules.get(name)
    found = getattr(mod, "__version__", None) if mod is not None else None
    if name == "pydantic":
        import pydantic_core
        from pydantic.version import VERSION

        return f"{VERSION}/{pydantic_core.__version__}"
    if isinstance(found, str):
        return found
    import importlib.util

    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        spec = None
    origin = getattr(spec, "origin", None)
    if not origin:
        return "absent"
    try:
        text = Path(origin).read_text(encoding="utf-8", errors="replace")
        st = os.stat(origin)
    except OSError:
        return "unreadable"
    m = re.search(r"""^__version__\s*=\s*['"]([^'"]+)['"]""", text, re.MULTILINE)
    return m.group(1) if m else f"{origin}:{st.st_size}:{st.st_mtime_ns}"


def lib_versions(libs: Iterable[str]) -> str:
    """``name=version`` of each library, for a key."""
    return ";".join(f"{n}={_lib_version(n)}" for n in sorted(libs))


@functools.lru_cache(maxsize=32)
def _source_digest(files: tuple[str, ...]) -> bytes:
    digest = hashlib.sha256()
    for name in files:
        try:
            with open(name, "rb") as fh:
                digest.update(fh.read())
        except OSError:  # pragma: no cover - no source installed: versions alone key it
            digest.update(b"?" + name.encode())
    return digest.digest()


def key(*parts: bytes | str, code: Iterable[str] = (), libs: Iterable[str] = ()) -> str:
    """The key of a derived thing: its input bytes, the source files of the ``code`` that derives
    it (module ``__file__`` paths), the ``libs`` that shape it, and this package and Python."""
    h = hashlib.sha256()
    for part in parts:
        b = part.encode("utf-8", "surrogatepass") if isinstance(part, str) else part
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    h.update(_source_digest(tuple(code)))
    h.update(_source_digest((__file__,)))
    h.update(f"\0{__version__}\0{sys.version}\0{sys.implementation.cache_tag}\0{FORMAT}\0".encode())
    h.update(lib_versions(libs).encode())
    return h.hexdigest()


def entry_name(kind: str, k: str) -> str:
    return f"{kind}-{k[:40]}.k3c"


# -- where entries live --------------------------------------------------------------------------


def _private_dir(path: Path) -> bool:
    """``path`` exists (or was made) as a directory of this user's that nobody else can write."""
    try:
        settings.ensure_private_dir(path)
        st = os.lstat(path)
    except OSError:
        return False
    import stat

    if not stat.S_ISDIR(st.st_mode):
        return False
    getuid = getattr(os, "getuid", None)
    if getuid is not None and st.st_uid != getuid():
        return False
    return not (st.st_mode & 0o022) and os.access(path, os.W_OK | os.X_OK)


def _fallback_dirs() -> list[Path]:
    import platformdirs

    uid = getattr(os, "getuid", lambda: os.getpid())()
    return [
        platformdirs.user_cache_path("kling3", appauthor=False) / "startup",
        Path(tempfile.gettempdir()) / f"kling3-cache-{uid}",
    ]


def _home_dir() -> Path:
    return settings.kling3_home() / "cache"


def cache_dirs() -> list[Path]:
    """Where entries are looked for, in order (the prebuilt directory last)."""
    return [_home_dir(), *_fallback_dirs(), PREBUILT_DIR]


def writable_dir() -> Path | None:
    """The first directory an entry can be written to: ``KLING3_HOME/cache``, else a per-user one."""
    prebuilt = _PREBUILD.get()
    if prebuilt is not None:
        return prebuilt
    for d in (_home_dir(), *_fallback_dirs()):
        if _private_dir(d):
            return d
    return None


# -- regular expressions as _sre ingredients -------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _internals() -> tuple[Any, Any, Any] | None:
    from skill.textmatch import regex_internals

    got = regex_internals()
    return None if got is None else (got[0], got[1], got[3])


def pattern_ingredients(pattern: str, flags: int = 0, tree: Any = None) -> tuple[Any, ...] | None:
    """What ``re`` passes ``_sre.compile`` for ``pattern`` (None when this Python's ``re`` is unfamiliar).

    Raises ``re.error`` for a bad pattern, as ``re.compile`` would.
    """
    internals = _internals()
    if internals is None:  # pragma: no cover
        return None
    parser, compiler, _sre = internals
    flags = int(flags)
    if tree is None:
        tree = parser.parse(pattern, flags)
    try:
        code = compiler._code(tree, flags)  # as re._compiler.compile does it
        groupindex = dict(tree.state.groupdict)
        indexgroup: list[str | None] = [None] * tree.state.groups
        for name, i in groupindex.items():
            indexgroup[i] = name
        return (int(flags | tree.state.flags), [int(x) for x in code], tree.state.groups - 1, groupindex, tuple(indexgroup))
    except Exception:  # pragma: no cover - unfamiliar internals: the public way
        return None


def pattern_from(pattern: str, ingredients: Any) -> re.Pattern[str] | None:
    """The pattern rebuilt from stored ingredients, or None when this ``_sre`` refuses them."""
    internals = _internals()
    if internals is None or not (isinstance(ingredients, tuple) and len(ingredients) == 5):
        return None
    try:
        rx: re.Pattern[str] = internals[2].compile(pattern, *ingredients)
    except Exception:
        return None
    return rx


def compile_pattern(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """``re.compile``; while a cached thing is being built, its ingredients are kept for the file."""
    recorder = _RECORDER.get()
    if recorder is None:
        return re.compile(pattern, flags)
    got = pattern_ingredients(pattern, flags)
    rx = pattern_from(pattern, got) if got is not None else None
    if rx is None or got is None:
        return re.compile(pattern, flags)
    recorder[(pattern, rx.flags)] = got
    return rx


@contextlib.contextmanager
def recording() -> Iterator[dict[tuple[str, int], tuple[Any, ...]]]:
    """Keep the ingredients of every :func:`compile_pattern` inside the block (for :func:`dumps`)."""
    outer = _RECORDER.get()
    book: dict[tuple[str, int], tuple[Any, ...]] = {} if outer is None else outer
    token = _RECORDER.set(book)
    try:
        yield book
    finally:
        _RECORDER.reset(token)


def _rebuild_lru(maxsize: int | None, typed: bool, fn: Callable[..., Any]) -> Any:
    return functools.lru_cache(maxsize=maxsize, typed=typed)(fn)


class _Pickler(pickle.Pickler):
    """Stores a pattern as its ``_sre`` ingredients and an ``lru_cache`` as its function (empty)."""

    def __init__(self, fh: io.BytesIO, book: dict[tuple[str, int], tuple[Any, ...]]) -> None:
        super().__init__(fh, protocol=pickle.HIGHEST_PROTOCOL)
        self.book = book

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, re.Pattern) and isinstance(obj.pattern, str):
            got = self.book.get((obj.pattern, obj.flags))
            if got is None:
                with contextlib.suppress(re.error):
                    got = pattern_ingredients(obj.pattern, obj.flags & ~re.UNICODE)
                if got is None or got[0] != obj.flags:
                    return NotImplemented
            internals = _internals()
            if internals is None:  # pragma: no cover
                return NotImplemented
            return internals[2].compile, (obj.pattern, *got)
        if isinstance(obj, functools._lru_cache_wrapper):
            params = obj.cache_parameters()
            return _rebuild_lru, (params["maxsize"], params["typed"], obj.__wrapped__)
        return NotImplemented


def dumps(value: Any, book: dict[tuple[str, int], tuple[Any, ...]] | None = None) -> bytes:
    buf = io.BytesIO()
    _Pickler(buf, book or {}).dump(value)
    payload = buf.getvalue()
    return _MAGIC + hashlib.sha256(payload).digest() + payload


def loads(blob: bytes) -> Any:
    """The stored value; raises ``ValueError`` for a file that is not intact."""
    head = len(_MAGIC)
    if blob[:head] != _MAGIC or len(blob) < head + _DIGEST:
        raise ValueError("not a start-up cache entry")
    digest, payload = blob[head : head + _DIGEST], blob[head + _DIGEST :]
    if hashlib.sha256(payload).digest() != digest:
        raise ValueError("damaged start-up cache entry")
    return pickle.loads(payload)


# -- the store -----------------------------------------------------------------------------------


def load(kind: str, k: str) -> Any:
    """The value stored under ``kind``/``k`` in the first directory that holds an intact one,
    else ``None`` (also when the cache is off)."""
    if not enabled() or _PREBUILD.get() is not None:
        return None
    name = entry_name(kind, k)
    for d in cache_dirs():
        try:
            with open(d / name, "rb") as fh:
                blob = fh.read()
        except OSError:
            continue
        try:
            value = loads(blob)
        except Exception:  # damaged, truncated or from elsewhere: a miss
            continue
        if isinstance(value, tuple) and len(value) == 2 and value[0] == k:
            return value[1]
    return None


def store(kind: str, k: str, value: Any, book: dict[tuple[str, int], tuple[Any, ...]] | None = None) -> bool:
    """Write ``value`` atomically; False (and nothing left behind) when it cannot be written."""
    if not enabled():
        return False
    target_dir = writable_dir()
    if target_dir is None:
        return False
    tmp: str | None = None
    try:
        blob = dumps((k, value), book)
        fd, tmp = tempfile.mkstemp(prefix=f".{kind}-", dir=target_dir)
        with os.fdopen(fd, "wb") as fh:
            fh.write(blob)
        os.replace(tmp, target_dir / entry_name(kind, k))
        tmp = None
        return True
    except Exception:
        return False
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def memo(kind: str, k: str, build: Callable[[], T], check: Callable[[Any], bool] | None = None) -> T:
    """``build()``, or what an earlier process stored for the same key.

    ``check`` vets a loaded value (a wrong type is rebuilt). Patterns compiled with
    :func:`compile_pattern` during ``build`` are stored as ingredients.
    """
    got = load(kind, k)
    if got is not None and (check is None or check(got)):
        return got  # type: ignore[no-any-return]
    with recording() as book:
        value = build()
    store(kind, k, value, book)
    return value


@contextlib.contextmanager
def prebuilding(directory: Path) -> Iterator[None]:
    """Write every entry into ``directory`` (the wheel's prebuilt set), reading none from disk."""
    directory.mkdir(parents=True, exist_ok=True)
    token = _PREBUILD.set(directory)
    try:
        yield
    finally:
        _PREBUILD.reset(token)
