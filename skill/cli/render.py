"""Everything the CLI writes: JSON documents, the plan printout, tables and the progress lines.

Commands decide *what* to say; this module decides how it looks, so the human output and the
JSON output stay consistent across commands. The stream discipline lives here too: results go
to stdout, diagnostics and progress to stderr, so ``--json`` stdout is always one parseable
document. Only the standard library and ``skill.money`` are imported, to keep the plan path light.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import Any, TextIO

from skill.money import usd

__all__ = [
    "emit_json",
    "job_line",
    "print_plan",
    "print_report",
    "resume_lines",
    "say",
    "spend_lines",
    "status_line",
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


def print_plan(plan: Any, out: TextIO | None = None) -> None:
    """The human plan: what is sent, what it costs, and which rule decided each choice."""
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
    lines.append("why")
    for slot, rule in plan.decision.rules.items():
        lines.append(f"  {slot:<15} {rule}")
    for change in plan.decision.changes:
        lines.append(f"  change: {change['reason']}")
    words = [f"{s['words']!r}->{s['name']}" + (f" ({s['state']})" if s.get("state") else "") for s in plan.decision.signals]
    if words:
        lines.append("  signals: " + ", ".join(words))
    lines.append("prompt")
    lines.append("  " + plan.prompt)
    if plan.negative_prompt:
        lines.append(f"negative   {plan.negative_prompt}")
    lines.append("payload    " + json.dumps(plan.payload, ensure_ascii=False))
    for w in plan.warnings:
        lines.append(f"warning    {w}")
    (out or sys.stdout).write("\n".join(lines) + "\n")


def status_line(doc: dict[str, Any]) -> str:
    """``kling3 status``: the request_id, its status and, while queued, its position."""
    pos = doc.get("queue_position")
    return f"{doc['request_id']}  {doc['status']}" + (f" (position {pos})" if pos is not None else "")


def job_line(r: dict[str, Any]) -> str:
    """One journal row of ``kling3 jobs``; a job that never got a request_id shows its key."""
    state = "POSSIBLY PAID" if r.get("possibly_paid") else r["state"]
    return (
        f"{r['created_at'][:19]}  {state:<15} {r['tier']:<8} {r['mode']}  {usd(r['cost_usd']):<8} "
        f"{r['request_id'] or '(no request_id: key ' + r['job_key'][:8] + ')'}"
    )


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
    text = "".join(f"{r['day']}  {r['tier']:<8} {r['jobs']:>4} jobs  {usd(r['cost_usd'])}\n" for r in rows)
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
