"""Saving one output file of a finished job: only from a trusted host, atomically, verified,
size-capped, and never twice.

By the time a download starts the job is paid for, so every refusal is an exception naming the
file and the reason; :mod:`skill.execution.delivery` fetches each output of a result with
:func:`download_file` independently and decides what a refusal means for the job. The rules:

- Trust: ``https`` on ``*.runcomfy.net`` / ``*.runcomfy.com`` (the real host, on a dot
  boundary), or the API base's own origin (so the emulator works; plain ``http`` only when that
  host is loopback). Every redirect hop is checked with the same rule, at most 10 hops.
- No credentials: download requests never carry ``Authorization`` or cookies, even through a
  client shared with the API.
- Atomic: bytes stream into ``.{name}.part-{random}`` in the destination directory, are
  fsync'ed, verified (an MP4 with a video track, or where an image may be, a complete PNG,
  JPEG or WebP, named by what its bytes are), then hard-linked to a free final name
  (``name-1.mp4``, ...) so no file is ever overwritten, half-written under its final name, or
  raced by another process. Whatever fails, the temporary file is removed.
- Never twice: when the caller names the files already saved for the job (by SHA-256), a
  download with the same content in the same directory keeps the existing file instead of
  adding ``name-1.mp4``, so fetching a result again converges.
- Bounded: a ``Content-Length`` over the cap is refused before writing, and counting bytes
  stops a body that grows past it. Memory stays flat (1 MiB chunks); the SHA-256 is computed
  while streaming.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import functools
import hashlib
import ipaddress
import os
import queue
import re
import secrets
import stat
import threading
import time
import unicodedata
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

import httpx

from skill import settings
from skill.errors import DownloadError
from skill.execution.client import DEFAULT_USER_AGENT
from skill.execution.retry import (
    DEFAULT_RETRY,
    RetryPolicy,
    TryAgain,
    aretrying,
    retry_after_seconds,
    retrying,
    should_retry,
)
from skill.execution.transport import client_tls
from skill.fsutil import fsync_dir
from skill.media.images import IMAGE_EXTENSIONS, image_type
from skill.media.mp4probe import Mp4Error, Mp4Info, probe_mp4

__all__ = [
    "CHUNK_SIZE",
    "DEFAULT_RETRY",
    "MAX_NAME_CHARS",
    "MAX_REDIRECTS",
    "TRUSTED_HOST_SUFFIXES",
    "DownloadedFile",
    "Expect",
    "FileKind",
    "ProgressCallback",
    "adownload_file",
    "check_download_url",
    "display_url",
    "download_client_kwargs",
    "download_file",
    "is_video_path",
    "safe_filename",
    "untrusted_reason",
]

CHUNK_SIZE = 1 << 20
MAX_REDIRECTS = 10
MAX_NAME_CHARS = 120
TRUSTED_HOST_SUFFIXES = (".runcomfy.net", ".runcomfy.com")

ProgressCallback = Callable[[str, int, int | None], None]
"""``on_progress(url, bytes_so_far, total_or_None)``, called at most about 10 times a second."""
FileKind = Literal["video", "image"]
Expect = Literal["video", "image", "any"]
"""What a URL should hold: a ``video`` must be an MP4; an ``image`` or ``any`` is saved as
whichever of an MP4 or a PNG/JPEG/WebP image its bytes turn out to be."""

_MAX_NAME_BYTES = 200  # leaves room for ".part-…" and "-N" under the usual 255-byte limit
_PROGRESS_INTERVAL = 0.1
_QUEUE_BLOCKS = 8
_WRITEBACK_BYTES = 16 << 20
_FADVISE = hasattr(os, "posix_fadvise")
_DEFAULT_STEM = "output"
_VIDEO_SUFFIX = ".mp4"
_UNSAFE_CHARS = frozenset('/\\:*?"<>|')
_RESERVED_STEMS = frozenset(
    {"con", "prn", "aux", "nul"} | {f"com{i}" for i in range(10)} | {f"lpt{i}" for i in range(10)}
)
_NO_HARDLINKS = {errno.EPERM, errno.EXDEV, errno.EMLINK, errno.ENOSYS, errno.EOPNOTSUPP}
_DEFAULT_PORTS = {"http": 80, "https": 443}
_STRIP_HEADERS = ("authorization", "cookie")
_TIMEOUT = httpx.Timeout(connect=10.0, read=120.0, write=60.0, pool=60.0)


@dataclass(frozen=True)
class DownloadedFile:
    """One saved output: where it came from, where it is, and what it is."""

    url: str
    path: Path
    size: int
    sha256: str
    width: int | None
    height: int | None
    duration_s: float | None
    kind: FileKind = "video"
    reused: bool = False
    """The same bytes were already saved for the job at ``path``; nothing new was written."""


def is_video_path(path: str | os.PathLike[str]) -> bool:
    """Whether a saved output is a video: videos are always saved under an ``.mp4`` name."""
    return os.fspath(path).lower().endswith(_VIDEO_SUFFIX)


# -- vetting URLs ----------------------------------------------------------------------------------


def display_url(url: str) -> str:
    """``url`` without query or fragment (pre-signed URLs carry signatures there)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url[:120]
    return f"{parts.scheme}://{parts.netloc}{parts.path}"[:300]


