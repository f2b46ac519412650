"""Batches against the emulator: bounded concurrency, one budget check, failures kept apart,
interruption then resume without resubmitting."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from skill.errors import InputError
from skill.execution.batch import BatchItem, BatchReport, make_variants, read_jsonl, run_batch
from skill.execution.client import AsyncRunComfyClient, RunComfyClient
from skill.execution.flow import resume
from skill.execution.journal import Journal
from skill.media.ffmpeg import find_ffmpeg
from skill.media.mp4probe import probe_mp4
from skill.testing.emulator import Emulator, Fault

TEXTS = [
    f"a {animal} running on a beach, 5 seconds"
    for animal in ("dog", "cat", "fox", "horse", "goat", "deer")
]


pytestmark = pytest.mark.usefixtures("home")  # every test: a private home, no daily cap

ApiClient = Callable[..., RunComfyClient]
AsyncApiClient = Callable[..., AsyncRunComfyClient]
Batch = Callable[..., BatchReport]


@pytest.fixture
def batch(async_api_client: AsyncApiClient) -> Batch:
    """``batch(emu, requests, **run_batch options)``: run a batch against ``emu``, polling fast."""

    def run(emu: Emulator, requests: list[dict[str, Any]], **kw: Any) -> BatchReport:
        async def go() -> BatchReport:
            async with async_api_client(emu) as client:
                return await run_batch(requests, client=client, poll_interval=0.02, **kw)

        return asyncio.run(go())

    return run


def test_six_requests_at_concurrency_three_all_complete(
    make_emulator: Callable[..., Emulator], journal: Journal, tmp_path: Path, batch: Batch
) -> None:
    emu = make_emulator(queue_seconds=0.1, run_seconds=0.2)
    running: set[int] = set()
    peak = 0
    seen: list[BatchItem] = []

    def on_item(item: BatchItem) -> None:
        nonlocal peak
        seen.append(item)
        if item.status == "running":
            running.add(item.index)
            peak = max(peak, len(running))
        else:
            running.discard(item.index)

    report = batch(
        emu,
        [{"text": t} for t in TEXTS],
        concurrency=3,
        output_dir=tmp_path / "out",
        journal=journal,
        on_item=on_item,
    )
    assert report.counts == {"completed": 6} and report.ok
    assert emu.counts["submit"] == 6 and emu.counts["cancel"] == 0
    assert peak == 3
    assert [i.index for i in report.items] == [1, 2, 3, 4, 5, 6]
    assert report.total_cost_usd == pytest.approx(6 * 0.42) == report.planned_cost_usd
    for item in report.items:
        (path,) = item.files
        assert Path(path).parent == (tmp_path / "out" / str(item.index)).resolve()
        assert probe_mp4(path).duration_s == pytest.approx(5)
        assert len(item.request_ids) == 1 and item.cost_usd == pytest.approx(0.42)
    rows = journal.list(limit=None)
    assert len(rows) == 6 and {r.state for r in rows} == {"downloaded"}
    lines = report.to_json_lines().splitlines()
    assert [json.loads(line)["index"] for line in lines] == [1, 2, 3, 4, 5, 6]
    assert json.loads(lines[0])["status"] == "completed"
    assert "6 item(s): 6 completed" in report.table()
    assert {i.status for i in seen} == {"queued", "running", "completed"}


def test_each_item_lists_the_outputs_it_did_not_save(
    make_emulator: Callable[..., Emulator], journal: Journal, tmp_path: Path, batch: Batch
) -> None:
    emu = make_emulator(result_shape="image_videos", foreign_outputs="image")
    report = batch(emu, [{"text": t} for t in TEXTS[:2]], concurrency=2, output_dir=tmp_path / "out",
                   journal=journal)
    assert report.counts == {"completed": 2}
    for item in report.items:
        (skipped,) = item.skipped
        assert skipped["url"].endswith("/cover.png") and skipped["reason"].startswith("untrusted host")
        assert [Path(f).name[-11:] for f in item.files] == [f"-{item.request_ids[0][:6]}.mp4"]
    assert json.loads(report.to_json_lines().splitlines()[0])["skipped"] == report.items[0].skipped


@pytest.mark.parametrize("over", ["max_cost_usd", "daily_cap"])
def test_a_batch_over_budget_is_refused_before_anything_is_sent(
    emulator: Emulator,
    journal: Journal,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    over: str,
    batch: Batch,
) -> None:
    kw: dict[str, Any] = {}
    if over == "max_cost_usd":
        kw["max_cost_usd"] = 2.0  # 6 x $0.42 = $2.52
    else:
        monkeypatch.setenv("KLING3_DAILY_CAP_USD", "2.00")
    requests = [{"text": t} for t in TEXTS] + [{"text": "a dog", "aspect_ratio": "5:4"}]
    with pytest.raises(InputError) as info:
        batch(emulator, requests, concurrency=3, output_dir=tmp_path / "out", journal=journal, **kw)
    err = info.value
    assert err.code == ("over_budget" if over == "max_cost_usd" else "daily_cap_exceeded")
    assert (
        err.field == "max_cost_usd" and "$2.52" in err.message and "nothing was sent" in err.message
    )
    assert sum(emulator.counts.values()) == 0  # not even a schema fetch
    assert journal.list(limit=None) == []
    assert not (tmp_path / "out").exists()


def test_failure_refusal_and_interruption_then_resume_without_resubmitting(
    make_emulator: Callable[..., Emulator],
    journal: Journal,
    tmp_path: Path,
    api_client: ApiClient,
    async_api_client: AsyncApiClient,
) -> None:
    emu = make_emulator(queue_seconds=0.05, run_seconds=1.0)
    emu.add_fault(
        Fault(route="submit", status=422, on_call=1)
    )  # the first item's submit is refused
    requests = [
        {"text": "a dog on a beach, 5 seconds"},  # 1: API 422
        {"text": "a dog", "aspect_ratio": "5:4"},  # 2: refused by policy, never sent
        {"text": "a cat on a roof, 5 seconds"},  # 3: running when the batch is stopped
        {"text": "a fox in the snow, 5 seconds"},  # 4: never started
    ]
    final: dict[int, BatchItem] = {}

    def on_item(item: BatchItem) -> None:
        if item.status not in ("queued", "running"):
            final[item.index] = item

    async def go() -> None:
        async with async_api_client(emu) as client:
            task = asyncio.ensure_future(
                run_batch(
                    requests,
                    concurrency=1,
                    output_dir=tmp_path / "out",
                    poll_interval=0.02,
                    client=client,
                    journal=journal,
                    on_item=on_item,
                )
            )
            for _ in range(500):  # wait until item 3's job is running (no longer cancellable)
                await asyncio.sleep(0.01)
                jobs = emu.jobs()
                if jobs and jobs[-1]["status"] == "in_progress":
                    break
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    asyncio.run(go())
    assert final[1].status == "failed" and final[1].error is not None
    assert final[1].error["code"] == "api_rejected_input" and final[1].cost_usd == 0
    assert final[2].status == "refused" and final[2].error is not None
    assert final[2].error["code"] == "bad_aspect_ratio" and final[2].cost_usd == 0
    assert final[3].status == "interrupted" and len(final[3].request_ids) == 1
    assert final[3].cost_usd == pytest.approx(0.42)
    assert final[4].status == "not_started" and final[4].request_ids == []
    report = BatchReport.from_items(list(final.values()))
    assert report.counts == {"failed": 1, "refused": 1, "interrupted": 1, "not_started": 1}
    assert "kling3 resume --all" in report.table()

    assert (
        emu.counts["submit"] == 2 and emu.counts["cancel"] == 1
    )  # cancel asked, job not cancellable
    (rid,) = final[3].request_ids
    job = journal.get(rid)
    assert job is not None and job.state == "in_progress"
    with api_client(emu) as client:
        outcomes = resume(None, poll_interval=0.05, client=client, journal=journal)
    assert [(o["request_id"], o["status"]) for o in outcomes] == [(rid, "completed")]
    assert emu.counts["submit"] == 2  # nothing resubmitted
    (path,) = outcomes[0]["files"]
    assert Path(path).parent == (tmp_path / "out" / "3").resolve() and Path(path).exists()
    assert journal.unfinished() == []


def test_interrupting_a_batch_cancels_its_queued_jobs_at_the_api(
    make_emulator: Callable[..., Emulator],
    journal: Journal,
    tmp_path: Path,
    api_client: ApiClient,
    async_api_client: AsyncApiClient,
) -> None:
    emu = make_emulator(queue_seconds=30, run_seconds=1)
    final: list[BatchItem] = []

    async def go() -> None:
        async with async_api_client(emu) as client:
            task = asyncio.ensure_future(
                run_batch(
                    [{"text": t} for t in TEXTS[:2]],
                    concurrency=2,
                    output_dir=tmp_path / "out",
                    poll_interval=0.02,
                    client=client,
                    journal=journal,
                    on_item=lambda i: final.append(i) if i.status == "interrupted" else None,
                )
            )
            assert await asyncio.to_thread(emu.wait_for_requests, "status", 2)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    asyncio.run(go())
    assert len(final) == 2 and emu.counts["cancel"] == 2
    # Cancelled while queued: not charged, shown apart in the summary.
    assert all(i.cost_usd == 0 and i.cancelled_usd == pytest.approx(0.42) for i in final)
    report = BatchReport.from_items(final)
    assert report.total_cost_usd == 0 and report.cancelled_usd == pytest.approx(0.84)
    assert "cancelled, not charged $0.84" in report.table()
    assert {j["status"] for j in emu.jobs()} == {"cancelled"}
    assert {r.state for r in journal.list(limit=None)} == {"cancelled"}
    with api_client(emu) as client:
        assert resume(None, client=client, journal=journal) == []
    assert emu.counts["submit"] == 2


@pytest.mark.skipif(find_ffmpeg() is None, reason="no ffmpeg: install kling3-skill[video]")
def test_a_long_cropped_item_is_stitched_and_cropped(
    emulator: Emulator, journal: Journal, tmp_path: Path, batch: Batch
) -> None:
    report = batch(
        emulator,
        [{"text": "a red kite over green hills", "duration": 20, "aspect_ratio": "21:9"}],
        output_dir=tmp_path / "out",
        journal=journal,
    )
    (item,) = report.items
    assert item.status == "completed" and item.calls == 2 and len(item.files) == 2
    assert emulator.counts["submit"] == 2
    assert item.video is not None
    info = probe_mp4(item.video)
    assert (
        abs(info.duration_s - 20) <= 0.5 and abs(info.width / info.height - 21 / 9) <= 0.02 * 21 / 9
    )
    assert all(Path(f).exists() for f in item.files)  # segments kept


def test_make_variants_spreads_cfg_scale() -> None:
    req = {"text": "a lighthouse at dusk", "duration": 5}
    variants = make_variants(req, 3)
    assert [v["cfg_scale"] for v in variants] == [0.3, 0.55, 0.8]
    assert all({k: v for k, v in x.items() if k != "cfg_scale"} == req for x in variants)
    assert [v["cfg_scale"] for v in make_variants(req, 6)] == [0.3, 0.4, 0.5, 0.6, 0.7, 0.8]
    assert make_variants(req, 1) == [req] and "cfg_scale" not in req
    with pytest.raises(InputError) as info:
        make_variants({**req, "cfg_scale": 0.5}, 3)
    assert info.value.field == "variants" and info.value.code == "variants_conflict"
    for bad in (0, 11, True):
        with pytest.raises(InputError):
            make_variants(req, bad)


def test_read_jsonl_numbers_bad_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text(
        '{"text": "a dog"}\n\n"a cat, 5 seconds"\n{"text": "a fox", "duration": 4}\n',
        encoding="utf-8",
    )
    assert read_jsonl(good) == [
        {"text": "a dog"},
        {"text": "a cat, 5 seconds"},
        {"text": "a fox", "duration": 4},
    ]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "a dog"}\n{"text": oops}\n', encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_jsonl(bad)
    assert (
        info.value.code == "bad_jsonl"
        and f"{bad}:2:" in info.value.message
        and info.value.details["line"] == 2
    )
    bad.write_text('{"text": "a dog"}\n[1, 2]\n', encoding="utf-8")
    with pytest.raises(InputError, match=":2: each line must be a JSON object"):
        read_jsonl(bad)
    with pytest.raises(InputError) as missing:
        read_jsonl(tmp_path / "nope.jsonl")
    assert missing.value.code == "file_not_found"
    monkeypatch.setattr("sys.stdin", io.StringIO('{"text": "from stdin"}\n'))
    assert read_jsonl("-") == [{"text": "from stdin"}]
