"""`kling3 gallery`: one static offline page of the finished videos, checked in a real headless
Chromium (Debian's, installed by .ci/run): it loads without errors, every video points at a file
that exists and is playable, the screenshot is not blank, and what the journal holds is escaped."""

from __future__ import annotations

import json
import os
import shutil
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from clihelp import run_cli
from imagehelp import decode

from skill.media.ffmpeg import find_ffmpeg
from skill.testing.emulator import Emulator
from skill.testing.mp4writer import DEFAULT_COLOR

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FOX = "a red fox trotting through snow"
EVIL = "a sign that reads <script>alert('x')</script> & \"quotes\""

needs_ffmpeg = pytest.mark.skipif(find_ffmpeg() is None, reason="contact sheets need ffmpeg ([video] extra)")


def env_for(emu: Emulator, tmp_path: Path) -> dict[str, str]:
    return {"RUNCOMFY_MODEL_API_BASE": emu.base_url, "RUNCOMFY_TOKEN": emu.token,
            "KLING3_HOME": str(tmp_path / "home"), "RUNCOMFY_CONFIG_DIR": str(tmp_path / "rc")}


def path_of(uri: str) -> Path:
    parts = urlsplit(uri)
    assert parts.scheme == "file", uri
    return Path(unquote(parts.path))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's chromium, headless, driven by Playwright (no browser download: the system one)."""
    if CHROMIUM is None or not _has_playwright():
        if os.environ.get("CI"):
            pytest.fail("CI must have chromium (.ci/run installs it) and playwright (the test extra)")
        pytest.skip("no chromium or playwright here: apt-get install chromium; pip install -e '.[test]'")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])  # fmt: skip
        yield chromium
        chromium.close()


def _has_playwright() -> bool:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return True


def load(browser: Any, page_path: Path, tmp_path: Path) -> dict[str, Any]:
    """Open the page from disk; what went wrong, what the videos are, and a screenshot."""
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"failed: {r.url}"))
    page.on("request", lambda r: None if r.url.startswith("file://") else problems.append(f"network: {r.url}"))
    page.goto(page_path.as_uri(), wait_until="load")
    page.wait_for_function("[...document.querySelectorAll('video')].every(v => v.readyState >= 1 || v.error)",
                           timeout=15000)
    videos = page.evaluate("""[...document.querySelectorAll('video')].map(v => ({
        src: v.currentSrc, poster: v.poster, ready: v.readyState, error: v.error && v.error.code,
        duration: v.duration, controls: v.controls}))""")
    scripts = page.evaluate("document.querySelectorAll('script').length")
    shot = tmp_path / "shot.png"
    page.screenshot(path=str(shot), full_page=True)
    text = page.inner_text("body")
    page.close()
    return {"problems": problems, "videos": videos, "scripts": scripts, "shot": shot, "text": text}


@needs_ffmpeg
def test_three_variants_render_side_by_side_in_headless_chromium(
    browser: Any, make_emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = make_emulator()
    env = env_for(emu, tmp_path)
    r = run_cli("run", FOX, "--variants", "3", "--poll-interval", "0.05", "--output-dir", str(tmp_path / "v"),
                "--json", env=env)
    assert r.code == 0, r.err
    page = Path(r.json()["gallery"])
    assert page == (tmp_path / "v" / "gallery.html").resolve() and page.is_file()
    single = run_cli("run", EVIL, "--poll-interval", "0.05", "--output-dir", str(tmp_path / "one"), "--json", env=env)
    assert single.code == 0, single.err

    g = run_cli("gallery", "--output", str(tmp_path / "all.html"), "--json", env=env)
    assert g.code == 0, g.err
    doc = g.json()
    assert doc == {"path": str((tmp_path / "all.html").resolve()), "uri": (tmp_path / "all.html").resolve().as_uri(),
                   "groups": 2, "videos": 4}

    seen = load(browser, tmp_path / "all.html", tmp_path)
    assert seen["problems"] == [] and seen["scripts"] == 0
    assert len(seen["videos"]) == 4
    for v in seen["videos"]:
        assert path_of(v["src"]).is_file() and path_of(v["poster"]).is_file(), v
        assert v["controls"] and v["error"] is None and v["ready"] >= 1 and v["duration"] == pytest.approx(5, abs=0.3)
    img = decode(seen["shot"])
    assert img.variance() > 100 and img.has_colour(DEFAULT_COLOR)  # text and the posters' frames
    text = seen["text"]
    assert "3 variants of" in text and "cfg_scale 0.3, 0.55, 0.8" in text
    assert "<script>alert('x')</script>" in text  # shown as text, not run: escaped
    html = (tmp_path / "all.html").read_text(encoding="utf-8")
    assert "<script>" not in html and "&lt;script&gt;" in html and "http" not in html.replace("http-equiv", "")
    for field in ("kling/kling-3.0/standard/text-to-video", "16:9", "5 s", "$0.42", "UTC"):
        assert field in text
    variant_page = load(browser, page, tmp_path)
    assert variant_page["problems"] == [] and len(variant_page["videos"]) == 3


@needs_ffmpeg
def test_a_film_is_its_finished_video_and_a_deleted_file_is_left_out(
    emulator: Emulator, tmp_path: Path
) -> None:
    env = env_for(emulator, tmp_path)
    film = run_cli("run", "a 20 second film of a kite over the sea", "--poll-interval", "0.05",
                   "--output-dir", str(tmp_path / "f"), "--json", env=env).json()
    gone = run_cli("run", FOX, "--poll-interval", "0.05", "--output-dir", str(tmp_path / "g"), "--json", env=env).json()
    Path(gone["files"][0]).unlink()
    doc = run_cli("gallery", "--output", str(tmp_path / "p.html"), "--json", env=env).json()
    assert doc["videos"] == 1 and doc["groups"] == 1
    html = (tmp_path / "p.html").read_text(encoding="utf-8")
    assert Path(film["files"][0]).as_uri() in html and "20 s in 2 calls" in html
    assert Path(gone["files"][0]).name not in html


def test_an_empty_journal_writes_a_page_that_says_so_and_open_starts_the_browser(tmp_path: Path) -> None:
    seen = tmp_path / "opened.txt"
    fake = tmp_path / "browser.sh"
    fake.write_text(f"#!/bin/sh\necho \"$1\" > {seen}\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    env = {"KLING3_HOME": str(tmp_path / "home"), "BROWSER": str(fake)}
    r = run_cli("gallery", "--open", env=env)
    assert r.code == 0, r.err
    page = tmp_path / "home" / "gallery.html"
    assert r.out.strip() == page.as_uri() and "0 video(s) in 0 group(s)" in r.err
    assert "No finished videos yet" in page.read_text(encoding="utf-8")
    assert seen.read_text().strip() == page.as_uri()
    bad = run_cli("gallery", "--limit", "0", "--json", env=env)
    assert bad.code == 65 and json.loads(bad.out)["error"]["field"] == "limit"


def test_limit_keeps_the_newest_jobs(emulator: Emulator, tmp_path: Path) -> None:
    env = env_for(emulator, tmp_path)
    for text in ("a red kite", "a blue kite", "a green kite"):
        assert run_cli("run", text, "--poll-interval", "0.05", "--output-dir", str(tmp_path / "o"), "--json",
                       env=env).code == 0
    run_cli("gallery", "--output", str(tmp_path / "p.html"), "--limit", "2", env=env)
    html = (tmp_path / "p.html").read_text(encoding="utf-8")
    assert "A green kite." in html and "A blue kite." in html and "A red kite." not in html
