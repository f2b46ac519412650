"""The emulator speaks the RunComfy Model API protocol over real sockets, and faults fire on cue."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from skill.media.mp4probe import probe_mp4
from skill.testing.emulator import COUNTERS_PATH, OVERSIZE_BYTES, Emulator, EmulatorConfig, Fault

T2V = "kling/kling-3.0/standard/text-to-video"
I2V = "kling/kling-3.0/standard/image-to-video"
PRO_I2V = "kling/kling-3.0/pro/image-to-video"
IMAGE = "https://example.com/start.png"

MakeEmulator = Callable[..., Emulator]

# Building a TLS context costs ~30 ms per client even for http:// URLs; build it once.
_TLS = ssl.create_default_context()


@pytest.fixture(scope="module")
def plain() -> Iterator[httpx.Client]:
    """A client without credentials, as a downloader uses for output URLs."""
    with httpx.Client(timeout=5.0, trust_env=False, verify=_TLS) as client:
        yield client


@pytest.fixture
def api() -> Iterator[Callable[..., httpx.Client]]:
    """Factory: an API client sending the emulator's Bearer token (or ``token``)."""
    clients: list[httpx.Client] = []

    def factory(emu: Emulator, token: str | None = None) -> httpx.Client:
        client = httpx.Client(
            headers={"Authorization": f"Bearer {token or emu.token}"},
            timeout=5.0,
            trust_env=False,
            verify=_TLS,
        )
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.close()


def _submit(client: httpx.Client, emu: Emulator, model: str = T2V, **body: Any) -> dict[str, Any]:
    resp = client.post(f"{emu.base_url}/models/{model}", json=body or {"prompt": "a red fox"})
    assert resp.status_code == 200, resp.text
    data: dict[str, Any] = resp.json()
    return data


def _wait_done(client: httpx.Client, url: str, timeout: float = 5.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record: dict[str, Any] = client.get(url).json()
        if record["status"] not in ("in_queue", "in_progress"):
            return record
        time.sleep(0.02)
    raise AssertionError("job did not finish")


# -- lifecycle -----------------------------------------------------------------------------------


def test_submit_status_result_lifecycle(make_emulator: MakeEmulator, api: Any) -> None:
    emu = make_emulator(queue_seconds=0.3, run_seconds=0.2, queue_position=3)
    client = api(emu)
    sub = _submit(client, emu, prompt="a red fox", duration=5)

    rid = sub["request_id"]
    assert str(uuid.UUID(rid)) == rid
    base = f"{emu.origin}/v1/requests/{rid}"
    assert sub == {
        "request_id": rid,
        "status_url": f"{base}/status",
        "result_url": f"{base}/result",
        "cancel_url": f"{base}/cancel",
    }

    early = client.get(sub["result_url"]).json()
    assert early["status"] in ("in_queue", "in_progress")
    assert "output" not in early

    seen: list[tuple[str, int | None]] = []
    while True:
        record = client.get(sub["status_url"]).json()
        assert record["request_id"] == rid
        assert record["status_url"] == sub["status_url"]
        assert record["result_url"] == sub["result_url"]
        if record["status"] == "in_queue":
            assert isinstance(record["queue_position"], int)
        else:
            assert "queue_position" not in record
        seen.append((record["status"], record.get("queue_position")))
        if record["status"] == "completed":
            break
        time.sleep(0.03)

    statuses = [s for s, _ in seen]
    assert statuses[0] == "in_queue"
    assert "in_progress" in statuses
    order = {"in_queue": 0, "in_progress": 1, "completed": 2}
    assert [order[s] for s in statuses] == sorted(order[s] for s in statuses)
    positions = [p for s, p in seen if s == "in_queue" and p is not None]
    assert positions == sorted(positions, reverse=True)
    assert 1 <= positions[-1] <= positions[0] <= 3

    result = client.get(sub["result_url"]).json()
    assert result["status"] == "succeeded"
    assert result["output"] == {"video": f"{emu.origin}/files/{rid}/output.mp4"}
    assert result["created_at"] <= result["finished_at"]
    assert emu.job(rid)["status"] == "completed"
    assert emu.counts["submit"] == 1
    assert emu.counts["status"] == len(seen)
    assert emu.counts["result"] == 2


def test_queue_position_starts_at_the_configured_value(
    make_emulator: MakeEmulator, api: Any
) -> None:
    emu = make_emulator(queue_seconds=60, queue_position=4)
    client = api(emu)
    sub = _submit(client, emu)
    record = client.get(sub["status_url"]).json()
    assert (record["status"], record["queue_position"]) == ("in_queue", 4)


def test_failed_job_reports_its_error(
    make_emulator: MakeEmulator, api: Any, plain: httpx.Client
) -> None:
    error = {"code": "content_policy", "message": "prompt rejected"}
    emu = make_emulator(fail_job=error)
    client = api(emu)
    sub = _submit(client, emu)
    assert _wait_done(client, sub["status_url"])["status"] == "failed"
    result = client.get(sub["result_url"]).json()
    assert result["status"] == "failed"
    assert result["error"] == error
    assert "output" not in result
    assert plain.get(emu.job(sub["request_id"])["output_url"]).status_code == 404


# -- auth and validation -------------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_bad_or_missing_token_is_401(
    emulator: Emulator, api: Any, token: str | None, plain: httpx.Client
) -> None:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    calls = [
        ("POST", f"{emulator.base_url}/models/{T2V}"),
        ("GET", f"{emulator.base_url}/models/{T2V}"),
        ("GET", f"{emulator.base_url}/requests/{uuid.uuid4()}/status"),
    ]
    for method, url in calls:
        resp = plain.request(method, url, headers=headers, json={"prompt": "x"})
        assert resp.status_code == 401
        assert resp.json()["error_code"] == 400004
        assert resp.json()["error_message"]
    assert emulator.jobs() == []
    assert emulator.counts["submit"] == 1
    assert emulator.counts["schema"] == 1