def _host(url: httpx.URL) -> str:
    host = url.raw_host.decode("ascii", "replace").lower()
    return host[:-1] if host.endswith(".") else host


def _port(url: httpx.URL) -> int | None:
    return url.port if url.port is not None else _DEFAULT_PORTS.get(url.scheme)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@functools.lru_cache(maxsize=256)
def _untrusted(url: str, api_base: str) -> tuple[str, str] | None:
    """``(host, reason)`` when ``url`` must not be fetched, else ``None`` (a pure judgement of
    the two strings, remembered: each output URL is vetted when listed, fetched and sent)."""
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in url) or "\\" in url:
        return "", "the URL contains spaces, control characters or backslashes"
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        return "", "the URL cannot be parsed"
    host = _host(parsed)
    if parsed.scheme not in ("http", "https") or not host:
        return host, "only http(s) URLs with a host can be downloaded"
    if parsed.userinfo:
        return host, "the URL carries user credentials"
    try:
        base = httpx.URL(api_base.strip())
    except (httpx.InvalidURL, TypeError, ValueError):
        base = None
    if (
        base is not None
        and base.scheme == parsed.scheme
        and _host(base) == host
        and _port(base) == _port(parsed)
    ):
        if parsed.scheme == "https" or _is_loopback(host):
            return None
        return host, "plain http is only allowed from a loopback API base"
    if _is_ip(host):
        return host, "IP addresses are not trusted download hosts"
    if not host.endswith(TRUSTED_HOST_SUFFIXES):
        return host, "the host is not a RunComfy host (*.runcomfy.net, *.runcomfy.com)"
    if parsed.scheme != "https":
        return host, "RunComfy files must be fetched over https"
    return None


def untrusted_reason(url: str, *, api_base: str) -> str | None:
    """Why ``url`` must not be fetched (naming the host), or ``None`` when it may be."""
    problem = _untrusted(url, api_base)
    if problem is None:
        return None
    host, reason = problem
    return f"host {host!r}: {reason}" if host else f"a malformed URL: {reason}"


def check_download_url(url: str, *, api_base: str) -> None:
    """Raise :class:`DownloadError` (code ``untrusted_url``) unless ``url`` may be downloaded."""
    problem = _untrusted(url, api_base)
    if problem is None:
        return
    host, reason = problem
    where = f"host {host!r}" if host else "a malformed URL"
    raise DownloadError(
        f"refusing to download {display_url(url)} from {where}: {reason} (download it "
        "yourself if you trust that host)",
        code="untrusted_url",
        details={"url": display_url(url), "host": host},
    )


# -- file names ------------------------------------------------------------------------------------


def _truncate(text: str, chars: int, max_bytes: int) -> str:
    text = text[:chars]
    while len(text.encode("utf-8")) > max_bytes:
        text = text[:-1]
    return text


