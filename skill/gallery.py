"""The gallery: one static HTML page of the finished videos in the journal, to compare them.

Opening files one by one to compare three variants is tedious; this page puts them side by side.
It is built from the journal alone (what was asked, what it cost, where the file is) and needs no
server, no network and no script: every video is a ``<video controls>`` on its ``file://`` URL
with its contact sheet as the poster, and the styles are inline. Jobs are grouped the way they
were made: the variants of one request side by side, a batch together, the calls of a film
collapsed into the finished video. Every value from the journal is HTML-escaped (jinja2's
sandbox with autoescape); a file no longer on disk is left out rather than shown broken.

``kling3 gallery`` writes the page for the whole journal; ``run --variants`` and ``batch`` write
one for their own batch beside the videos and print its address.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from skill.data import data_path
from skill.execution.journal import JobRecord, Journal
from skill.media.contact_sheet import sheet_path
from skill.money import usd

__all__ = ["Card", "Gallery", "Group", "collect", "render", "write_gallery"]

_TEMPLATE = "gallery.html.j2"
_KIND_LABELS = {"variants": "variants", "batch": "batch", "film": "film", "video": "video"}


@dataclass(frozen=True)
class Card:
    """One playable video and the facts of the job that made it."""

    video_path: Path
    prompt: str
    endpoint: str
    duration: str
    ratio: str
    cfg_scale: float | None
    cost_usd: float
    request_id: str
    date: str

    @property
    def video_uri(self) -> str:
        return self.video_path.as_uri()

    @property
    def poster_uri(self) -> str | None:
        poster = sheet_path(self.video_path)
        return poster.as_uri() if poster.is_file() else None

    @property
    def file_name(self) -> str:
        return self.video_path.name

    @property
    def cost(self) -> str:
        return usd(self.cost_usd)

    def to_json_dict(self) -> dict[str, Any]:
        return {"path": str(self.video_path), "uri": self.video_uri, "poster": self.poster_uri,
                "prompt": self.prompt, "endpoint": self.endpoint, "duration": self.duration, "ratio": self.ratio,
                "cfg_scale": self.cfg_scale, "cost_usd": self.cost_usd, "request_id": self.request_id,
                "date": self.date}  # fmt: skip


@dataclass(frozen=True)
class Group:
    """Videos made together: ``variants`` (one request, cfg_scale spread), a ``batch``, a ``film``
    (calls stitched or cropped into one video) or a single ``video``."""

    kind: str
    title: str
    cards: tuple[Card, ...]

    @property
    def kind_label(self) -> str:
        return _KIND_LABELS[self.kind]


@dataclass(frozen=True)
class Gallery:
    groups: tuple[Group, ...]
    made: str

    @property
    def videos(self) -> int:
        return sum(len(g.cards) for g in self.groups)

    @property
    def total_cost_usd(self) -> float:
        return round(sum(c.cost_usd for g in self.groups for c in g.cards), 4)

    def to_json_dict(self) -> dict[str, Any]:
        return {"groups": [{"kind": g.kind, "title": g.title, "videos": [c.to_json_dict() for c in g.cards]}
                           for g in self.groups], "videos": self.videos, "cost_usd": self.total_cost_usd}  # fmt: skip


# -- from the journal ----------------------------------------------------------------------------


def _snippet(text: str, limit: int = 70) -> str:
    words = " ".join(text.split())
    return words if len(words) <= limit else words[: limit - 3] + "..."


def _date(iso: str) -> str:
    return iso[:16].replace("T", " ") + " UTC"


def _card(job: JobRecord, path: Path, **override: Any) -> Card:
    p = job.payload
    facts: dict[str, Any] = {
        "video_path": path, "prompt": str(p.get("prompt") or ""), "endpoint": job.model_id,
        "duration": f"{p.get('duration', '?')} s", "ratio": str(p.get("aspect_ratio") or "as the image"),
        "cfg_scale": p.get("cfg_scale"), "cost_usd": job.cost_usd, "request_id": job.request_id or job.job_key,
        "date": _date(job.created_at),
    }  # fmt: skip
    return Card(**{**facts, **override})


def _videos(journal: Journal, job: JobRecord) -> list[Path]:
    """The job's saved MP4s still on disk."""
    paths = [Path(f.path) for f in journal.files(job)]
    return [p for p in paths if p.suffix.lower() == ".mp4" and p.is_file()]