@pytest.mark.parametrize(
    ("model", "body", "field"),
    [
        (I2V, {"prompt": "x", "start_image_url": IMAGE, "sound": True}, "sound"),
        (I2V, {"prompt": "x", "start_image_url": IMAGE, "end_image_url": IMAGE}, "end_image_url"),
        (T2V, {"prompt": "x", "duration": 20}, "duration"),
        (T2V, {"prompt": "x", "aspect_ratio": "4:3"}, "aspect_ratio"),
        (T2V, {"duration": 5}, "prompt"),
        (I2V, {"prompt": "x"}, "start_image_url"),
    ],
)
def test_invalid_body_is_422_naming_the_field(
    emulator: Emulator, api: Any, model: str, body: dict[str, Any], field: str
) -> None:
    resp = api(emulator).post(f"{emulator.base_url}/models/{model}", json=body)
    assert resp.status_code == 422
    data = resp.json()
    assert data["error_code"] == 422
    assert data["error_message"].startswith(field)
    assert [field] in [d["loc"] for d in data["detail"]]
    assert emulator.jobs() == []
    assert emulator.counts["submit"] == 1


def test_end_image_is_accepted_where_the_schema_has_it(emulator: Emulator, api: Any) -> None:
    body = {
        "prompt": "x",
        "start_image_url": IMAGE,
        "end_image_url": IMAGE,
        "generate_audio": False,
    }
    sub = _submit(api(emulator), emulator, PRO_I2V, **body)
    assert emulator.job(sub["request_id"])["body"] == body


@pytest.mark.parametrize("content", [b"[1, 2]", b"not json", b""])
def test_body_must_be_a_json_object(emulator: Emulator, api: Any, content: bytes) -> None:
    resp = api(emulator).post(
        f"{emulator.base_url}/models/{T2V}",
        content=content,
        headers={"Content-Type": "application/json"},
    )
    assert resp.status_code == 422
    assert resp.json()["detail"][0]["loc"] == ["body"]


