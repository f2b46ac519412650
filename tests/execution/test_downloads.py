"""Downloads of finished outputs from the emulator, over real sockets: trust rules, redirects,
hostile names, atomic publication, retries, size caps, and no credentials on the wire.

Most tests deliver a one-file result the way the flow does (a delivery with a problem raises
it); the per-file behaviour of results with several outputs is in ``test_delivery.py``."""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx
import pytest

from skill.errors import DownloadError
from skill.execution.client import RunComfyClient
from skill.execution.delivery import adeliver, deliver
from skill.execution.downloads import (
    MAX_NAME_CHARS,
    MAX_REDIRECTS,
    DownloadedFile,
    adownload_file,
    check_download_url,
    download_file,
    is_video_path,
    safe_filename,
)
from skill.execution.retry import RetryPolicy
from skill.testing.emulator import Emulator, Fault
from skill.testing.mp4writer import make_mp4

T2V = "kling/kling-3.0/standard/text-to-video"
FAST = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.004, max_retry_after=1.0)
API = "https://model-api.runcomfy.net/v1"

MakeEmulator = Callable[..., Emulator]


def _output(emu: Emulator, **body: Any) -> dict[str, Any]:
    """Run one job to completion on ``emu`` and return its result's ``output``."""
    with RunComfyClient(base_url=emu.base_url, token=emu.token, retry=FAST) as client:
        rid = client.submit(T2V, {"prompt": "a fox", **body}).request_id
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            result = client.result(rid)
            if result.done:
                assert result.output is not None
                return result.output
            time.sleep(0.02)
    raise AssertionError("job did not finish")


def _download(emu: Emulator, output: Any, dest: Path, **kw: Any) -> list[DownloadedFile]:
    """Deliver ``output`` into ``dest``; a delivery with a problem raises it, as the flow does."""
    kw.setdefault("retry", FAST)
    kw.setdefault("sleep", lambda _s: None)
    delivery = deliver(output, dest, api_base=emu.base_url, **kw)
    problem = delivery.problem()
    if problem is not None:
        raise problem
    return delivery.files


def _entries(directory: Path) -> list[str]:
    return sorted(os.listdir(directory)) if directory.exists() else []


def _assert_nothing_written(directory: Path) -> None:
    assert _entries(directory) == [], "no final file and no .part file may be left"


# -- the happy path ----------------------------------------------------------------------------------


def test_downloads_a_verified_mp4(emulator: Emulator, tmp_path: Path) -> None:
    output = _output(emulator, duration=4, aspect_ratio="1:1")
    dest = tmp_path / "new" / "videos"
    progress: list[tuple[str, int, int | None]] = []
    files = _download(emulator, output, dest, on_progress=lambda *a: progress.append(a))
    assert len(files) == 1
    saved = files[0]
    assert saved.url == output["video"]
    assert saved.path == dest / "output.mp4"
    data = saved.path.read_bytes()
    assert saved.size == len(data) == saved.path.stat().st_size
    assert saved.sha256 == hashlib.sha256(data).hexdigest()
    assert (saved.width, saved.height) == (96, 96)
    assert saved.duration_s == pytest.approx(4, abs=1 / 8)
    assert _entries(dest) == ["output.mp4"]
    assert dest.stat().st_mode & 0o777 == 0o755 & ~_umask()
    assert progress and progress[-1] == (saved.url, saved.size, saved.size)
    assert emulator.download_saw_auth is False


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_async_twin_saves_the_same_file(emulator: Emulator, tmp_path: Path) -> None:
    output = _output(emulator, aspect_ratio="9:16")
    sync = _download(emulator, output, tmp_path / "sync")[0]

    async def nap(_s: float) -> None:
        return None

    delivery = asyncio.run(adeliver(output, tmp_path / "async", api_base=emulator.base_url, sleep=nap))
    assert [(f.size, f.sha256, f.width, f.height, f.path.name, f.kind) for f in delivery.files] == [
        (sync.size, sync.sha256, 72, 128, "output.mp4", "video")
    ]
    assert delivery.problem() is None


