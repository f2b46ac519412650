"""The journal's two read paths that must not scan: `spend` (a covering index) and a request_id
or job_key prefix (an index range). Each test checks the plan SQLite picks and that the answer
is the one a plain scan over every job gives."""

from __future__ import annotations

import contextlib
import sqlite3
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from skill.errors import InputError
from skill.execution.journal import PREFIX_QUERY, SPEND_QUERY, JobRecord, Journal, prefix_upper

MODEL = "kling/kling-3.0/standard/text-to-video"
BASES = ("http://127.0.0.1:9/v1", "https://model-api.runcomfy.net/v1", None)


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def _fill(jr: Journal, clock: Clock) -> None:
    """120 jobs over 6 days, 3 tiers, 3 bases, in every state that counts or not."""
    for i in range(120):
        clock.now += timedelta(hours=1, minutes=7)
        rec = jr.begin(MODEL, ("standard", "pro", "4k")[(i // 2) % 3], "t2v", {"prompt": f"p{i}"},
                       round(0.07 * (i % 9), 2), api_base=BASES[(i // 6) % 3])
        kind = i % 6
        if kind != 5:  # kind 5 stays a submit in flight (counted, no request_id)
            if kind == 4:
                jr.mark_unconfirmed(rec.job_key)
            else:
                jr.set_request_id(rec.job_key, f"r{i % 4:x}{i:05x}-req")
        if kind == 1:
            jr.update_state(rec.job_key, "cancelled")
        elif kind == 2:
            jr.update_state(rec.job_key, "downloaded")
        elif kind == 3 and i % 4 == 0:
            jr.update_state(rec.job_key, "failed")


@pytest.fixture(params=["sqlite", "postgresql"])
def filled(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Journal, Clock]]:
    """A filled journal on each backend."""
    clock = Clock(datetime(2025, 5, 1, 8, 0, tzinfo=timezone.utc))
    target = tmp_path / "jobs.sqlite3" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    with Journal(target, clock=clock) as jr:
        _fill(jr, clock)
        yield jr, clock


@pytest.fixture
def filled_file(tmp_path: Path) -> Iterator[Journal]:
    """A filled SQLite journal, for the plans SQLite's query planner picks."""
    clock = Clock(datetime(2025, 5, 1, 8, 0, tzinfo=timezone.utc))
    with Journal(tmp_path / "jobs.sqlite3", clock=clock) as jr:
        _fill(jr, clock)
        yield jr


def _counts(job: JobRecord) -> bool:
    return job.state != "cancelled" and (job.request_id is not None or job.state in ("unconfirmed", "submitting"))


def _by_scan(jr: Journal, base: str | None, since: str, cancelled: bool) -> list[dict[str, object]]:
    """The spend rows computed in Python from every job: what the index must reproduce."""
    sums: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0.0])
    for job in jr.list(limit=None):
        if base is not None and job.api_base not in (None, base):
            continue
        wanted = (job.state == "cancelled" and job.request_id is not None) if cancelled else _counts(job)
        if wanted and job.created_at[:10] >= since:
            total = sums[job.created_at[:10], job.tier]
            total[0] += 1
            total[1] += job.cost_usd
    keys = sorted(sums, key=lambda k: (-int(k[0].replace("-", "")), k[1]))
    return [{"day": d, "tier": t, "jobs": sums[d, t][0], "cost_usd": round(sums[d, t][1], 6)} for d, t in keys]


def _plan(path: Path, sql: str, params: dict[str, object]) -> str:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return " / ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params))


@pytest.mark.parametrize("base", [BASES[0], BASES[1], None])
@pytest.mark.parametrize("days", [None, 1, 3])
def test_spend_from_the_index_equals_a_scan(filled: tuple[Journal, Clock], base: str | None, days: int | None) -> None:
    jr, clock = filled
    since = "" if days is None else (clock.now.date() - timedelta(days=days - 1)).isoformat()
    counted, gone = jr.spend_report(days, api_base=base)
    assert [r.to_dict() for r in counted] == _by_scan(jr, base, since, cancelled=False)
    assert [r.to_dict() for r in gone] == _by_scan(jr, base, since, cancelled=True)
    assert counted and gone
    assert jr.spend(days, api_base=base) == counted
    assert jr.spend(days, api_base=base, cancelled=True) == gone


def test_spend_reads_the_covering_index_only(filled_file: Journal) -> None:
    jr = filled_file
    plan = _plan(jr.path, SPEND_QUERY, {"since": "", "base": BASES[0]})
    assert "USING COVERING INDEX jobs_spend" in plan, plan
    assert "TEMP B-TREE" not in plan, plan


def test_prefix_is_an_index_range_on_both_keys(filled_file: Journal) -> None:
    jr = filled_file
    plan = _plan(jr.path, PREFIX_QUERY, {"low": "abcdef", "high": "abcdeg"})
    assert "request_id>? AND request_id<?" in plan and "job_key>? AND job_key<?" in plan, plan
    assert "SCAN jobs" not in plan, plan


def test_prefix_lookups_find_what_a_scan_finds(filled: tuple[Journal, Clock]) -> None:
    jr, _ = filled
    every = jr.list(limit=None)
    names = [j.request_id for j in every if j.request_id] + [j.job_key for j in every]
    seen = {"ambiguous": 0, "one": 0}
    for name in names[::7]:
        for cut in (6, 8, len(name)):
            ref = name[:cut]
            matches = {j.id for j in every if (j.request_id or "").startswith(ref) or j.job_key.startswith(ref)}
            if len(matches) > 1:
                with pytest.raises(InputError) as err:
                    jr.get(ref)
                assert err.value.code == "ambiguous_job"
                seen["ambiguous"] += 1
            else:
                found = jr.get(ref)
                assert found is not None and {found.id} == matches
                seen["one"] += 1
    assert seen["ambiguous"] and seen["one"], seen
    assert jr.get("zzzzzz") is None


def test_prefix_upper_bounds_exactly_the_texts_with_that_prefix() -> None:
    assert prefix_upper("abc") == "abd"
    assert prefix_upper("ab\U0010ffff") == "ac"
    assert prefix_upper("a\ud7ff") == "a\ue000"
    assert prefix_upper("\U0010ffff") is None
    for text in ("abc", "abc\x00", "abcz", "abc\U0010ffff\U0010ffff"):
        assert "abc" <= text < "abd"
    assert not ("abc" <= "abd" < "abd")