def test_not_found_answers(emulator: Emulator, api: Any) -> None:
    client = api(emulator)
    unknown_model = client.post(
        f"{emulator.base_url}/models/kling/kling-9/text-to-video", json={"prompt": "x"}
    )
    assert (unknown_model.status_code, unknown_model.json()["error_code"]) == (404, 400001)
    unknown_id = client.get(f"{emulator.base_url}/requests/{uuid.uuid4()}/result")
    assert (unknown_id.status_code, unknown_id.json()["error_code"]) == (404, 404001)
    nowhere = client.get(f"{emulator.origin}/v2/elsewhere")
    assert nowhere.status_code == 404
    assert "error_code" in nowhere.json()


def test_no_balance_is_402_and_creates_no_job(make_emulator: MakeEmulator, api: Any) -> None:
    emu = make_emulator(no_balance=True)
    resp = api(emu).post(f"{emu.base_url}/models/{T2V}", json={"prompt": "x"})
    assert resp.status_code == 402
    assert resp.json() == {"error_code": 400002, "error_message": "Insufficient balance"}
    assert emu.jobs() == []


def test_schema_route_describes_the_model(emulator: Emulator, api: Any) -> None:
    data = api(emulator).get(f"{emulator.base_url}/models/{PRO_I2V}").json()
    assert data["model_id"] == PRO_I2V
    assert data["price_unit"] == "second"
    assert data["base_price_usd"] > 0
    schema = data["input_schema"]
    assert schema["required"] == ["prompt", "start_image_url"]
    assert schema["properties"]["duration"] == {
        "type": "integer",
        "minimum": 3,
        "maximum": 15,
        "default": 10,
    }
    assert "end_image_url" in schema["properties"]
    assert "sound" not in schema["properties"]


# -- cancel --------------------------------------------------------------------------------------


def test_cancel_while_queued_cancels(make_emulator: MakeEmulator, api: Any) -> None:
    emu = make_emulator(queue_seconds=60)
    client = api(emu)
    sub = _submit(client, emu)
    resp = client.post(sub["cancel_url"])
    assert resp.status_code == 202
    assert resp.json() == {
        "request_id": sub["request_id"],
        "status": "cancelled",
        "outcome": "cancelled",
    }
    assert client.get(sub["status_url"]).json()["status"] == "cancelled"
    assert client.get(sub["result_url"]).json()["status"] == "cancelled"
    assert emu.job(sub["request_id"])["cancelled"] is True


def test_cancel_while_running_is_not_cancellable(make_emulator: MakeEmulator, api: Any) -> None:
    emu = make_emulator(queue_seconds=0, run_seconds=60)
    client = api(emu)
    sub = _submit(client, emu)
    resp = client.post(sub["cancel_url"])
    assert resp.status_code == 202
    assert resp.json()["outcome"] == "not_cancellable"
    assert resp.json()["status"] == "in_progress"
    assert client.get(sub["status_url"]).json()["status"] == "in_progress"
    assert emu.counts["cancel"] == 1


# -- faults --------------------------------------------------------------------------------------


def test_http_fault_fires_on_the_nth_call_only(make_emulator: MakeEmulator, api: Any) -> None:
    emu = make_emulator(faults=[Fault(route="status", status=503, retry_after=0.5, on_call=2)])
    client = api(emu)
    sub = _submit(client, emu)
    codes = [client.get(sub["status_url"]) for _ in range(3)]
    assert [r.status_code for r in codes] == [200, 503, 200]
    assert codes[1].headers["Retry-After"] == "0.5"
    assert codes[1].json()["error_code"] == 503
    assert "Retry-After" not in codes[0].headers
    assert emu.counts["status"] == 3