def test_large_file_streams_with_throttled_progress(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    emu = make_emulator(output_bytes=24 << 20)
    output = _output(emu)
    calls: list[float] = []
    started = time.monotonic()
    saved = _download(emu, output, tmp_path, on_progress=lambda *_a: calls.append(time.monotonic()))
    elapsed = time.monotonic() - started
    assert saved[0].size == 24 << 20
    assert len(calls) <= 2 + elapsed * 10
    assert saved[0].sha256 == hashlib.sha256(saved[0].path.read_bytes()).hexdigest()


def _download_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("kling3-download")]


def test_a_many_block_file_is_hashed_beside_its_write_by_both_twins(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    """Blocks go to the writer, which hands each on to the hasher: the SHA-256 is the file's
    whatever order the two threads run in, and neither thread outlives the download."""
    emu = make_emulator(output_bytes=9 << 20)
    output = _output(emu)
    sync = _download(emu, output, tmp_path / "sync")[0]
    delivery = asyncio.run(adeliver(output, tmp_path / "async", api_base=emu.base_url))
    (other,) = delivery.files
    for saved in (sync, other):
        data = saved.path.read_bytes()
        assert saved.size == len(data) >= 9 << 20
        assert saved.sha256 == hashlib.sha256(data).hexdigest()
    assert _download_threads() == []


def test_a_many_block_download_cut_short_stops_both_threads(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    emu = make_emulator(output_bytes=9 << 20, faults=[Fault(route="download", kind="truncate", times=0)])
    with pytest.raises(DownloadError):
        _download(emu, _output(emu), tmp_path)
    _assert_nothing_written(tmp_path)
    assert _download_threads() == []


def test_no_output_urls_means_no_files_and_says_so(emulator: Emulator, tmp_path: Path) -> None:
    delivery = deliver({"video": None, "note": "ftp://x/y.mp4"}, tmp_path / "d", api_base=emulator.base_url)
    assert delivery.files == [] and not (tmp_path / "d").exists()
    problem = delivery.problem()
    assert problem is not None and problem.code == "no_output"


def test_duplicate_urls_are_fetched_once(emulator: Emulator, tmp_path: Path) -> None:
    url = _output(emulator)["video"]
    files = _download(emulator, {"videos": [url, url], "video": url}, tmp_path)
    assert len(files) == 1 and emulator.counts["download"] == 1


# -- trust -------------------------------------------------------------------------------------------


def test_foreign_host_is_refused_with_nothing_written(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    emu = make_emulator(output_host="evil.example.com")
    output = _output(emu)
    dest = tmp_path / "out"
    with pytest.raises(DownloadError) as err:
        _download(emu, output, dest)
    assert (err.value.code, err.value.exit_code) == ("untrusted_url", 75)
    assert "evil.example.com" in err.value.message
    assert err.value.details["host"] == "evil.example.com"
    assert emu.counts["download"] == 0
    assert not dest.exists()


def test_a_foreign_url_is_skipped_and_the_trusted_one_saved(
    emulator: Emulator, tmp_path: Path
) -> None:
    good = _output(emulator)["video"]
    output = {"videos": ["https://runcomfy.net.evil.com/x.mp4?sig=secret", good]}
    (saved,) = _download(emulator, output, tmp_path)
    assert saved.url == good and _entries(tmp_path) == ["output.mp4"]
    assert emulator.counts["download"] == 1
    delivery = deliver(output, tmp_path / "again", api_base=emulator.base_url, retry=FAST)
    (skipped,) = delivery.skipped
    assert skipped.to_dict() == {
        "url": "https://runcomfy.net.evil.com/x.mp4",  # no query: signatures stay out of reports
        "reason": "untrusted host 'runcomfy.net.evil.com': the host is not a RunComfy host "
        "(*.runcomfy.net, *.runcomfy.com)",
    }


def test_redirect_to_a_foreign_host_is_refused(make_emulator: MakeEmulator, tmp_path: Path) -> None:
    emu = make_emulator(redirect_to="https://evil.example.com/output.mp4")
    output = _output(emu)
    with pytest.raises(DownloadError) as err:
        _download(emu, output, tmp_path)
    assert err.value.code == "untrusted_url" and "evil.example.com" in err.value.message
    assert emu.counts["download"] == 1
    _assert_nothing_written(tmp_path)


class _RedirectOnce(Emulator):
    """Answers the first download with its ``redirect_to``, then serves files normally."""

    def _download(self, arg: str, *, oversize: bool, foreign: bool = False) -> Any:
        reply = super()._download(arg, oversize=oversize, foreign=foreign)
        self.config.redirect_to = None
        return reply


@pytest.fixture
def redirect_once(make_emulator: MakeEmulator) -> Emulator:
    return make_emulator(_RedirectOnce)


def test_redirect_within_the_origin_is_followed(redirect_once: Emulator, tmp_path: Path) -> None:
    output = _output(redirect_once)
    path = output["video"][len(redirect_once.origin) :]
    redirect_once.config.redirect_to = path  # relative Location, same origin
    files = _download(redirect_once, output, tmp_path)
    assert redirect_once.counts["download"] == 2
    assert files[0].path.name == "output.mp4" and files[0].url == output["video"]
    assert redirect_once.download_saw_auth is False


def test_redirect_loop_stops_after_the_hop_limit(emulator: Emulator, tmp_path: Path) -> None:
    output = _output(emulator)
    emulator.config.redirect_to = output["video"]
    with pytest.raises(DownloadError) as err:
        _download(emulator, output, tmp_path)
    assert err.value.code == "too_many_redirects"
    assert emulator.counts["download"] == MAX_REDIRECTS + 1
    _assert_nothing_written(tmp_path)


def test_no_credentials_reach_the_download_route(emulator: Emulator, tmp_path: Path) -> None:
    output = _output(emulator)
    shared = httpx.Client(
        headers={"Authorization": f"Bearer {emulator.token}"},
        cookies={"session": "s3cret"},
        auth=("user", "pass"),
    )
    with shared:
        files = _download(emulator, output, tmp_path, http=shared)
    assert len(files) == 1
    assert emulator.download_saw_auth is False
    headers = emulator.last_headers("download")
    assert "authorization" not in headers and "cookie" not in headers


ALLOWED = [
    "https://playgrounds-storage-public.runcomfy.net/a/b.mp4",
    "https://files.runcomfy.net/x.mp4?sig=abc",
    "https://serverless-api-storage.runcomfy.com/x.mp4",
    "https://FILES.RunComfy.NET./x.mp4",
    "https://files.runcomfy.net:8443/x.mp4",
    "https://model-api.runcomfy.net/v1/../files/x.mp4",
]
REFUSED = [
    "http://files.runcomfy.net/x.mp4",
    "https://runcomfy.net.evil.com/x.mp4",
    "https://evilrruncomfy.net/x.mp4",
    "https://evil.com/runcomfy.net/x.mp4",
    "https://files.runcomfy.net@evil.com/x.mp4",
    "https://evil.com\\@files.runcomfy.net/x.mp4",
    "https://evil.com#.runcomfy.net",
    "https://127.0.0.1/x.mp4",
    "https://[::1]/x.mp4",
    "http://localhost/x.mp4",
    "ftp://files.runcomfy.net/x.mp4",
    "file:///etc/passwd",
    "https://files.runcomfy.net /x.mp4",
    "https:///x.mp4",
    "not a url",
]


@pytest.mark.parametrize("url", ALLOWED)
def test_trusted_urls(url: str) -> None:
    check_download_url(url, api_base=API)


@pytest.mark.parametrize("url", REFUSED)
def test_untrusted_urls(url: str) -> None:
    with pytest.raises(DownloadError) as err:
        check_download_url(url, api_base=API)
    assert err.value.code == "untrusted_url"


@pytest.mark.parametrize(
    ("url", "base", "ok"),
    [
        ("http://127.0.0.1:8000/files/a/b.mp4", "http://127.0.0.1:8000/v1", True),
        ("http://localhost:8000/f.mp4", "http://localhost:8000/v1", True),
        ("http://[::1]:8000/f.mp4", "http://[::1]:8000/v1", True),
        ("http://127.0.0.1:8001/f.mp4", "http://127.0.0.1:8000/v1", False),
        ("https://127.0.0.1:8000/f.mp4", "http://127.0.0.1:8000/v1", False),
        ("http://api.example.com/f.mp4", "http://api.example.com/v1", False),
        ("https://api.example.com/f.mp4", "https://api.example.com:443/v1", True),
        ("https://api.example.com:444/f.mp4", "https://api.example.com/v1", False),
    ],
)
def test_the_api_origin_is_trusted_exactly(url: str, base: str, ok: bool) -> None:
    if ok:
        check_download_url(url, api_base=base)
    else:
        with pytest.raises(DownloadError):
            check_download_url(url, api_base=base)


# -- names -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "filename",
    [
        "../../etc/passwd.mp4",
        "...",
        "a\x07b\x1b[31m\u202egnp.mp4",
        "x" * 300 + ".mp4",
        "é" * 200 + ".mp4",
        ".hidden.mp4",
        'a:b*c?d"e<f>g|h\\i.mp4',
        "clip.mov",
    ],
)
def test_hostile_names_are_sanitised_and_stay_inside(
    make_emulator: MakeEmulator, tmp_path: Path, filename: str
) -> None:
    emu = make_emulator(output_filename=filename)
    dest = tmp_path / "dest"
    saved = _download(emu, _output(emu), dest)[0]
    name = saved.path.name
    assert saved.path.parent == dest
    assert _entries(tmp_path) == ["dest"] and _entries(dest) == [name]
    assert name.endswith(".mp4") and not name.startswith(".")
    assert ".." not in name and len(name) <= MAX_NAME_CHARS
    assert len(name.encode()) <= 200
    assert all(c.isprintable() and c not in '/\\:*?"<>|' for c in name)


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("https://a.runcomfy.net/x/result.mp4?sig=1#f", "result.mp4"),
        ("https://a.runcomfy.net/x/my%20clip.MP4", "my clip.mp4"),
        ("https://a.runcomfy.net/x/..%2F..%2Fetc%2Fpasswd.mp4", "_._etc_passwd.mp4"),
        ("https://a.runcomfy.net/x/video", "video.mp4"),
        ("https://a.runcomfy.net/x/", "x.mp4"),
        ("https://a.runcomfy.net/", "output.mp4"),
        ("https://a.runcomfy.net/%2e%2e", "output.mp4"),
        ("https://a.runcomfy.net/...mp4", "output.mp4"),
        ("https://a.runcomfy.net/.hidden.mp4", "hidden.mp4"),
        ("https://a.runcomfy.net/. . .mp4", "output.mp4"),
        ("https://a.runcomfy.net/a%00b%0A.mp4", "a_b_.mp4"),
        ("https://a.runcomfy.net/CON.mp4", "_CON.mp4"),
        ("https://a.runcomfy.net/%FF.mp4", "\ufffd.mp4"),
    ],
)
def test_safe_filename(url: str, name: str) -> None:
    assert safe_filename(url) == name


