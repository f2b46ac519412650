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

import array
import contextlib
import contextvars
import functools
import hashlib
import io
import os
import pickle
import re
import sys
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
    "stats",
    "store",
    "template_code_cache",
    "warm_regexes",
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
    except OSError:
        return False
    _trusted.cache_clear()
    return _trusted(str(path)) and os.access(path, os.W_OK | os.X_OK)


@functools.lru_cache(maxsize=8)
def _trusted(directory: str) -> bool:
    """``directory`` is a real directory of this user's that no one else can write to (checked
    before anything in it is loaded: an entry is a pickle, and a pickle is code)."""
    import stat

    try:
        st = os.lstat(directory)
    except OSError:
        return False
    getuid = getattr(os, "getuid", None)
    owned = getuid is None or st.st_uid == getuid()
    return stat.S_ISDIR(st.st_mode) and owned and not st.st_mode & 0o022


def _fallback_dirs() -> Iterator[Path]:
    """The per-user directories after ``KLING3_HOME/cache``, computed (and imported) only when reached."""
    import platformdirs

    yield platformdirs.user_cache_path("kling3", appauthor=False) / "startup"
    import tempfile

    uid = getattr(os, "getuid", os.getpid)()
    yield Path(tempfile.gettempdir()) / f"kling3-cache-{uid}"


def _home_dir() -> Path:
    return settings.kling3_home() / "cache"


def cache_dirs() -> Iterator[Path]:
    """Where entries are looked for, in order (the prebuilt directory last)."""
    yield _home_dir()
    yield from _fallback_dirs()
    yield PREBUILT_DIR


def writable_dir() -> Path | None:
    """The first directory an entry can be written to: ``KLING3_HOME/cache``, else a per-user one."""
    prebuilt = _PREBUILD.get()
    if prebuilt is not None:
        return prebuilt
    if _private_dir(_home_dir()):
        return _home_dir()
    return next((d for d in _fallback_dirs() if _private_dir(d)), None)


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
    from skill.textmatch import dispatch_branches, first_char_skipped, regex_internals

    consts = regex_internals()
    if tree is None:
        tree = parser.parse(pattern, flags)
        if consts is not None:  # the same matches, found with fewer tests per position
            tree = dispatch_branches(tree, consts[2])
    try:
        code = compiler._code(tree, flags)  # as re._compiler.compile does it
        if consts is not None:  # and positions where no match can start skipped in C
            code = first_char_skipped(code, tree, flags | tree.state.flags, consts)
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
    """``re.compile`` with its alternations grouped by first letter (:func:`skill.textmatch.dispatch_branches`:
    the same matches, fewer tests per position); while a cached thing is being built, its
    ingredients are kept for the file."""
    recorder = _RECORDER.get()
    got = pattern_ingredients(pattern, flags)
    rx = pattern_from(pattern, got) if got is not None else None
    if rx is None or got is None:
        return re.compile(pattern, flags)
    if recorder is not None:
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


_CODE_TYPE = "I" if array.array("I").itemsize == 4 else "L"


def _unpack_pattern(pattern: str, flags: int, packed: bytes, groups: int, groupindex: Any, indexgroup: Any) -> Any:
    """A stored pattern: its code is kept as 32-bit words (loaded in C, not as a list of ints)."""
    code = array.array(_CODE_TYPE)
    code.frombytes(packed)
    internals = _internals()
    if internals is None:  # pragma: no cover
        return re.compile(pattern, flags & ~re.UNICODE)
    return internals[2].compile(pattern, flags, code.tolist(), groups, groupindex, indexgroup)


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
            flags, code, groups, groupindex, indexgroup = got
            packed = array.array(_CODE_TYPE, code)
            return _unpack_pattern, (obj.pattern, flags, packed.tobytes(), groups, groupindex, indexgroup)
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
        if d != PREBUILT_DIR and not _trusted(str(d)):
            continue  # a directory someone else could write to: its entries are never loaded
        try:
            value = loads(blob)
        except Exception:  # damaged, truncated or from elsewhere: a miss
            continue
        if isinstance(value, tuple) and len(value) == 2 and value[0] == k:
            _STATS.append((kind, "prebuilt" if d == PREBUILT_DIR else str(d)))
            return value[1]
    _STATS.append((kind, "miss"))
    return None