def test_http_fault_with_times_zero_lasts_forever(make_emulator: MakeEmulator, api: Any) -> None:
    body = {"error_code": 429, "error_message": "slow down"}
    emu = make_emulator(faults=[Fault(route="submit", status=429, body=body, on_call=2, times=0)])
    client = api(emu)
    _submit(client, emu)
    for _ in range(3):
        resp = client.post(f"{emu.base_url}/models/{T2V}", json={"prompt": "x"})
        assert (resp.status_code, resp.json()) == (429, body)
    assert len(emu.jobs()) == 1
    assert emu.counts["submit"] == 4


def test_dropped_submit_still_creates_the_job(make_emulator: MakeEmulator, api: Any) -> None:
    emu = make_emulator(faults=[Fault(route="submit", kind="drop", on_call=2)])
    client = api(emu)
    _submit(client, emu)
    with pytest.raises(httpx.RemoteProtocolError):
        client.post(f"{emu.base_url}/models/{T2V}", json={"prompt": "lost answer"})
    _submit(client, emu)
    assert [j["body"]["prompt"] for j in emu.jobs()] == ["a red fox", "lost answer", "a red fox"]


def test_hang_fault_outlasts_a_client_timeout_then_answers(
    make_emulator: MakeEmulator, api: Any
) -> None:
    emu = make_emulator(
        faults=[
            Fault(route="schema", kind="hang", hang_seconds=2.0, on_call=1),
            Fault(route="schema", kind="hang", hang_seconds=0.2, on_call=2),
        ]
    )
    client = api(emu)
    url = f"{emu.base_url}/models/{T2V}"
    with pytest.raises(httpx.ReadTimeout):
        client.get(url, timeout=0.2)
    started = time.monotonic()
    assert client.get(url).status_code == 200
    assert time.monotonic() - started >= 0.2
    started = time.monotonic()
    assert client.get(url).status_code == 200
    assert time.monotonic() - started < 0.2


def _finished_video_url(emu: Emulator, client: httpx.Client, model: str = T2V, **body: Any) -> str:
    sub = _submit(client, emu, model, **body)
    _wait_done(client, sub["status_url"])
    url: str = client.get(sub["result_url"]).json()["output"]["video"]
    return url


def test_truncate_fault_sends_less_than_promised(
    make_emulator: MakeEmulator, api: Any, plain: httpx.Client
) -> None:
    emu = make_emulator(faults=[Fault(route="download", kind="truncate", on_call=1)])
    url = _finished_video_url(emu, api(emu))
    received = 0
    with pytest.raises(httpx.RemoteProtocolError), plain.stream("GET", url) as resp:
        promised = int(resp.headers["Content-Length"])
        for chunk in resp.iter_raw():
            received += len(chunk)
    assert 0 < received < promised
    second = plain.get(url)
    assert second.status_code == 200
    assert len(second.content) == int(second.headers["Content-Length"])
    assert emu.counts["download"] == 2


def test_oversize_fault_claims_3_gib_and_streams_until_hang_up(
    make_emulator: MakeEmulator,
    api: Any,
    plain: httpx.Client,
) -> None:
    emu = make_emulator(faults=[Fault(route="download", kind="oversize", on_call=1)])
    url = _finished_video_url(emu, api(emu))
    with plain.stream("GET", url) as resp:
        assert int(resp.headers["Content-Length"]) == OVERSIZE_BYTES
        received = 0
        for chunk in resp.iter_raw():
            received += len(chunk)
            if received > 4 << 20:
                break
    assert received > 4 << 20
    assert probe_mp4(plain.get(url).content).duration_s == pytest.approx(5)


def test_json_routes_can_be_truncated_or_oversized(make_emulator: MakeEmulator, api: Any) -> None:
    emu = make_emulator(
        faults=[
            Fault(route="schema", kind="truncate", on_call=1),
            Fault(route="schema", kind="oversize", on_call=2),
        ]
    )
    client = api(emu)
    url = f"{emu.base_url}/models/{T2V}"
    with pytest.raises(httpx.RemoteProtocolError):
        client.get(url)
    with client.stream("GET", url) as resp:
        assert int(resp.headers["Content-Length"]) == OVERSIZE_BYTES
        first = next(resp.iter_raw())
        assert first.startswith(b"{")
    assert client.get(url).json()["model_id"] == T2V