@pytest.mark.parametrize(
    ("url", "suffix", "name"),
    [
        ("https://a.runcomfy.net/x/cover.jpg", ".png", "cover.png"),
        ("https://a.runcomfy.net/x/cover.PNG?s=1", ".png", "cover.png"),
        ("https://a.runcomfy.net/x/thumb.webp", ".jpg", "thumb.jpg"),
        ("https://a.runcomfy.net/x/cover.png", ".mp4", "cover.mp4"),
        ("https://a.runcomfy.net/", ".webp", "output.webp"),
        ("https://a.runcomfy.net/" + "x" * 300 + ".png", ".webp", "x" * 115 + ".webp"),
    ],
)
def test_a_name_ends_with_the_type_its_bytes_proved(url: str, suffix: str, name: str) -> None:
    assert safe_filename(url, suffix) == name
    assert is_video_path(name) == (suffix == ".mp4")


def test_collisions_get_suffixes_and_never_overwrite(emulator: Emulator, tmp_path: Path) -> None:
    output = _output(emulator)
    (tmp_path / "output.mp4").write_bytes(b"keep me")
    first = _download(emulator, output, tmp_path)[0]
    second = _download(emulator, output, tmp_path)[0]
    assert (first.path.name, second.path.name) == ("output-1.mp4", "output-2.mp4")
    assert (tmp_path / "output.mp4").read_bytes() == b"keep me"
    assert first.sha256 == second.sha256
    assert _entries(tmp_path) == ["output-1.mp4", "output-2.mp4", "output.mp4"]