_STATS: list[tuple[str, str]] = []


def stats() -> list[tuple[str, str]]:
    """What this process looked up: ``(kind, where)`` per lookup, ``where`` being the directory
    the entry came from, ``"prebuilt"``, or ``"miss"`` (for diagnostics and tests)."""
    return list(_STATS)


def store(kind: str, k: str, value: Any, book: dict[tuple[str, int], tuple[Any, ...]] | None = None) -> bool:
    """Write ``value`` atomically; False (and nothing left behind) when it cannot be written."""
    if not enabled():
        return False
    target_dir = writable_dir()
    if target_dir is None:
        return False
    import tempfile

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


# -- compiled Jinja templates ------------------------------------------------------------------------


def _refile(code: Any, filename: str) -> Any:
    """``code`` (and the functions inside it) as compiled from ``filename``."""
    consts = tuple(_refile(c, filename) if isinstance(c, type(code)) else c for c in code.co_consts)
    return code.replace(co_filename=filename, co_consts=consts)


@functools.lru_cache(maxsize=1)
def _template_cache_class() -> type:
    import marshal
    import types

    from jinja2.bccache import Bucket, BytecodeCache

    class TemplateCodeCache(BytecodeCache):
        """Jinja's bytecode cache over this store. An entry is keyed by the template's name and
        source (not its path, so a prebuilt entry fits any install) and the Jinja version."""

        def __init__(self, settings_key: str) -> None:
            self.settings_key = settings_key
            self.filenames: dict[str, str | None] = {}

        def get_bucket(self, environment: Any, name: str, filename: str | None, source: str) -> Bucket:
            self.filenames[name] = filename
            return super().get_bucket(environment, name, filename, source)

        def get_cache_key(self, name: str, filename: str | None = None) -> str:
            return name

        def _key(self, bucket: Bucket) -> str:
            return key(bucket.key, bucket.checksum, self.settings_key, libs=("jinja2",))

        def load_bytecode(self, bucket: Bucket) -> None:
            blob = load("template", self._key(bucket))
            if not isinstance(blob, bytes):
                return
            try:
                code = marshal.loads(blob)
            except (EOFError, ValueError, TypeError):
                return
            if isinstance(code, types.CodeType):
                filename = self.filenames.get(bucket.key)
                bucket.code = code if not filename or code.co_filename == filename else _refile(code, filename)

        def dump_bytecode(self, bucket: Bucket) -> None:
            if bucket.code is not None:
                store("template", self._key(bucket), marshal.dumps(bucket.code))

    return TemplateCodeCache


def template_code_cache(settings_key: str) -> Any:
    """A Jinja ``BytecodeCache`` over this store, or None when the cache is off. ``settings_key``
    names what else shapes the compiled code (the environment's options: pass its source)."""
    return _template_cache_class()(settings_key) if enabled() else None


# -- the regular expressions modules compile at import ---------------------------------------------
#
# Modules compile their patterns at import (``re.compile`` at module level, here and in the
# libraries). ``re`` keeps what it compiled in a dict keyed by (type, pattern, flags); seeding that
# dict with the patterns the modules of an earlier process held, rebuilt from their ``_sre``
# ingredients, makes each of those calls a lookup. A seeded entry is exactly what
# ``re.compile(pattern, flags)`` builds (its ingredients are derived from that very call), so a
# stale set costs only memory. The set is keyed by the Python build and this package; it grows
# at exit when the process imported modules the stored set did not know.

_MAX_SEEDED = 400