# -- downloads -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "body", "size", "seconds"),
    [
        (T2V, {"prompt": "x", "duration": 4, "aspect_ratio": "1:1"}, (96, 96), 4),
        (T2V, {"prompt": "x", "aspect_ratio": "9:16"}, (72, 128), 5),
        (I2V, {"prompt": "x", "start_image_url": IMAGE}, (128, 72), 10),
    ],
)
def test_served_video_matches_the_asked_duration_and_ratio(
    emulator: Emulator,
    api: Any,
    model: str,
    body: dict[str, Any],
    size: tuple[int, int],
    seconds: int,
    plain: httpx.Client,
) -> None:
    url = _finished_video_url(emulator, api(emulator), model, **body)
    video = plain.get(url)
    assert video.status_code == 200
    assert video.headers["Content-Type"] == "video/mp4"
    assert int(video.headers["Content-Length"]) == len(video.content)
    info = probe_mp4(video.content)
    assert (info.width, info.height) == size
    assert info.duration_s == pytest.approx(seconds, abs=1 / 8)
    assert emulator.download_saw_auth is False


def test_download_needs_no_token_and_records_one_sent(
    emulator: Emulator, api: Any, plain: httpx.Client
) -> None:
    client = api(emulator)
    url = _finished_video_url(emulator, client)
    assert plain.get(url).status_code == 200
    assert emulator.download_saw_auth is False
    assert client.get(url).status_code == 200
    assert emulator.download_saw_auth is True


def test_download_is_404_before_the_job_finishes(
    make_emulator: MakeEmulator, api: Any, plain: httpx.Client
) -> None:
    emu = make_emulator(queue_seconds=60)
    sub = _submit(api(emu), emu)
    assert plain.get(emu.job(sub["request_id"])["output_url"]).status_code == 404


def test_output_bytes_pads_the_served_file(
    make_emulator: MakeEmulator, api: Any, tmp_path: Path, plain: httpx.Client
) -> None:
    size = 8 << 20
    emu = make_emulator(output_bytes=size)
    url = _finished_video_url(emu, api(emu))
    target = tmp_path / "big.mp4"
    with plain.stream("GET", url) as resp, target.open("wb") as fh:
        assert int(resp.headers["Content-Length"]) == size
        for chunk in resp.iter_bytes():
            fh.write(chunk)
    assert target.stat().st_size == size
    assert probe_mp4(target).duration_s == pytest.approx(5)


def test_redirect_config_answers_302(
    make_emulator: MakeEmulator, api: Any, plain: httpx.Client
) -> None:
    emu = make_emulator(redirect_to="https://files.runcomfy.net/x/output.mp4")
    url = _finished_video_url(emu, api(emu))
    resp = plain.get(url, follow_redirects=False)
    assert resp.status_code == 302
    assert resp.headers["Location"] == "https://files.runcomfy.net/x/output.mp4"


def test_foreign_host_and_hostile_name_are_advertised(
    make_emulator: MakeEmulator, api: Any, plain: httpx.Client
) -> None:
    emu = make_emulator(output_host="evil.example.com", output_filename="../../x.mp4")
    client = api(emu)
    sub = _submit(client, emu)
    _wait_done(client, sub["status_url"])
    video = client.get(sub["result_url"]).json()["output"]["video"]
    assert video == f"https://evil.example.com/files/{sub['request_id']}/..%2F..%2Fx.mp4"
    local = video.replace("https://evil.example.com", emu.origin)
    assert probe_mp4(plain.get(local).content).width == 128