def test_the_same_bytes_already_saved_for_the_job_are_not_saved_again(
    emulator: Emulator, tmp_path: Path
) -> None:
    url = _output(emulator)["video"]
    first = download_file(url, tmp_path / "a", api_base=emulator.base_url)
    known = {first.sha256: first.path}
    again = download_file(url, tmp_path / "a", api_base=emulator.base_url, known=known)
    assert (again.path, again.reused, first.reused) == (first.path, True, False)
    assert _entries(tmp_path / "a") == ["output.mp4"]
    elsewhere = download_file(url, tmp_path / "b", api_base=emulator.base_url, known=known)
    assert elsewhere.path == tmp_path / "b" / "output.mp4" and not elsewhere.reused  # asked for b
    first.path.unlink()
    back = download_file(url, tmp_path / "a", api_base=emulator.base_url, known=known)
    assert back.path == first.path and not back.reused and back.path.exists()
    assert emulator.counts["download"] == 4


def test_a_folder_that_cannot_be_written_fails_the_file_cleanly(emulator: Emulator, tmp_path: Path) -> None:
    url = _output(emulator)["video"]
    blocker = tmp_path / "videos"
    blocker.write_text("a file where the folder should be")
    with pytest.raises(DownloadError) as err:
        download_file(url, blocker, api_base=emulator.base_url)
    assert (err.value.code, err.value.exit_code) == ("write_failed", 75)
    assert str(blocker) in err.value.message and emulator.counts["download"] == 0