def _film(journal: Journal, run_id: str, calls: list[JobRecord]) -> list[Card]:
    """The finished video of a run as one card, or its calls' own files while it is unfinished."""
    info = journal.run_info(run_id) or {}
    video = Path(info["video"]) if info.get("video") else None
    if video is not None and video.is_file():
        first = calls[0]
        more = f" (+{len(calls) - 1} calls)" if len(calls) > 1 else ""
        return [_card(first, video, duration=f"{info.get('duration')} s", ratio=str(info.get("aspect_ratio")),
                      cost_usd=round(sum(c.cost_usd for c in calls), 4),
                      request_id=(first.request_id or first.job_key) + more)]  # fmt: skip
    return [_card(c, p) for c in calls for p in _videos(journal, c)]


def _cards(journal: Journal, jobs: list[JobRecord]) -> list[Card]:
    """Cards of a group's jobs, oldest first, a film's calls collapsed into its video."""
    cards: list[Card] = []
    done_runs: set[str] = set()
    for job in sorted(jobs, key=lambda j: j.id):
        if job.run_id:
            if job.run_id not in done_runs:
                done_runs.add(job.run_id)
                cards.extend(_film(journal, job.run_id, [j for j in jobs if j.run_id == job.run_id]))
            continue
        cards.extend(_card(job, p) for p in _videos(journal, job))
    return cards


def _is_variants(jobs: list[JobRecord]) -> bool:
    """Several jobs whose wire bodies differ in cfg_scale alone (``run --variants``)."""
    if len(jobs) < 2:
        return False
    bodies = [{k: v for k, v in j.payload.items() if k != "cfg_scale"} for j in jobs]
    scales = [j.payload.get("cfg_scale") for j in jobs]
    return all(b == bodies[0] for b in bodies) and len(set(scales)) == len(scales)


def _group(journal: Journal, key: tuple[str, str], jobs: list[JobRecord]) -> Group | None:
    cards = tuple(_cards(journal, jobs))
    if not cards:
        return None
    kind, _ = key
    if kind == "batch" and _is_variants(jobs):
        scales = ", ".join(str(c.cfg_scale) for c in cards)
        return Group("variants", f"{len(cards)} variants of \u201c{_snippet(cards[0].prompt)}\u201d (cfg_scale {scales})", cards)
    if kind == "batch":
        return Group("batch", f"a batch of {len(cards)} video{'s' if len(cards) != 1 else ''}", cards)
    if kind == "run":
        return Group("film", f"\u201c{_snippet(cards[0].prompt)}\u201d, {cards[0].duration} in {len(jobs)} calls", cards)
    return Group("video", f"\u201c{_snippet(cards[0].prompt)}\u201d", cards)


def collect(journal: Journal, *, limit: int | None = 50, batch_id: str | None = None) -> Gallery:
    """The finished jobs (newest ``limit``, or every one of a batch), grouped, newest group first."""
    jobs = journal.list(limit=None if batch_id else limit, states=["downloaded"], batch_id=batch_id)
    grouped: dict[tuple[str, str], list[JobRecord]] = {}
    for job in jobs:  # newest first, so groups come out newest first
        key = ("batch", job.batch_id) if job.batch_id else ("run", job.run_id) if job.run_id else ("job", job.job_key)
        grouped.setdefault(key, []).append(job)
    groups = (_group(journal, key, members) for key, members in grouped.items())
    made = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return Gallery(tuple(g for g in groups if g is not None), made)


# -- the page ------------------------------------------------------------------------------------


def render(gallery: Gallery) -> str:
    """The page's HTML: the bundled template in jinja2's sandbox, every value escaped."""
    from jinja2.sandbox import SandboxedEnvironment

    from skill._version import __version__

    env = SandboxedEnvironment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    template = env.from_string(data_path(_TEMPLATE).read_text(encoding="utf-8"))
    return template.render(groups=gallery.groups, videos=gallery.videos, total_cost=usd(gallery.total_cost_usd),
                           made=gallery.made, version=__version__)  # fmt: skip


def write_gallery(path: str | os.PathLike[str], gallery: Gallery) -> Path:
    """Write the page to ``path`` atomically (a temporary beside it, then a rename); returns it."""
    dest = Path(path).expanduser().resolve()
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{secrets.token_hex(6)}.tmp")
    try:
        tmp.write_text(render(gallery), encoding="utf-8")
        os.replace(tmp, dest)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    return dest