def test_control_characters_in_the_name_are_percent_encoded(
    make_emulator: MakeEmulator, api: Any, plain: httpx.Client
) -> None:
    emu = make_emulator(output_filename="a\x07b.mp4")
    url = _finished_video_url(emu, api(emu))
    assert url.endswith("/a%07b.mp4")
    assert plain.get(url).status_code == 200


# -- result shapes and foreign outputs ---------------------------------------------------------------


def _finished_result(emu: Emulator, client: httpx.Client) -> dict[str, Any]:
    sub = _submit(client, emu)
    _wait_done(client, sub["status_url"])
    record: dict[str, Any] = client.get(sub["result_url"]).json()
    return record


@pytest.mark.parametrize(
    ("shape", "keys"),
    [("video", {"video"}), ("videos", {"videos"}), ("image_videos", {"image", "videos"}), ("string", None)],
)
def test_each_documented_result_shape_serves_real_files(
    make_emulator: MakeEmulator, api: Any, plain: httpx.Client, shape: str, keys: set[str] | None
) -> None:
    emu = make_emulator(result_shape=shape, video_count=2)
    output = _finished_result(emu, api(emu))["output"]
    if keys is None:
        assert isinstance(output, str)
        videos, image = [output], None
    else:
        assert set(output) == keys
        videos = output["videos"] if "videos" in output else [output["video"]]
        image = output.get("image")
    assert len(videos) == (2 if shape in ("videos", "image_videos") else 1)
    assert len(set(videos)) == len(videos)
    for url in videos:
        assert url.startswith(emu.origin + "/files/")
        assert probe_mp4(plain.get(url).content).duration_s == pytest.approx(5)
    if image is not None:
        got = plain.get(image)
        assert got.headers["Content-Type"] == "image/png"
        assert got.content.startswith(b"\x89PNG\r\n\x1a\n") and got.content.endswith(b"IEND\xaeB`\x82")


def test_each_job_keeps_the_shape_it_was_submitted_with(make_emulator: MakeEmulator, api: Any) -> None:
    emu = make_emulator()
    client = api(emu)
    first = _submit(client, emu)
    emu.config.result_shape = "image_videos"
    second = _submit(client, emu)
    _wait_done(client, second["status_url"])
    assert set(client.get(first["result_url"]).json()["output"]) == {"video"}
    assert set(client.get(second["result_url"]).json()["output"]) == {"image", "videos"}
    assert [j["result_shape"] for j in emu.jobs()] == ["video", "image_videos"]


def test_a_bad_shape_is_refused_naming_the_choices() -> None:
    with pytest.raises(ValueError, match="image_videos"):
        EmulatorConfig(result_shape="gif")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="first"):
        EmulatorConfig(foreign_outputs="some")  # type: ignore[arg-type]


@pytest.mark.parametrize(("foreign", "expected"), [("image", [False, False, True]), ("first", [True, False, False]),
                                                   ("all", [True, True, True])])
def test_foreign_outputs_live_on_a_second_origin_only(
    make_emulator: MakeEmulator, api: Any, plain: httpx.Client, foreign: str, expected: list[bool]
) -> None:
    emu = make_emulator(result_shape="image_videos", video_count=2, foreign_outputs=foreign)
    output = _finished_result(emu, api(emu))["output"]
    urls = [*output["videos"], output["image"]]
    assert emu.foreign_origin != emu.origin
    assert [u.startswith(emu.foreign_origin + "/files/") for u in urls] == expected
    for url, is_foreign in zip(urls, expected, strict=True):
        assert plain.get(url).status_code == 200
        elsewhere = emu.origin if is_foreign else emu.foreign_origin
        moved = elsewhere + url[len(emu.foreign_origin if is_foreign else emu.origin):]
        assert plain.get(moved).status_code == 404  # a file lives on one origin only
    assert plain.get(f"{emu.foreign_origin}/v1/models/{T2V}").status_code == 404  # files only
    counters = emu.counters()  # each URL was asked of both origins once
    assert (counters["downloads"], counters["foreign_downloads"]) == (3, 3)