def test_a_symlink_squatting_the_name_is_not_followed(emulator: Emulator, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "output.mp4").symlink_to(target)
    saved = _download(emulator, _output(emulator), dest)[0]
    assert saved.path.name == "output-1.mp4"
    assert not target.exists()


# -- failures leave nothing behind -------------------------------------------------------------------


def test_truncated_download_is_retried_then_fails_cleanly(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    emu = make_emulator(faults=[Fault(route="download", kind="truncate", times=0)])
    output = _output(emu)
    sleeps: list[float] = []
    with pytest.raises(DownloadError) as err:
        _download(emu, output, tmp_path, sleep=sleeps.append)
    assert (err.value.code, err.value.details["attempts"]) == ("download_failed", FAST.attempts)
    assert emu.counts["download"] == FAST.attempts and len(sleeps) == FAST.attempts - 1
    _assert_nothing_written(tmp_path)


@pytest.mark.parametrize(
    "fault",
    [
        Fault(route="download", kind="truncate"),
        Fault(route="download", kind="drop"),
        Fault(route="download", status=503, retry_after=0.01),
        Fault(route="download", status=429),
    ],
)
def test_one_bad_try_is_retried(make_emulator: MakeEmulator, tmp_path: Path, fault: Fault) -> None:
    emu = make_emulator(faults=[fault])
    files = _download(emu, _output(emu), tmp_path)
    assert emu.counts["download"] == 2
    assert _entries(tmp_path) == ["output.mp4"] and files[0].width == 128


def test_hung_download_times_out_and_is_retried(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    emu = make_emulator(faults=[Fault(route="download", kind="hang", hang_seconds=3)])
    output = _output(emu)
    with httpx.Client(timeout=0.3) as client:
        files = _download(emu, output, tmp_path, http=client)
    assert emu.counts["download"] == 2 and len(files) == 1


def test_missing_file_is_not_retried(emulator: Emulator, tmp_path: Path) -> None:
    url = _output(emulator)["video"].replace("output.mp4", "other.mp4")
    with pytest.raises(DownloadError) as err:
        _download(emulator, {"video": url}, tmp_path)
    assert err.value.code == "download_failed" and err.value.details["http_status"] == 404
    assert emulator.counts["download"] == 1
    _assert_nothing_written(tmp_path)


def test_oversize_is_refused_by_content_length_before_writing(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    emu = make_emulator(faults=[Fault(route="download", kind="oversize")])
    output = _output(emu)
    started = time.monotonic()
    with pytest.raises(DownloadError) as err:
        _download(emu, output, tmp_path)
    assert err.value.code == "too_large" and "3221225472" in err.value.message
    assert emu.counts["download"] == 1
    assert time.monotonic() - started < 2
    _assert_nothing_written(tmp_path)


def test_lowered_cap_refuses_by_content_length(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    output = _output(emulator)
    monkeypatch.setenv("KLING3_MAX_DOWNLOAD_BYTES", "1000")
    with pytest.raises(DownloadError) as err:
        _download(emulator, output, tmp_path)
    assert err.value.code == "too_large" and err.value.details["max_bytes"] == 1000
    _assert_nothing_written(tmp_path)


class _NoLengthHandler(BaseHTTPRequestHandler):
    """Serves an MP4 with no Content-Length (the end is the connection closing)."""

    protocol_version = "HTTP/1.0"
    body = make_mp4(2, "16:9", pad_to_bytes=3 << 20)

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        self.end_headers()
        try:
            for start in range(0, len(self.body), 1 << 16):
                self.wfile.write(self.body[start : start + (1 << 16)])
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def no_length_origin(serve_http: Callable[[type[BaseHTTPRequestHandler]], str]) -> str:
    return serve_http(_NoLengthHandler)


def test_cap_aborts_mid_stream_without_content_length(
    no_length_origin: str, tmp_path: Path
) -> None:
    url = f"{no_length_origin}/files/x/clip.mp4"
    base = f"{no_length_origin}/v1"
    with pytest.raises(DownloadError) as err:
        download_file(url, tmp_path, api_base=base, max_bytes=1 << 20, retry=FAST)
    assert err.value.code == "too_large" and "grew past" in err.value.message
    _assert_nothing_written(tmp_path)
    saved = download_file(url, tmp_path, api_base=base, retry=FAST)
    assert saved.size == len(_NoLengthHandler.body) and saved.path.name == "clip.mp4"


def test_not_an_mp4_is_refused(make_emulator: MakeEmulator, tmp_path: Path) -> None:
    fault = Fault(route="download", status=200, body={"error": "not a video"})
    emu = make_emulator(faults=[fault])
    with pytest.raises(DownloadError) as err:
        _download(emu, _output(emu), tmp_path)
    assert err.value.code == "not_mp4"
    assert emu.counts["download"] == 1
    _assert_nothing_written(tmp_path)


def test_files_saved_before_a_failure_are_kept_and_reported(
    emulator: Emulator, tmp_path: Path
) -> None:
    good = _output(emulator)["video"]
    bad = good.replace("output.mp4", "gone.mp4")
    with pytest.raises(DownloadError) as err:
        _download(emulator, {"videos": [good, bad]}, tmp_path)
    assert err.value.details["saved"] == [str(tmp_path / "output.mp4")]
    assert _entries(tmp_path) == ["output.mp4"]


def test_async_failures_leave_nothing_behind(make_emulator: MakeEmulator, tmp_path: Path) -> None:
    emu = make_emulator(faults=[Fault(route="download", kind="truncate", times=0)])
    url = _output(emu)["video"]
    foreign = "https://evil.example.com/x.mp4"

    async def nap(_s: float) -> None:
        return None

    async def run() -> tuple[DownloadError, DownloadError]:
        errors = []
        for one in (url, foreign):
            try:
                await adownload_file(one, tmp_path, api_base=emu.base_url, retry=FAST, sleep=nap)
            except DownloadError as exc:
                errors.append(exc)
        return errors[0], errors[1]

    truncated, untrusted = asyncio.run(run())
    assert (truncated.code, untrusted.code) == ("download_failed", "untrusted_url")
    assert emu.counts["download"] == FAST.attempts
    _assert_nothing_written(tmp_path)


class _Stop(Exception):
    pass


def test_an_interrupted_download_leaves_nothing(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    emu = make_emulator(output_bytes=16 << 20)
    output = _output(emu)

    def stop(_url: str, done: int, _total: int | None) -> None:
        if done > 0:
            raise _Stop

    with pytest.raises(_Stop):
        _download(emu, output, tmp_path, on_progress=stop)
    _assert_nothing_written(tmp_path)


def test_a_cancelled_async_download_leaves_nothing(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    emu = make_emulator(output_bytes=16 << 20)
    output = _output(emu)

    async def run() -> None:
        task: asyncio.Task[Any] | None = None

        def cancel(_url: str, done: int, _total: int | None) -> None:
            assert task is not None
            task.cancel()

        task = asyncio.ensure_future(
            adeliver(output, tmp_path, api_base=emu.base_url, on_progress=cancel)
        )
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run())
    _assert_nothing_written(tmp_path)
