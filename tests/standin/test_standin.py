"""The real `kling3` CLI against an independent, hostile stand-in API (tests/standin), over real
sockets: following the documented exit code never submits twice, every paid video ends up
delivered (or resumable to delivery), and a refusal submits nothing.

The follower below does exactly what the exit-code contract of issue 12 tells an agent: 0 done;
75 names the request_id and `kling3 resume ID` finishes it; 69 with ``submit_unconfirmed`` (or
``"paid": "unknown"``) says check before submitting again; 69 or 75 with ``"paid": false``
before any submit may be run again; 1, 65 and 73 stop. Anything else breaks the contract.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from clihelp import run_cli
from runcomfy_standin import Scenario, StandIn, sample_videos

TEXT = "a paper boat drifting down a rainy street, 5 seconds"
FOLLOW_LIMIT = 6


@pytest.fixture(scope="module")
def videos() -> tuple[bytes, bytes]:
    return sample_videos()


@dataclass
class Followed:
    """Every command the follower ran, with its exit code and JSON document."""

    steps: list[tuple[list[str], int, dict[str, Any]]] = field(default_factory=list)

    @property
    def code(self) -> int:
        return self.steps[-1][1]

    @property
    def doc(self) -> dict[str, Any]:
        return self.steps[-1][2]


def _doc(out: str) -> dict[str, Any]:
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 1, f"--json must print one document, got {out!r}"
    doc: dict[str, Any] = json.loads(lines[0])
    return doc


def follow(first: list[str], env: dict[str, str]) -> Followed:
    """Run ``first`` with --json, then do what each exit code documents until one says stop."""
    done = Followed()
    argv, request_id = first, None
    for _ in range(FOLLOW_LIMIT):
        r = run_cli(*argv, "--json", env=env, timeout=120)
        doc = _doc(r.out)
        done.steps.append((argv, r.code, doc))
        error = doc.get("error") or {}
        request_id = error.get("request_id") or request_id
        if r.code in (0, 1, 65, 73):
            return done
        if r.code == 75 and request_id:
            argv = ["resume", request_id, "--poll-interval", "0.05"]
            continue
        if r.code == 69 and (error.get("code") == "submit_unconfirmed" or error.get("paid") == "unknown"):
            return done  # the contract: check before submitting again; never resubmit blindly
        if r.code in (69, 75) and error.get("paid") is False and request_id is None:
            argv = first  # nothing was paid: the same command may run again
            continue
        raise AssertionError(f"exit {r.code} gives no documented way on: {doc}")
    raise AssertionError(f"still not settled after {FOLLOW_LIMIT} commands: {done.steps}")


@pytest.fixture
def env_for(tmp_path: Path) -> Iterator[Any]:
    def make(standin: StandIn) -> dict[str, str]:
        return {
            "RUNCOMFY_MODEL_API_BASE": standin.base_url,
            "RUNCOMFY_TOKEN": standin.scenario.token,
            "KLING3_HOME": str(tmp_path / "home"),
            "RUNCOMFY_CONFIG_DIR": str(tmp_path / "rc"),
        }

    yield make


def _saved(out: Path, suffix: str) -> list[str]:
    return sorted(p.name for p in out.iterdir() if p.suffix == suffix) if out.exists() else []


PAID = [
    pytest.param(Scenario(shape="image_videos"), 2, 1, 0, id="cover-beside-two-videos"),
    pytest.param(Scenario(shape="image_videos", foreign="image"), 2, 0, 1, id="cover-on-a-foreign-host"),
    pytest.param(Scenario(shape="videos", foreign="first"), 1, 0, 1, id="first-video-on-a-foreign-host"),
    pytest.param(Scenario(shape="videos", file_404_once=("a.mp4",)), 2, 0, 0, id="404-on-the-first-of-two-files"),
    pytest.param(Scenario(submit_delay_s=1.5), 1, 0, 0, id="slow-submit-answer"),
    pytest.param(Scenario(status_404_first=2), 1, 0, 0, id="404-right-after-creation"),
    pytest.param(Scenario(status_5xx_first=8), 1, 0, 0, id="long-5xx-run-on-status"),
]


@pytest.mark.parametrize(("scenario", "n_videos", "n_images", "n_skipped"), PAID)
def test_a_paid_job_is_delivered_once_by_following_the_exit_codes(
    videos: tuple[bytes, bytes], env_for: Any, tmp_path: Path,
    scenario: Scenario, n_videos: int, n_images: int, n_skipped: int,
) -> None:
    out = tmp_path / "out"
    with StandIn(scenario, videos) as api:
        env = env_for(api)
        followed = follow(["run", TEXT, "--poll-interval", "0.05", "--output-dir", str(out)], env)
        assert followed.code == 0, followed.steps
        assert api.counts["submits"] == 1  # following the exit codes never paid twice
        assert len(_saved(out, ".mp4")) == n_videos and len(_saved(out, ".png")) == n_images
        wanted = {hashlib.sha256(v).hexdigest() for v in videos}
        assert {hashlib.sha256(p.read_bytes()).hexdigest() for p in out.glob("*.mp4")} <= wanted
        assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no partial files
        assert api.counts["foreign_downloads"] == 0

        request_id = followed.doc.get("request_id") or followed.doc["resumed"][0]["request_id"]
        again = run_cli("result", request_id, "--json", env=env)
        assert again.code == 0 and len(_doc(again.out)["skipped"]) == n_skipped
        assert len(_saved(out, ".mp4")) == n_videos  # fetching again saves no copy
        assert _doc(run_cli("resume", "--all", "--json", env=env).out) == {"resumed": []}
        assert api.counts["submits"] == 1


def test_an_ambiguous_500_after_creation_is_never_submitted_again(
    videos: tuple[bytes, bytes], env_for: Any, tmp_path: Path
) -> None:
    with StandIn(Scenario(submit_500_after_create=True), videos) as api:
        env = env_for(api)
        followed = follow(["run", TEXT, "--poll-interval", "0.05", "--output-dir", str(tmp_path / "out")], env)
        assert (followed.code, followed.doc["error"]["code"]) == (69, "submit_unconfirmed")
        assert api.counts["jobs"] == 1 and api.counts["submits"] == 1
        (job,) = _doc(run_cli("jobs", "--json", env=env).out)["jobs"]
        assert job["state"] == "unconfirmed" and job["possibly_paid"] is True


@pytest.mark.parametrize(
    "args",
    [
        ["animate this photo"],
        ["a dog on a beach", "--aspect-ratio", "5:4"],
        ["a dog on a beach", "--duration", "200"],
        ["a dog on a beach in 4K", "--max-cost-usd", "0.1"],
        ["a dog on a beach", "--image-url", "http://insecure.example.com/a.jpg"],
    ],
)
def test_a_refusal_submits_nothing(videos: tuple[bytes, bytes], env_for: Any, args: list[str]) -> None:
    with StandIn(Scenario(), videos) as api:
        followed = follow(["run", *args], env_for(api))
        assert followed.code == 65 and followed.doc["error"]["code"]
        assert api.counts["submits"] == 0 and len(followed.steps) == 1