def _re_cache() -> dict[Any, Any] | None:
    cache = getattr(re, "_cache", None)
    limit = getattr(re, "_MAXCACHE", 0)
    return cache if isinstance(cache, dict) and isinstance(limit, int) and limit > _MAX_SEEDED else None


@functools.lru_cache(maxsize=1)
def _regex_key() -> str:
    return key("regexes")


_warm_state: list[bool] = []


def warm_regexes() -> None:
    """Seed ``re``'s cache with the patterns earlier processes compiled (once per process)."""
    cache = _re_cache()
    if cache is None or not enabled() or _warm_state:
        return
    _warm_state.append(True)
    got = load("regexes", _regex_key())
    known: frozenset[str] = frozenset()
    last: frozenset[Any] = frozenset()
    items: list[tuple[Any, re.Pattern[str]]] = []
    if isinstance(got, tuple) and len(got) == 3 and all(isinstance(x, t) for x, t in zip(got, (frozenset, list, frozenset), strict=True)):
        known, last = got[0], got[2]
        for item in got[1][:_MAX_SEEDED]:
            if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], re.Pattern):
                k, rx = item
                if _plain_key(k) and k[1] == rx.pattern:
                    cache.setdefault(k, rx)
                    items.append(item)
    import atexit

    atexit.register(_save_regexes, known, items, last)


def _plain_key(k: Any) -> bool:
    return (
        isinstance(k, tuple) and len(k) == 3 and k[0] is str and isinstance(k[1], str)
        and isinstance(k[2], int) and not k[2] & re.DEBUG
    )


def _save_regexes(known: frozenset[str], items: list[tuple[Any, re.Pattern[str]]], last: frozenset[Any] = frozenset()) -> None:
    """At exit: add the patterns of modules the stored set did not know, and those this process and
    the last one that wrote the set both compiled (the libraries' lazily compiled ones, such as
    tokenize's, which ``inspect.signature`` needs for pydantic's default factories)."""
    cache = _re_cache()
    if cache is None:
        return
    modules = set(sys.modules)
    found = dict(items)
    now = frozenset(k for k in list(cache) if _plain_key(k))
    recurring = (now & last) - found.keys()
    if modules <= known and not recurring:
        return
    with contextlib.suppress(Exception):
        book: dict[tuple[str, int], tuple[Any, ...]] = {}
        for k in sorted(recurring, key=lambda k: (k[1], k[2])):
            _add_key(k, cache[k], found, book)
        seen = {id(rx) for rx in found.values()}
        for module in list(sys.modules.values()):
            for value in list(getattr(module, "__dict__", {}).values()):
                if isinstance(value, re.Pattern) and isinstance(value.pattern, str) and id(value) not in seen:
                    _add_seed(value, found, book)
        store("regexes", _regex_key(), (frozenset(modules | known), list(found.items()), now), book)


def _add_key(k: Any, rx: Any, found: dict[Any, re.Pattern[str]], book: dict[tuple[str, int], tuple[Any, ...]]) -> None:
    """Seed ``k`` (``re``'s own key: type, pattern, flags passed) with ``rx``, what ``re`` built for
    it, once the ingredients derived from that very call are checked to give ``rx``'s flags."""
    if len(found) >= _MAX_SEEDED or k in found or not isinstance(rx, re.Pattern):
        return
    got = pattern_ingredients(k[1], k[2])
    if got is not None and got[0] == rx.flags:
        found[k] = rx
        book[(rx.pattern, rx.flags)] = got


def _add_seed(rx: re.Pattern[str], found: dict[Any, re.Pattern[str]], book: dict[tuple[str, int], tuple[Any, ...]]) -> None:
    """Add the ``re`` cache entry that stands for a module's ``rx``: the flags passed are its flags
    less those the pattern sets itself (checked as in :func:`_add_key`)."""
    internals = _internals()
    if internals is None:  # pragma: no cover
        return
    tree = internals[0].parse(rx.pattern, 0)
    _add_key((str, rx.pattern, rx.flags & ~tree.state.flags), rx, found, book)
