"""Delivering a finished job: every output fetched on its own, like the official CLI.

A result may name several files (a ``videos`` list, a cover ``image`` beside them, or one bare
URL; runcomfy-protocol.md §1.5). One bad file must not cost the others: each trusted URL is
fetched independently with :func:`~skill.execution.downloads.download_file`; an untrusted one
is never fetched and is listed as skipped; a cover or thumbnail is saved by the type its bytes
prove (PNG, JPEG, WebP) or skipped, never failing the video. What is *missing* is a video that
could not be saved now (a 404, a cut connection, a full disk): fetching the result again may
bring it, and the files already saved are kept and, with ``known``, not saved twice.

:meth:`Delivery.problem` is the one verdict on the job: ``None`` when every trusted video is
saved, else the :class:`~skill.errors.DownloadError` naming what is missing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from skill import settings
from skill.errors import DownloadError
from skill.execution.downloads import (
    DownloadedFile,
    Expect,
    ProgressCallback,
    adownload_file,
    check_download_url,
    display_url,
    download_client_kwargs,
    download_file,
    untrusted_reason,
)
from skill.execution.retry import DEFAULT_RETRY, RetryPolicy
from skill.media.images import IMAGE_EXTENSIONS

__all__ = [
    "Delivery",
    "Missing",
    "OutputItem",
    "Skipped",
    "adeliver",
    "deliver",
    "output_items",
    "output_urls",
]

_IMAGE_WORDS = ("image", "thumb", "cover", "poster", "preview")
_VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".webm")
_BARE_KEYS = ((), ("output",))  # a bare URL result, as is or as the client wraps it
_MAX_DEPTH = 32


@dataclass(frozen=True)
class OutputItem:
    """One URL of a result: where it sits (``videos[1]``) and what it should hold."""

    url: str
    slot: str
    expect: Expect


@dataclass(frozen=True)
class Skipped:
    """An output not saved, and never to be fetched as it is: an untrusted host, or a non-video
    output that could not be saved as an image."""

    url: str
    reason: str
    error: DownloadError | None = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, str]:
        return {"url": display_url(self.url), "reason": self.reason}


@dataclass(frozen=True)
class Missing:
    """A video that could not be saved now; fetching the result again may bring it."""

    url: str
    error: DownloadError

    def to_dict(self) -> dict[str, str]:
        return {"url": display_url(self.url), "code": self.error.code, "message": self.error.message}


@dataclass(frozen=True)
class Delivery:
    """What became of each output of one result, in document order within each list."""

    files: list[DownloadedFile]
    skipped: list[Skipped]
    missing: list[Missing]

    @property
    def videos(self) -> list[DownloadedFile]:
        return [f for f in self.files if f.kind == "video"]

    @property
    def images(self) -> list[DownloadedFile]:
        return [f for f in self.files if f.kind == "image"]

    def problem(self) -> DownloadError | None:
        """``None`` when every trusted video is saved and there is at least one; else the error
        to raise, its details listing what is ``missing``, ``skipped`` and ``saved``."""
        if self.missing:
            first = self.missing[0].error
            more = len(self.missing) - 1
            message = first.message + (f" ({more} more video(s) missing too)" if more else "")
            return self._error(message, first.code, first.details)
        if self.videos:
            return None
        refused = next((s.error for s in self.skipped if s.error and s.error.code == "untrusted_url"), None)
        if refused is not None:
            return self._error(refused.message, "untrusted_url", refused.details)
        return self._error(
            "the job finished but its result holds no video that could be saved",
            "no_output",
            {},
        )

    def _error(self, message: str, code: str, base: Mapping[str, Any]) -> DownloadError:
        details = dict(base)
        details["missing"] = [m.to_dict() for m in self.missing]
        details["skipped"] = [s.to_dict() for s in self.skipped]
        details["saved"] = [str(f.path) for f in self.files]
        return DownloadError(message, code=code, details=details)


# -- reading a result ----------------------------------------------------------------------------


def _expect(keys: tuple[str, ...], url: str) -> Expect:
    """What a URL should hold, from the keys above it, else from the extension it claims."""
    words = " ".join(keys).lower()
    if any(w in words for w in _IMAGE_WORDS):
        return "image"
    if "video" in words or keys in _BARE_KEYS:
        return "video"
    try:
        path = httpx.URL(url).path.lower()
    except (httpx.InvalidURL, TypeError, ValueError):
        path = ""
    if path.endswith(_VIDEO_EXTENSIONS):
        return "video"
    return "image" if path.endswith(IMAGE_EXTENSIONS) else "any"


def output_items(output: Any) -> list[OutputItem]:
    """Every ``http(s)`` string inside a result's ``output`` (dicts and lists, recursively), in
    document order, without duplicates. Only ``output`` should be passed: the record's own
    ``status_url``/``result_url`` are API URLs, not files."""
    found: dict[str, OutputItem] = {}

    def walk(value: Any, keys: tuple[str, ...], slot: str, depth: int) -> None:
        if depth > _MAX_DEPTH:
            return
        if isinstance(value, str):
            text = value.strip()
            if text[:8].lower().startswith(("http://", "https://")) and text not in found:
                found[text] = OutputItem(text, slot or "output", _expect(keys, text))
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(item, (*keys, str(key)), f"{slot}.{key}" if slot else str(key), depth + 1)
        elif isinstance(value, (list, tuple)):
            for i, item in enumerate(value):
                walk(item, keys, f"{slot}[{i}]", depth + 1)

    walk(output, (), "", 0)
    return list(found.values())


def output_urls(output: Any) -> list[str]:
    """The URLs of :func:`output_items`, in the same order."""
    return [item.url for item in output_items(output)]


# -- fetching ---------------------------------------------------------------------------------------


class _Tally:
    """The outcome of each item as it comes; untrusted items are settled before any fetch."""

    def __init__(self, items: list[OutputItem], api_base: str) -> None:
        self.files: list[DownloadedFile] = []
        self.skipped: list[Skipped] = []
        self.missing: list[Missing] = []
        self.trusted: list[OutputItem] = []
        for item in items:
            try:
                check_download_url(item.url, api_base=api_base)
            except DownloadError as exc:
                reason = untrusted_reason(item.url, api_base=api_base)
                self.skipped.append(Skipped(item.url, f"untrusted {reason}", exc))
            else:
                self.trusted.append(item)

    def saved(self, file: DownloadedFile) -> None:
        self.files.append(file)

    def failed(self, item: OutputItem, exc: DownloadError) -> None:
        """A video (or an output that may be one) is missing; anything else is skipped."""
        if item.expect == "image" or exc.code == "unsupported_type":
            self.skipped.append(Skipped(item.url, exc.message, exc))
        else:
            self.missing.append(Missing(item.url, exc))

    def delivery(self) -> Delivery:
        return Delivery(self.files, self.skipped, self.missing)


def _names(items: list[OutputItem], stem: str | None) -> dict[str, str | None]:
    """The stem of each item's file: the job's stem for its first video, ``stem-2``,
    ``stem-3``... for the next ones in document order (trusted or not, so a resume names
    them alike); images keep their own names."""
    out: dict[str, str | None] = {}
    n = 0
    for item in items:
        if stem is None or item.expect == "image":
            out[item.url] = None
            continue
        n += 1
        out[item.url] = stem if n == 1 else f"{stem}-{n}"
    return out


def deliver(
    output: Any,
    dest_dir: Path | str,
    *,
    api_base: str | None = None,
    http: httpx.Client | None = None,
    max_bytes: int | None = None,
    retry: RetryPolicy = DEFAULT_RETRY,
    sleep: Callable[[float], None] = time.sleep,
    on_progress: ProgressCallback | None = None,
    known: Mapping[str, Path] | None = None,
    stem: str | None = None,
) -> Delivery:
    """Fetch every trusted output of ``output`` into ``dest_dir``, each on its own.

    Never raises for one file: its failure is recorded in the :class:`Delivery`. ``known``
    maps the SHA-256 of files already saved for the job to their paths.
    """
    base = api_base if api_base is not None else settings.api_base()
    items = output_items(output)
    names = _names(items, stem)
    tally = _Tally(items, base)
    client = http if http is not None else httpx.Client(**download_client_kwargs(base))
    try:
        for item in tally.trusted:
            try:
                tally.saved(download_file(
                    item.url, dest_dir, expect=item.expect, api_base=base, http=client,
                    max_bytes=max_bytes, retry=retry, sleep=sleep, on_progress=on_progress, known=known,
                    stem=names[item.url],
                ))
            except DownloadError as exc:
                tally.failed(item, exc)
    finally:
        if http is None:
            client.close()
    return tally.delivery()


async def adeliver(
    output: Any,
    dest_dir: Path | str,
    *,
    api_base: str | None = None,
    http: httpx.AsyncClient | None = None,
    max_bytes: int | None = None,
    retry: RetryPolicy = DEFAULT_RETRY,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    on_progress: ProgressCallback | None = None,
    known: Mapping[str, Path] | None = None,
    stem: str | None = None,
) -> Delivery:
    """The asyncio twin of :func:`deliver`."""
    base = api_base if api_base is not None else settings.api_base()
    items = output_items(output)
    names = _names(items, stem)
    tally = _Tally(items, base)
    client = (
        http if http is not None else httpx.AsyncClient(**download_client_kwargs(base, asynchronous=True))
    )
    try:
        for item in tally.trusted:
            try:
                tally.saved(await adownload_file(
                    item.url, dest_dir, expect=item.expect, api_base=base, http=client,
                    max_bytes=max_bytes, retry=retry, sleep=sleep,
                    on_progress=on_progress, known=known, stem=names[item.url],
                ))
            except DownloadError as exc:
                tally.failed(item, exc)
    finally:
        if http is None:
            await client.aclose()
    return tally.delivery()
