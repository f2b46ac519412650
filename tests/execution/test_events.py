"""Typed progress events: one sample of each kind survives JSON, and every renderer handles it."""

from __future__ import annotations

import typing

import pytest

from skill.cli.progress import progress_line
from skill.execution import events as ev

SAMPLES: list[ev.Event] = [
    ev.Submitting(endpoint="kling/kling-3.0/pro/text-to-video", segment=1, cost_usd=0.56, job_key="k1"),
    ev.Submitted(request_id="r1", segment=1),
    ev.Status(request_id="r1", status="in_queue", queue_position=3, elapsed_s=1.5),
    ev.Cancelled(request_id="r1"),
    ev.NotCancellable(request_id="r1", message="already running"),
    ev.CancelFailed(request_id="r1", message="the API said no"),
    ev.Downloading(request_id="r1", output_dir="/tmp/out"),
    ev.DownloadProgress(request_id="r1", url="http://127.0.0.1/f.mp4", bytes=10, total=20),
    ev.Done(request_id="r1", files=["/tmp/out/a.mp4", "/tmp/out/b.mp4"]),
    ev.Finishing(segments=2, aspect_ratio="21:9", run_id="run1"),
    ev.FinishFailed(code="video_failed", message="ffmpeg exited 1"),
    ev.Finished(path="/tmp/out/film.mp4"),
    ev.SchemaUnavailable(endpoint="kling/kling-3.0/pro/text-to-video", message="503"),
]


def test_every_event_kind_has_a_sample() -> None:
    union = typing.get_args(typing.get_args(ev.Event)[0])
    assert {type(s) for s in SAMPLES} == set(union)


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: e.event)
def test_json_round_trip_names_the_event_first(event: ev.Event) -> None:
    doc = event.to_json_dict()
    assert next(iter(doc)) == "event"
    assert ev.parse_event(doc) == event


def test_cli_lines_for_people() -> None:
    lines = {e.event: progress_line(e) for e in SAMPLES}
    assert lines["status"] == "[poll] in_queue (position 3)  1.5 s"
    assert lines["submitting"] == "[submit] kling/kling-3.0/pro/text-to-video (segment 1, $0.56)"
    assert lines["done"] == "[ok] /tmp/out/a.mp4\n[ok] /tmp/out/b.mp4"
    assert lines["cancel_failed"] == "[cancel_failed] the API said no"
    assert lines["download_progress"] is None  # drawn as a bar on a TTY instead


def test_mcp_messages() -> None:
    pytest.importorskip("mcp")
    from skill.mcp_server import _render  # the module's own renderer, tested where it lives

    said = {e.event: _render(e) for e in SAMPLES}
    assert said["status"].message == "in_queue (queue position 3), 1.5 s"
    assert said["status"].status == "in_queue (queue position 3)"
    assert said["submitted"].message == "submitted: request_id r1"
    assert said["finished"].message is None


def test_an_unknown_event_is_refused() -> None:
    with pytest.raises(ValueError):
        ev.parse_event({"event": "teleported"})