def _trim(name: str, *, leading: bool = False) -> str:
    """Drop trailing (and, if asked, leading) dots and whitespace."""
    while name and (name[-1] == "." or name[-1].isspace()):
        name = name[:-1]
    while leading and name and (name[0] == "." or name[0].isspace()):
        name = name[1:]
    return name


def safe_filename(url: str, suffix: str = _VIDEO_SUFFIX) -> str:
    """The local name for ``url``: its last path segment, percent-decoded and made harmless.

    No separators, traversal, control or format characters, leading dots, or characters
    Windows forbids; at most 120 characters (and 200 UTF-8 bytes); always ending ``suffix``
    (``.mp4``, or the verified type of an image), whatever extension the URL claims.
    """
    try:
        path = urlsplit(url).path
    except ValueError:
        path = ""
    segment = next((s for s in reversed(path.split("/")) if s), "")
    name = unquote(segment, errors="replace")
    name = "".join(
        "_" if c in _UNSAFE_CHARS or unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c
        for c in name
    )
    while ".." in name:
        name = name.replace("..", ".")
    claimed = next((e for e in (_VIDEO_SUFFIX, *IMAGE_EXTENSIONS) if name.lower().endswith(e)), "")
    name = name[: len(name) - len(claimed)]
    name = _trim(name, leading=True)
    room = len(suffix.encode("utf-8"))
    stem = _trim(_truncate(name, MAX_NAME_CHARS - len(suffix), _MAX_NAME_BYTES - room))
    if not stem:
        return _DEFAULT_STEM + suffix
    if stem.split(".")[0].lower() in _RESERVED_STEMS:
        stem = _truncate("_" + stem, MAX_NAME_CHARS - len(suffix), _MAX_NAME_BYTES - room)
    return stem + suffix


def _local_name(url: str, stem: str | None) -> str:
    """``stem.mp4`` when the caller named the job's files (made safe again here), else from the URL."""
    return safe_filename(f"/{stem}.mp4") if stem else safe_filename(url)


# -- writing ---------------------------------------------------------------------------------------


def _candidates(name: str) -> Iterable[str]:
    stem, dot, ext = name.rpartition(".")
    stem, suffix = (stem, dot + ext) if dot else (name, "")
    yield name
    for n in range(1, 10000):
        yield f"{stem}-{n}{suffix}"
    yield f"{stem}-{secrets.token_hex(6)}{suffix}"


def _is_variant(candidate: str, name: str) -> bool:
    """Whether ``candidate`` is ``name`` or a name :func:`_candidates` gives after it."""
    stem, dot, ext = name.rpartition(".")
    stem, suffix = (stem, dot + ext) if dot else (name, "")
    pattern = re.escape(stem) + r"(-\d+|-[0-9a-f]{12})?" + re.escape(suffix)
    return re.fullmatch(pattern, candidate) is not None