def test_slow_submit_creates_the_job_then_answers_late(make_emulator: MakeEmulator, api: Any) -> None:
    emu = make_emulator(faults=[Fault(route="submit", kind="slow", hang_seconds=1.0)])
    client = api(emu)
    with pytest.raises(httpx.ReadTimeout):
        client.post(f"{emu.base_url}/models/{T2V}", json={"prompt": "late"}, timeout=0.2)
    assert [j["body"]["prompt"] for j in emu.jobs()] == ["late"]  # created before the answer
    assert _submit(client, emu)["request_id"]
    assert len(emu.jobs()) == 2


def test_32_concurrent_submits_are_all_answered(emulator: Emulator) -> None:
    barrier = threading.Barrier(32)
    codes: list[int | str] = []
    lock = threading.Lock()

    def submit() -> None:
        with httpx.Client(headers={"Authorization": f"Bearer {emulator.token}"}, timeout=20,
                          trust_env=False, verify=_TLS) as client:
            barrier.wait()
            try:
                code: int | str = client.post(f"{emulator.base_url}/models/{T2V}", json={"prompt": "x"}).status_code
            except httpx.HTTPError as exc:
                code = type(exc).__name__
        with lock:
            codes.append(code)

    threads = [threading.Thread(target=submit) for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert codes == [200] * 32
    assert len(emulator.jobs()) == 32 and emulator.counters()["submits"] == 32


def test_counters_endpoint_needs_no_token_and_is_not_counted(
    emulator: Emulator, api: Any, plain: httpx.Client
) -> None:
    client = api(emulator)
    sub = _submit(client, emulator)
    _wait_done(client, sub["status_url"])
    polls = emulator.counts["status"]
    plain.get(client.get(sub["result_url"]).json()["output"]["video"])
    client.post(sub["cancel_url"])
    first = plain.get(emulator.origin + COUNTERS_PATH)
    second = plain.get(emulator.origin + COUNTERS_PATH).json()
    assert first.status_code == 200
    assert first.json() == second == {
        "submits": 1, "polls": polls, "results": 1, "downloads": 1, "foreign_downloads": 0,
        "cancels": 1, "schemas": 0,
    }
    assert plain.post(emulator.origin + COUNTERS_PATH).status_code == 404


# -- harness -------------------------------------------------------------------------------------


def test_wait_for_requests(emulator: Emulator, api: Any) -> None:
    client = api(emulator)
    threading.Timer(0.05, lambda: client.get(f"{emulator.base_url}/models/{T2V}")).start()
    assert emulator.wait_for_requests("schema", 1, timeout=5)
    assert not emulator.wait_for_requests("schema", 2, timeout=0.05)


def test_stop_does_not_wait_for_a_hung_handler(
    make_emulator: MakeEmulator, plain: httpx.Client
) -> None:
    emu = make_emulator(faults=[Fault(route="schema", kind="hang", hang_seconds=30)])
    errors: list[Exception] = []

    def call() -> None:
        try:
            plain.get(f"{emu.base_url}/models/{T2V}", timeout=10)
        except httpx.HTTPError as exc:
            errors.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    assert emu.wait_for_requests("schema", 1)
    started = time.monotonic()
    emu.stop()
    caller.join(5)
    assert time.monotonic() - started < 3
    assert not caller.is_alive()
    assert errors


def test_serve_forever_prints_the_base_url_and_stops_on_sigterm(plain: httpx.Client) -> None:
    code = "from skill.testing.emulator import serve_forever; serve_forever()"
    root = Path(__file__).resolve().parents[2]  # the repository root
    env = {**os.environ, "PYTHONPATH": str(root)}
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env, cwd=root
    )
    try:
        assert proc.stdout is not None
        base_url = proc.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
        resp = plain.get(f"{base_url}/models/{T2V}", headers={"Authorization": "Bearer test-token"})
        assert resp.json()["model_id"] == T2V
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
