"""Everything the CLI writes: JSON documents, the plan printout, tables and the progress lines.

Commands decide *what* to say; this module decides how it looks, so the human output and the
JSON output stay consistent across commands. The stream discipline lives here too: results go
to stdout, diagnostics and progress to stderr, so ``--json`` stdout is always one parseable
document. Only the standard library, ``skill.settings`` and ``skill.money`` are imported, to keep
the plan path light; the live table of ``run`` and ``batch`` (rich) is :mod:`skill.cli.live`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any, TextIO

from skill import settings
from skill.money import usd

__all__ = [
    "elapsed_words",
    "emit_json",
    "job_line",
    "jobs_table",
    "print_plan",
    "print_report",
    "resume_lines",
    "say",
    "spend_lines",
    "status_line",
    "styled",
    "warn",
]


def emit_json(doc: Any, out: TextIO | None = None) -> None:
    """One compact JSON document per line, flushed at once so a reading agent never waits."""
    stream = out or sys.stdout
    stream.write(json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n")
    stream.flush()


def say(msg: str) -> None:
    """A diagnostic for people: stderr, so it never mixes with results on stdout."""
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


_SGR = {"warning": "1;33", "error": "1;31"}


def styled(label: str, stream: TextIO | None = None) -> str:
    """``label`` in bold yellow (warning) or red (error) when ``stream`` (default stderr) is a
    colour terminal; as is on a pipe or when ``NO_COLOR`` is set (https://no-color.org)."""
    if settings.plain_terminal() or not (stream or sys.stderr).isatty():
        return label
    return f"\x1b[{_SGR[label]}m{label}\x1b[0m"


def warn(msg: str) -> None:
    """A warning on stderr that stands out: ``warning: ...``."""
    say(f"{styled('warning')}: {msg}")


_SLOT_NAMES = {
    "mode": "mode", "tier": "tier", "duration": "length", "aspect_ratio": "ratio",
    "generate_audio": "audio", "max_cost_usd": "budget",
}  # fmt: skip


def _slot_value(plan: Any, slot: str) -> str:
    p = plan.params
    value = {
        "mode": plan.mode, "tier": plan.tier, "duration": f"{p.duration} s", "aspect_ratio": p.aspect_ratio,
        "generate_audio": "on" if p.generate_audio else "off", "max_cost_usd": usd(p.max_cost_usd),
    }[slot]  # fmt: skip
    return f"{_SLOT_NAMES[slot]} {value}"


def _conditions(cond: Any) -> Iterable[Any]:
    """Every leaf condition under ``cond`` (a rulebook ``Condition``), ``not`` branches excluded:
    a signal that must be absent decided nothing."""
    if cond is None:
        return
    if cond.all_ or cond.any_:
        for sub in (cond.all_ or []) + (cond.any_ or []):
            yield from _conditions(sub)
    elif cond.not_ is None:
        yield cond


def decided_lines(plan: Any, rules: Any = None) -> list[str]:
    """What decided the plan, in the request's own words: ``tier pro: 'launch video'``, ``budget
    $5.00 from 'keep it under $5'``, ``length 8 s (asked for)``. Defaults are left out (``--json``
    keeps every rule id); ``rules`` (the compiled rule book) links each rule to its signals."""
    by_id = {r.id: r for r in rules.data.rules} if rules is not None else {}
    lines: list[str] = []
    for slot, rule_id in plan.decision.rules.items():
        if slot not in _SLOT_NAMES or rule_id.endswith(".default"):
            continue
        what = _slot_value(plan, slot)
        if rule_id.endswith(".field"):
            lines.append(f"{what} (asked for)")
            continue
        wanted = {(c.signal, c.state) for c in _conditions(getattr(by_id.get(rule_id), "when", None)) if c.signal}
        words = [
            s["words"] for s in plan.decision.signals
            if (s["name"], s.get("state") or "plain") in wanted or (s["name"], "any") in wanted
        ]  # fmt: skip
        if not words:
            lines.append(f"{what} ({rule_id.partition('.')[2].replace('_', ' ')})")
            continue
        quoted = ", ".join(repr(w) for w in dict.fromkeys(words))
        lines.append(f"{what} from {quoted}" if slot == "max_cost_usd" else f"{what}: {quoted}")
    for slot, values in plan.decision.ruled_out.items():
        lines.append(f"{_SLOT_NAMES.get(slot, slot)} not {', '.join(str(v) for v in values)} (ruled out in the text)")
    lines.extend(f"change: {c['reason']}" for c in plan.decision.changes)
    return lines


def print_plan(plan: Any, out: TextIO | None = None, *, rules: Any = None) -> None:
    """The human plan: what is sent, what it costs, and what in the request decided it.

    ``rules`` is the compiled rule book the plan was made with (:func:`decided_lines`).
    """
    p = plan.params
    lines = [
        f"endpoint   {plan.endpoint}",
        f"tier       {plan.tier} ({plan.resolution}), {plan.mode}",
        f"cost       {usd(plan.cost_usd)} for {p.duration} s, audio {'on' if p.generate_audio else 'off'}",
        f"aspect     {p.aspect_ratio}" + ("" if p.render_aspect_ratio == p.aspect_ratio else f" (rendered {p.render_aspect_ratio}, cropped)"),
    ]
    if p.image_url:
        lines.append(f"image      {p.image_url}")
    if p.tail_image_url:
        lines.append(f"end frame  {p.tail_image_url}")
    if len(plan.segments) > 1:
        lines.append(f"calls      {len(plan.segments)}: " + ", ".join(f"{s.duration} s {usd(s.cost_usd)}" for s in plan.segments))
    decided = decided_lines(plan, rules) or ["the defaults: nothing in the request asked otherwise"]
    lines.extend(("why        " if n == 0 else " " * 11) + line for n, line in enumerate(decided))
    lines.append("prompt")
    lines.append("  " + plan.prompt)
    if plan.negative_prompt:
        lines.append(f"negative   {plan.negative_prompt}")
    lines.append("payload    " + json.dumps(plan.payload, ensure_ascii=False))
    for w in plan.warnings:
        lines.append(f"{styled('warning', out or sys.stdout)}    {w}")
    (out or sys.stdout).write("\n".join(lines) + "\n")


def elapsed_words(seconds: float) -> str:
    """``42 s``, ``3 min 5 s``, ``2 h 4 min``: how long, for people."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s"
    return f"{s // 3600} h {s % 3600 // 60} min"


def _since(iso: str | None, now: datetime | None = None) -> float | None:
    if not iso:
        return None
    try:
        then = datetime.fromisoformat(iso)
    except ValueError:
        return None
    return ((now or datetime.now(timezone.utc)) - then).total_seconds()


def _snippet(text: Any, limit: int = 60) -> str:
    words = " ".join(str(text or "").split())
    return words if len(words) <= limit else words[: limit - 3] + "..."


def status_line(doc: dict[str, Any], now: datetime | None = None) -> str:
    """``kling3 status``: the request_id, its status and queue position, then (when the journal
    knows the job) how long since it was submitted, its cost and its prompt."""
    pos = doc.get("queue_position")
    head = f"{doc['request_id']}  {doc['status']}" + (f" (position {pos})" if pos is not None else "")
    job = doc.get("journal")
    if not job:
        return head
    lines = [head]
    since = _since(job.get("created_at"), now)
    if since is not None:
        lines.append(f"  elapsed  {elapsed_words(since)} since it was submitted")
    lines.append(f"  cost     {usd(job.get('cost_usd'))} ({job.get('tier')} {job.get('mode')}, {job.get('model_id')})")
    lines.append(f"  prompt   {_snippet((job.get('payload') or {}).get('prompt'), 200)}")
    return "\n".join(lines)


def job_line(r: dict[str, Any]) -> str:
    """One journal row of ``kling3 jobs``: date, state, tier, cost, the request_id's first
    characters (a job that never got one shows its key: a possibly-paid submit is settled by
    it), the prompt's start; then its files."""
    rid = (r["request_id"] or "")[:8] or "(no id: key " + r["job_key"][:8] + ")"
    state = "POSSIBLY PAID" if r.get("possibly_paid") else r["state"]
    prompt = _snippet((r.get("payload") or {}).get("prompt"))
    line = (f"{r['created_at'][:16].replace('T', ' ')}  {state:<15} {r['tier']:<8} {usd(r['cost_usd']):>7}  "
            f"{_who(r):<16}  {rid:<8}  {prompt}")
    return line + "".join(f"\n{'':{_FILE_COLUMN}}{f}" for f in r.get("files", []))


def _who(r: dict[str, Any]) -> str:
    """Who submitted a job: KLING3_ACTOR, else user@host (16 characters at most)."""
    who = r.get("actor") or (f"{r['os_user']}@{r['host']}" if r.get("os_user") and r.get("host") else r.get("host"))
    text = str(who or "-")
    return text if len(text) <= 16 else text[:15] + "…"


JOBS_HEADER = (f"{'submitted (UTC)':<16}  {'state':<15} {'tier':<8} {'cost':>7}  {'by':<16}  {'request':<8}  "
               "prompt / file")
_FILE_COLUMN = JOBS_HEADER.index("prompt")


def jobs_table(rows: list[dict[str, Any]], runs: Mapping[str, Mapping[str, Any]] | None = None) -> str:
    """``kling3 jobs``: a header, then one entry per job, newest first; the calls of one film
    (a run stitched or cropped here) grouped under a line that names the finished video."""
    if not rows:
        return "no jobs yet: `kling3 plan TEXT` is free, `kling3 run TEXT` makes a video\n"
    out = [JOBS_HEADER]
    done: set[str] = set()
    for r in rows:
        run_id = r.get("run_id")
        if not run_id:
            out.append(job_line(r))
            continue
        if run_id in done:
            continue
        done.add(run_id)
        calls = sorted((x for x in rows if x.get("run_id") == run_id), key=lambda x: x["id"])
        info = (runs or {}).get(run_id) or {}
        video = info.get("video") or "not finished yet (`kling3 resume` finishes it)"
        total = sum(float(c["cost_usd"]) for c in calls)
        shape = f"{info.get('duration', '?')} s {info.get('aspect_ratio', '')}".strip()
        out.append(f"film {shape}, {len(calls)} of {info.get('segments', len(calls))} calls, {usd(total)}: {video}")
        out.extend("  " + job_line(c).replace("\n", "\n  ") for c in calls)
    return "\n".join(out) + "\n"


def resume_lines(o: dict[str, Any]) -> str:
    """One ``kling3 resume`` outcome: its id and status, the error if any, then its files."""
    if o["status"] == "possibly_paid":
        return f"key {o['job_key'][:8]}  POSSIBLY PAID ({usd(o['cost_usd'])}): {o['message']}\n"
    line = f"{o.get('request_id') or 'run ' + str(o.get('run_id'))}  {o['status']}"
    if o.get("error"):
        line += f"  {o['error']['message']}"
    elif o.get("message"):
        line += f"  {o['message']}"
    return line + "\n" + "".join(f"  {f}\n" for f in o.get("files", []))


def spend_lines(
    rows: Iterable[dict[str, Any]], today: float, cap: float | None, cancelled: Iterable[dict[str, Any]] = ()
) -> str:
    """``kling3 spend``: one line per day and tier, today's total against the cap, then the jobs
    cancelled while queued (not charged), apart."""
    text = "".join(f"{r['day']}  {r.get('actor') or r['tier']:<8} {r['jobs']:>4} jobs  {usd(r['cost_usd'])}\n"
                   for r in rows)
    text += f"today {usd(today)}" + (f" of a {usd(cap)} cap" if cap else "") + " (estimates)\n"
    gone = list(cancelled)
    if gone:
        n, cost = sum(r["jobs"] for r in gone), sum(r["cost_usd"] for r in gone)
        text += f"cancelled, not charged: {n} job(s), {usd(cost)}\n"
    return text


def print_report(report: Any, *, as_json: bool, one_document: bool) -> None:
    """A batch report: the table for people, or JSON (one document, or one line per item)."""
    if not as_json:
        sys.stdout.write(report.table() + "\n")
    elif one_document:
        emit_json(report.model_dump(mode="json"))
    else:
        text = report.to_json_lines()
        if text:
            sys.stdout.write(text + "\n")