def _publish(tmp: Path, dest_dir: Path, name: str) -> Path:
    """Give ``tmp`` a free name in ``dest_dir`` without ever replacing an existing file.

    ``os.link`` fails if the name exists, so two processes cannot claim one name; where the
    filesystem has no hard links, an ``O_EXCL`` placeholder claims the name and the finished
    file replaces it.
    """
    for candidate in _candidates(name):
        final = dest_dir / candidate
        try:
            os.link(tmp, final)
        except FileExistsError:
            continue
        except OSError as exc:
            if exc.errno not in _NO_HARDLINKS:
                raise
            try:
                fd = os.open(final, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                continue
            os.close(fd)
            try:
                os.replace(tmp, final)
            except BaseException:
                with contextlib.suppress(OSError):
                    final.unlink()
                raise
        else:
            tmp.unlink()
        fsync_dir(dest_dir)
        return final
    raise DownloadError(f"no free file name for {name} in {dest_dir}", code="download_failed")


_Block = bytes | list[bytes]


def _write_all(fd: int, parts: list[bytes]) -> int:
    """Write every byte of ``parts`` (writev where the OS has it); return the count."""
    total = sum(len(p) for p in parts)
    if hasattr(os, "writev") and 1 < len(parts) <= 512:
        done = os.writev(fd, parts)
        if done == total:
            return total
        rest = memoryview(b"".join(parts))[done:]
    else:
        rest = memoryview(b"".join(parts)) if len(parts) > 1 else memoryview(parts[0])
    while rest:
        rest = rest[os.write(fd, rest) :]
    return total


class _Sink:
    """The temporary file of one try.

    The network side (:meth:`add`) counts, caps and reports progress, and gathers chunks into
    1 MiB blocks; a writer thread (started with the first full block) writes them and hands
    each to a hasher thread, which computes the SHA-256 beside the write. Hashing and writing
    release the GIL, so network, disk and hash overlap on as many cores as there are (the
    bounded queues keep memory flat: at most ``2 * _QUEUE_BLOCKS`` blocks wait), and the
    asyncio twin never blocks its loop on the disk.
    """

    def __init__(self, job: _Job, total: int | None) -> None:
        self.job = job
        self.url = job.url
        self.dest_dir = job.dest_dir
        self.total = total
        self.max_bytes = job.max_bytes
        self.on_progress = job.on_progress
        self.size = 0
        self._parts: list[bytes] = []
        self._pending = 0
        self._hash = hashlib.sha256()
        self._last_progress = 0.0
        self._queue: queue.Queue[_Block | None] = queue.Queue(maxsize=_QUEUE_BLOCKS)
        self._to_hash: queue.Queue[_Block | None] = queue.Queue(maxsize=_QUEUE_BLOCKS)
        self._hasher: threading.Thread | None = None
        self._error: Exception | None = None
        self.tmp = job.dest_dir / f".{job.name}.part-{secrets.token_hex(6)}"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        flags |= getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
        self._fd: int | None = os.open(self.tmp, flags, 0o666)
        self._thread: threading.Thread | None = None
        self._started = False
        self._written = self._flushed = 0

    def _start_writer(self) -> None:
        """The writer and hasher threads, started with the first full block: a file under one
        block (most outputs of a batch) is hashed and written by :meth:`finish` alone, with no
        thread to start."""
        if not self._started:
            self._started = True
            self._hasher = threading.Thread(
                target=self._hash_blocks, name="kling3-download-hasher", daemon=True
            )
            self._hasher.start()
            self._thread = threading.Thread(
                target=self._writer, name="kling3-download-writer", daemon=True
            )
            self._thread.start()

    def _writer(self) -> None:
        while True:
            block = self._queue.get()
            self._to_hash.put(block)  # every block, in order; None ends the hasher too
            if block is None:
                return
            if self._error is None:  # else keep draining: the network side must never block
                self._write_block(block, hashed=True)

    def _hash_blocks(self) -> None:
        while True:
            block = self._to_hash.get()
            if block is None:
                return
            try:
                for part in block if isinstance(block, list) else [block]:
                    self._hash.update(part)
            except Exception as exc:  # keep draining: the writer must never block on a dead hasher
                self._error = exc

    def _write_block(self, block: _Block, *, hashed: bool = False) -> None:
        """Write ``block`` (and hash it, unless the hasher thread does: ``hashed``)."""
        fd = self._fd
        assert fd is not None
        try:
            parts = block if isinstance(block, list) else [block]
            if not hashed:
                for part in parts:
                    self._hash.update(part)
            self._written += _write_all(fd, parts)
            if _FADVISE and self._written - self._flushed >= _WRITEBACK_BYTES:
                # Start writeback now and drop the pages: the final fsync is then nearly
                # free, and a huge video does not evict the page cache.
                with contextlib.suppress(OSError):
                    os.posix_fadvise(
                        fd, self._flushed, self._written - self._flushed, os.POSIX_FADV_DONTNEED
                    )
                self._flushed = self._written
        except Exception as exc:
            self._error = exc

    def _check_writer(self) -> None:
        if self._error is not None:
            exc = self._error
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            raise DownloadError(
                f"cannot write {self.tmp}: {reason}; nothing was saved",
                code="download_failed",
                details={"url": display_url(self.url)},
            )

    def add(self, chunk: bytes) -> _Block | None:
        """Account for ``chunk``; return a full block for :meth:`put` when one is ready."""
        self.size += len(chunk)
        if self.size > self.max_bytes:
            raise _too_large(self.url, self.max_bytes, "the body grew past it")
        self._progress(final=False)
        self._parts.append(chunk)
        self._pending += len(chunk)
        if self._pending < CHUNK_SIZE:
            return None
        return self._take()

    def _take(self) -> _Block | None:
        if not self._parts:
            return None
        # The chunks go to the writer as a list (one writev, no joined copy of the block).
        block: _Block = self._parts[0] if len(self._parts) == 1 else self._parts
        self._parts, self._pending = [], 0
        return block

    def offer(self, block: _Block) -> bool:
        """Queue ``block`` if there is room now (for the event loop); ``False`` if full."""
        self._check_writer()
        self._start_writer()
        try:
            self._queue.put_nowait(block)
        except queue.Full:
            return False
        return True

    def put(self, block: _Block) -> None:
        """Queue ``block``, waiting for the writer if it is behind."""
        self._check_writer()
        self._start_writer()
        self._queue.put(block)

    def _progress(self, *, final: bool) -> None:
        if self.on_progress is None:
            return
        now = time.monotonic()
        if final or now - self._last_progress >= _PROGRESS_INTERVAL:
            self._last_progress = now
            self.on_progress(self.url, self.size, self.total)

    def _stop_writer(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        if self._hasher is not None:  # the writer passed it the end: it finishes the hash
            self._hasher.join()
            self._hasher = None

    def finish(self) -> DownloadedFile:
        """Write the rest, flush to disk, verify what it is, move it to its final name (or keep
        the job's earlier copy of the same bytes).

        Blocking (disk and a thread join): the asyncio twin runs it in a thread.
        """
        tail = self._take()
        if tail is not None and self._started:
            self.put(tail)
        self._stop_writer()
        if tail is not None and not self._started:
            self._write_block(tail)  # the whole file was under one block: no thread was needed
        self._check_writer()
        assert self._fd is not None
        os.fsync(self._fd)
        os.close(self._fd)
        self._fd = None
        kind, suffix, info = self._verify()
        sha256 = self._hash.hexdigest()
        name = self.job.name if kind == "video" else safe_filename(self.url, suffix)
        earlier = self._saved_before(sha256, name)
        if earlier is None:
            final = _publish(self.tmp, self.dest_dir, name)
        else:
            final = earlier
            self.discard()
        self._progress(final=True)
        return DownloadedFile(
            url=self.url,
            path=final,
            size=self.size,
            sha256=sha256,
            width=info.width if info else None,
            height=info.height if info else None,
            duration_s=info.duration_s if info else None,
            kind=kind,
            reused=earlier is not None,
        )

    def _verify(self) -> tuple[FileKind, str, Mp4Info | None]:
        """What the bytes are: an image (where one may be), else an MP4 with a video track."""
        if self.job.expect != "video":
            found = image_type(self.tmp)
            if found is not None:
                return "image", f".{found}", None
        try:
            return "video", _VIDEO_SUFFIX, probe_mp4(self.tmp)
        except Mp4Error as exc:
            shown = display_url(self.url)
            if self.job.expect == "video":
                raise DownloadError(
                    f"{shown} is not a usable MP4 ({exc}); nothing was saved",
                    code="not_mp4",
                    details={"url": shown},
                ) from None
            raise DownloadError(
                f"{shown} is neither an MP4 video nor a complete PNG, JPEG or WebP image; "
                "nothing was saved",
                code="unsupported_type",
                details={"url": shown},
            ) from None

    def _saved_before(self, sha256: str, name: str) -> Path | None:
        """The job's earlier file with these bytes, saved from this output (``name`` or one of
        its ``name-N`` variants) in this directory, if it is still there."""
        path = self.job.known.get(sha256)
        if path is None or not _is_variant(path.name, name):
            return None
        try:
            same_dir = path.parent.resolve() == self.dest_dir.resolve()
            st = path.stat()
        except OSError:
            return None
        return path if same_dir and stat.S_ISREG(st.st_mode) and st.st_size == self.size else None

    def discard(self) -> None:
        """Stop the writer and remove the temporary file; safe to call more than once."""
        self._parts = []
        self._stop_writer()
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
        with contextlib.suppress(OSError):
            self.tmp.unlink()


def _too_large(url: str, cap: int, how: str) -> DownloadError:
    return DownloadError(
        f"{display_url(url)} is larger than the {cap}-byte download cap ({how}); nothing was saved. "
        "Raise KLING3_MAX_DOWNLOAD_BYTES to allow it.",
        code="too_large",
        details={"url": display_url(url), "max_bytes": cap},
    )


# -- one HTTP exchange, shared by both twins ---------------------------------------------------------


@dataclass
class _Job:
    """Everything the fetch of one URL needs."""

    url: str
    name: str
    dest_dir: Path
    api_base: str
    max_bytes: int
    retry: RetryPolicy
    on_progress: ProgressCallback | None
    expect: Expect = "video"
    known: Mapping[str, Path] = dataclasses.field(default_factory=dict)


def _request(client: httpx.Client | httpx.AsyncClient, url: str) -> httpx.Request:
    """The GET of one hop, under the time-outs of the client it goes through."""
    request = client.build_request(
        "GET",
        url,
        headers={
            "User-Agent": DEFAULT_USER_AGENT,
            "Accept": "*/*",
            "Accept-Encoding": "identity",
        },
    )
    for name in _STRIP_HEADERS:
        request.headers.pop(name, None)
    return request


def _next_hop(current: str, response: httpx.Response, hops: int) -> str:
    if hops >= MAX_REDIRECTS:
        raise DownloadError(
            f"{display_url(current)}: more than {MAX_REDIRECTS} redirects; nothing was saved",
            code="too_many_redirects",
        )
    location = response.headers.get("Location", "")
    try:
        return str(httpx.URL(current).join(location))
    except (httpx.InvalidURL, ValueError):
        raise DownloadError(
            f"{display_url(current)} redirects to an unusable location {location[:200]!r}",
            code="untrusted_url",
        ) from None


def _check_response(job: _Job, current: str, response: httpx.Response) -> int | None:
    """Raise for a status that is not a file; return the declared length."""
    status = response.status_code
    if should_retry(status=status):
        raise TryAgain(
            f"HTTP {status} from {display_url(current)}",
            retry_after=retry_after_seconds(response.headers.get("Retry-After")),
        )
    if not 200 <= status < 300:
        raise DownloadError(
            f"{display_url(current)} answered HTTP {status}; nothing was saved",
            code="download_failed",
            details={"url": display_url(current), "http_status": status},
        )
    raw = response.headers.get("Content-Length")
    total = int(raw) if raw is not None and raw.strip().isdigit() else None
    if total is not None and total > job.max_bytes:
        raise _too_large(job.url, job.max_bytes, f"Content-Length is {total}")
    return total


def _encoded(response: httpx.Response) -> bool:
    return response.headers.get("Content-Encoding", "identity").strip().lower() not in (
        "",
        "identity",
    )


def _chunks(response: httpx.Response) -> Iterator[bytes]:
    """Raw bytes as they arrive, unless the server compressed despite ``identity``.

    No ``chunk_size``: httpx's re-chunking copies through a BytesIO and halves throughput;
    :class:`_Sink` gathers 1 MiB blocks itself.
    """
    if _encoded(response):
        return response.iter_bytes()
    return response.iter_raw()


def _achunks(response: httpx.Response) -> AsyncIterator[bytes]:
    if _encoded(response):
        return response.aiter_bytes()
    return response.aiter_raw()


def _check_complete(current: str, response: httpx.Response, total: int | None) -> None:
    received = response.num_bytes_downloaded
    if total is not None and received != total:
        raise TryAgain(f"{display_url(current)} sent {received} of {total} bytes")


def _transport_retry(current: str, exc: httpx.HTTPError) -> TryAgain:
    """A transport failure as a retry, or a :class:`DownloadError` when no retry can help.

    Any transport failure but a mistake in the request counts as passing: the file is paid
    for, and fetching it again costs nothing but time.
    """
    if not should_retry(error=exc, any_transport=True):
        raise DownloadError(
            f"cannot fetch {display_url(current)}: {type(exc).__name__}: {exc}",
            code="download_failed",
        ) from None
    text = str(exc)
    return TryAgain(
        f"{type(exc).__name__} from {display_url(current)}" + (f": {text}" if text else "")
    )


def _failed(job: _Job, retry: TryAgain, number: int) -> DownloadError:
    return DownloadError(
        f"could not download {display_url(job.url)} after {number} "
        f"{'try' if number == 1 else 'tries'}: {retry.reason}; nothing was saved",
        code="download_failed",
        details={"url": display_url(job.url), "attempts": number},
    )


def _new_job(
    url: str,
    dest_dir: Path | str,
    *,
    expect: Expect,
    api_base: str | None,
    max_bytes: int | None,
    retry: RetryPolicy,
    on_progress: ProgressCallback | None,
    known: Mapping[str, Path] | None,
    stem: str | None = None,
) -> _Job:
    """Vet ``url`` and gather the settings of its fetch; nothing touches the disk yet."""
    base = api_base if api_base is not None else settings.api_base()
    check_download_url(url, api_base=base)
    cap = max_bytes if max_bytes is not None else settings.download_cap_bytes()
    if cap <= 0:
        raise ValueError("max_bytes must be > 0")
    dest = Path(dest_dir)
    name = _local_name(url, stem) if expect != "image" else safe_filename(url)
    return _Job(url, name, dest, base, cap, retry, on_progress, expect, dict(known or {}))


def _cannot_write(job: _Job, exc: OSError) -> DownloadError:
    """A disk failure (no space, no permission, a file where the folder should be): another
    try of the same folder would fail the same way, so it is not retried here."""
    where = exc.filename or job.dest_dir
    return DownloadError(
        f"cannot save {display_url(job.url)} in {job.dest_dir}: {exc.strerror or exc} ({where}); "
        "nothing was saved",
        code="write_failed",
        details={"url": display_url(job.url), "output_dir": str(job.dest_dir)},
    )


def download_client_kwargs(url: str = "https:", *, asynchronous: bool = False) -> dict[str, Any]:
    """The httpx client settings of downloads starting at ``url``: long reads, redirects by
    hand, verified TLS (its context built only once https is spoken:
    :func:`~skill.execution.transport.client_tls`)."""
    return {
        "timeout": _TIMEOUT,
        "follow_redirects": False,
        **client_tls(url, asynchronous=asynchronous),
    }


# -- blocking ------------------------------------------------------------------------------------------


def download_file(
    url: str,
    dest_dir: Path | str,
    *,
    expect: Expect = "video",
    api_base: str | None = None,
    http: httpx.Client | None = None,
    max_bytes: int | None = None,
    retry: RetryPolicy = DEFAULT_RETRY,
    sleep: Callable[[float], None] = time.sleep,
    on_progress: ProgressCallback | None = None,
    known: Mapping[str, Path] | None = None,
    stem: str | None = None,
) -> DownloadedFile:
    """Fetch one output ``url`` into ``dest_dir`` (created if missing) and verify it.

    ``expect`` says what it must be (see :data:`Expect`); ``known`` maps the SHA-256 of files
    already saved for the job to their paths, so the same bytes are not saved twice; ``stem``
    names a video after the request (``stem.mp4``, then ``stem-1.mp4``; see
    :mod:`skill.filenames`), else the name comes from the URL. Raises :class:`DownloadError`
    naming the file and the reason; nothing is left behind then.
    """
    job = _new_job(url, dest_dir, expect=expect, api_base=api_base, max_bytes=max_bytes,
                   retry=retry, on_progress=on_progress, known=known, stem=stem)
    client = http if http is not None else httpx.Client(**download_client_kwargs(url))
    try:
        job.dest_dir.mkdir(mode=0o755, parents=True, exist_ok=True)
        return retrying(
            lambda: _fetch(client, job),
            job.retry,
            sleep,
            lambda failure, tries: _failed(job, failure, tries),
        )
    except OSError as exc:
        raise _cannot_write(job, exc) from None
    finally:
        if http is None:
            client.close()


def _fetch(client: httpx.Client, job: _Job) -> DownloadedFile:
    """One try: follow redirects by hand (each hop vetted, no credentials), stream into a
    :class:`_Sink`, and publish; raises :class:`TryAgain` for what another try may fix."""
    current = job.url
    for hops in range(MAX_REDIRECTS + 1):
        check_download_url(current, api_base=job.api_base)
        try:
            response = client.send(
                _request(client, current), stream=True, auth=None, follow_redirects=False
            )
        except httpx.HTTPError as exc:
            raise _transport_retry(current, exc) from None
        try:
            if response.is_redirect:
                current = _next_hop(current, response, hops)
                continue
            total = _check_response(job, current, response)
            sink = _Sink(job, total)
            try:
                try:
                    for chunk in _chunks(response):
                        block = sink.add(chunk)
                        if block is not None:
                            sink.put(block)
                except httpx.HTTPError as exc:
                    raise _transport_retry(current, exc) from None
                _check_complete(current, response, total)
                return sink.finish()
            except BaseException:
                sink.discard()
                raise
        finally:
            response.close()
    raise AssertionError("unreachable")  # _next_hop raises on the last hop


# -- asyncio -------------------------------------------------------------------------------------------


async def adownload_file(
    url: str,
    dest_dir: Path | str,
    *,
    expect: Expect = "video",
    api_base: str | None = None,
    http: httpx.AsyncClient | None = None,
    max_bytes: int | None = None,
    retry: RetryPolicy = DEFAULT_RETRY,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    on_progress: ProgressCallback | None = None,
    known: Mapping[str, Path] | None = None,
    stem: str | None = None,
) -> DownloadedFile:
    """The asyncio twin of :func:`download_file`; fsync and verification run in a thread."""
    job = _new_job(url, dest_dir, expect=expect, api_base=api_base, max_bytes=max_bytes,
                   retry=retry, on_progress=on_progress, known=known, stem=stem)
    client = (
        http
        if http is not None
        else httpx.AsyncClient(**download_client_kwargs(url, asynchronous=True))
    )
    try:
        job.dest_dir.mkdir(mode=0o755, parents=True, exist_ok=True)
        return await aretrying(
            lambda: _afetch(client, job),
            job.retry,
            sleep,
            lambda failure, tries: _failed(job, failure, tries),
        )
    except OSError as exc:
        raise _cannot_write(job, exc) from None
    finally:
        if http is None:
            await client.aclose()


async def _afetch(client: httpx.AsyncClient, job: _Job) -> DownloadedFile:
    """The asyncio twin of :func:`_fetch`; the disk work runs in threads, off the loop."""
    current = job.url
    for hops in range(MAX_REDIRECTS + 1):
        check_download_url(current, api_base=job.api_base)
        try:
            response = await client.send(
                _request(client, current), stream=True, auth=None, follow_redirects=False
            )
        except httpx.HTTPError as exc:
            raise _transport_retry(current, exc) from None
        try:
            if response.is_redirect:
                current = _next_hop(current, response, hops)
                continue
            total = _check_response(job, current, response)
            sink = _Sink(job, total)
            try:
                try:
                    async for chunk in _achunks(response):
                        block = sink.add(chunk)
                        if block is not None and not sink.offer(block):
                            await asyncio.to_thread(sink.put, block)
                except httpx.HTTPError as exc:
                    raise _transport_retry(current, exc) from None
                _check_complete(current, response, total)
                finishing = asyncio.ensure_future(asyncio.to_thread(sink.finish))
                try:
                    return await asyncio.shield(finishing)
                except asyncio.CancelledError:
                    await asyncio.wait([finishing])  # a thread cannot be stopped; let it settle
                    raise
            except BaseException:
                sink.discard()
                raise
        finally:
            await response.aclose()
    raise AssertionError("unreachable")  # _next_hop raises on the last hop
