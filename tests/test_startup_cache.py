"""The start-up cache: a hit loads what a miss built, a damaged entry is rebuilt, an unwritable
KLING3_HOME falls back to a private per-user directory, the switch turns it all off, entries
prebuilt with the wheel are read, and the stored patterns are the ones ``re`` would build."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

import pytest

from skill import startup_cache as sc


@pytest.fixture
def dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """A private KLING3_HOME, user cache dir, temp dir and (empty) prebuilt dir."""
    paths = {name: tmp_path / name for name in ("home", "xdg", "tmp", "prebuilt")}
    monkeypatch.setenv("KLING3_HOME", str(paths["home"]))
    monkeypatch.setenv("XDG_CACHE_HOME", str(paths["xdg"]))
    monkeypatch.delenv("KLING3_CACHE", raising=False)
    monkeypatch.delenv("KLING3_PROMPT_CACHE", raising=False)
    paths["tmp"].mkdir()
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(paths["tmp"]))
    monkeypatch.setattr(sc, "PREBUILT_DIR", paths["prebuilt"])
    return paths


class Counter:
    def __init__(self, value: Any) -> None:
        self.value = value
        self.calls = 0

    def __call__(self) -> Any:
        self.calls += 1
        return self.value


def _entries(d: Path) -> list[Path]:
    return sorted(d.rglob("*.k3c")) if d.exists() else []


def _unwritable(path: Path) -> Path:
    """A path nothing can be created under, even by root: it lies beneath a regular file."""
    path.write_text("not a directory\n")
    return path / "below"


def test_a_miss_builds_and_stores_and_a_hit_loads(dirs: dict[str, Path]) -> None:
    k = sc.key(b"some data file", code=(__file__,), libs=("yaml",))
    build = Counter({"rules": [1, 2, 3], "name": "x"})
    assert sc.memo("demo", k, build) == build.value
    assert build.calls == 1
    (entry,) = _entries(dirs["home"])
    assert entry.parent == dirs["home"] / "cache" and stat.S_IMODE(entry.parent.stat().st_mode) == 0o700
    assert sc.memo("demo", k, build) == build.value
    assert build.calls == 1  # loaded, not built
    # another input, another key: built again
    assert sc.memo("demo", sc.key(b"other bytes", code=(__file__,)), Counter(5)) == 5


def test_the_key_follows_content_code_and_versions(tmp_path: Path) -> None:
    src = tmp_path / "deriver.py"
    src.write_text("x = 1\n")
    k1 = sc.key(b"data", code=(str(src),), libs=("yaml",))
    assert k1 == sc.key(b"data", code=(str(src),), libs=("yaml",))
    assert k1 != sc.key(b"data!", code=(str(src),), libs=("yaml",))
    assert k1 != sc.key(b"data", code=(str(src),), libs=("yaml", "jinja2"))
    other = tmp_path / "other.py"
    other.write_text("x = 2\n")
    assert k1 != sc.key(b"data", code=(str(other),), libs=("yaml",))
    # parts are length-prefixed: ("ab", "c") and ("a", "bc") differ
    assert sc.key("ab", "c") != sc.key("a", "bc")
    assert "yaml=" in sc.lib_versions(["yaml"]) and "pydantic=" in sc.lib_versions(["pydantic"])


@pytest.mark.parametrize("damage", ["empty", "garbage", "truncated", "flipped", "other key"])
def test_a_damaged_entry_is_rebuilt_never_trusted(dirs: dict[str, Path], damage: str) -> None:
    k = sc.key(b"damaged", code=(__file__,))
    build = Counter(["the", "real", "value"])
    sc.memo("demo", k, build)
    (entry,) = _entries(dirs["home"])
    good = entry.read_bytes()
    bad = {
        "empty": b"",
        "garbage": b"\x80\x04not a cache entry at all",
        "truncated": good[: len(good) // 2],
        "flipped": good[:-3] + bytes([good[-3] ^ 1]) + good[-2:],
        "other key": sc.dumps((sc.key(b"another"), ["forged"])),
    }[damage]
    entry.write_bytes(bad)
    assert sc.load("demo", k) is None
    assert sc.memo("demo", k, build) == ["the", "real", "value"]
    assert build.calls == 2
    assert entry.read_bytes() != bad  # rewritten
    assert sc.load("demo", k) == ["the", "real", "value"]


def test_an_unwritable_home_falls_back_to_the_user_cache_dir(dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KLING3_HOME", str(_unwritable(dirs["home"])))
    k = sc.key(b"fallback")
    build = Counter(42)
    assert sc.memo("demo", k, build) == 42
    (entry,) = _entries(dirs["xdg"])
    assert sc.memo("demo", k, build) == 42 and build.calls == 1
    st = entry.parent.stat()
    assert stat.S_IMODE(st.st_mode) == 0o700 and st.st_uid == os.getuid()


def test_then_to_a_private_temp_dir(dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KLING3_HOME", str(_unwritable(dirs["home"])))
    monkeypatch.setenv("XDG_CACHE_HOME", str(_unwritable(dirs["xdg"])))
    k = sc.key(b"temp fallback")
    build = Counter("v")
    assert sc.memo("demo", k, build) == "v"
    (entry,) = _entries(dirs["tmp"])
    assert entry.parent == dirs["tmp"] / f"kling3-cache-{os.getuid()}"
    assert stat.S_IMODE(entry.parent.stat().st_mode) == 0o700
    assert sc.memo("demo", k, build) == "v" and build.calls == 1


def test_a_temp_dir_others_can_write_is_not_used(dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KLING3_HOME", str(_unwritable(dirs["home"])))
    monkeypatch.setenv("XDG_CACHE_HOME", str(_unwritable(dirs["xdg"])))
    shared = dirs["tmp"] / f"kling3-cache-{os.getuid()}"
    shared.mkdir(mode=0o700)
    shared.chmod(0o777)  # someone else could plant an entry here
    build = Counter("v")
    assert sc.memo("demo", sc.key(b"shared"), build) == "v"
    assert sc.writable_dir() is None and _entries(shared) == []
    assert sc.memo("demo", sc.key(b"shared"), build) == "v" and build.calls == 2  # nowhere to keep it
    # nor is an entry planted there ever loaded: it is a pickle, which is code
    k = sc.key(b"planted")
    (shared / sc.entry_name("demo", k)).write_bytes(sc.dumps((k, "planted")))
    sc._trusted.cache_clear()
    assert sc.load("demo", k) is None
    shared.chmod(0o700)
    sc._trusted.cache_clear()
    assert sc.load("demo", k) == "planted"


@pytest.mark.parametrize("var", ["KLING3_CACHE", "KLING3_PROMPT_CACHE"])
def test_the_switch_turns_it_off(dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch, var: str) -> None:
    k = sc.key(b"switch")
    sc.memo("demo", k, Counter(1))
    monkeypatch.setenv(var, "off")
    assert not sc.enabled()
    build = Counter(2)
    assert sc.memo("demo", k, build) == 2 and build.calls == 1  # the stored 1 is not read
    assert sc.memo("demo", sc.key(b"new"), build) == 2
    assert len(_entries(dirs["home"])) == 1  # nothing written while off
    assert sc.template_code_cache("x") is None
    monkeypatch.setenv(var, "on")
    assert sc.memo("demo", k, Counter(3)) == 1


def test_prebuilt_entries_are_read_when_nothing_is_writable(dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    k = sc.key(b"prebuilt")
    with sc.prebuilding(dirs["prebuilt"]):
        assert sc.memo("demo", k, Counter("from the wheel")) == "from the wheel"
    assert len(_entries(dirs["prebuilt"])) == 1 and _entries(dirs["home"]) == []
    for name in ("home", "xdg"):
        monkeypatch.setenv("KLING3_HOME" if name == "home" else "XDG_CACHE_HOME", str(_unwritable(dirs[name])))
    build = Counter("built")
    assert sc.memo("demo", k, build) == "from the wheel" and build.calls == 0


def test_stored_patterns_are_what_re_builds(dirs: dict[str, Path]) -> None:
    sources = [
        (r"(?P<n>\d+)\s*(?:sec(?:ond)?s?|s)\b", 0),
        (r"(?<![\w'])(?:slow|fast)(?=\s)", re.IGNORECASE),
        (r"caf\u00e9|na\u00efve", 0),
        (r"[a-z]+", re.ASCII),
    ]
    with sc.recording() as book:
        compiled = [sc.compile_pattern(p, f) for p, f in sources]
    assert len(book) == len(sources)
    plain = [re.compile(r"^\s+|\s+$")]  # not recorded: its ingredients are derived when stored
    back = sc.loads(sc.dumps({"rx": compiled, "plain": plain}, book))
    for got, (p, f) in zip(back["rx"] + back["plain"], [*sources, (plain[0].pattern, 0)], strict=True):
        want = re.compile(p, f)
        assert (got.pattern, got.flags, got.groups, dict(got.groupindex)) == (
            want.pattern, want.flags, want.groups, dict(want.groupindex)
        )
        for text in ("wait 12 seconds", "a SLOW push", "café naïve", "  padded  ", "ABC def"):
            assert [m.span() for m in got.finditer(text)] == [m.span() for m in want.finditer(text)]
    with pytest.raises(re.error):
        sc.compile_pattern("(unbalanced", 0)


def test_an_lru_cache_is_stored_as_its_function() -> None:
    import functools

    from skill.respell import Speller

    speller = Speller(["portrait", "standard", "landscape"], 6)
    assert isinstance(speller.fix, functools._lru_cache_wrapper)
    back = sc.loads(sc.dumps(speller))
    assert back.fix("portait") == speller.fix("portait") == "portrait"
    assert back.fix.cache_info().maxsize == speller.fix.cache_info().maxsize


ROOT = Path(__file__).resolve().parent.parent


def _corpus_lines() -> list[str]:
    import json

    lines = []
    for path in sorted((ROOT / "tests" / "corpus").rglob("*.jsonl")):
        for raw in path.read_text(encoding="utf-8").splitlines():
            if raw.strip():
                obj = json.loads(raw)
                lines.append(json.dumps(obj.get("request") or {"text": obj["text"]}))
    return lines


def _kling3(args: list[str], env: dict[str, str], stdin: str | None = None) -> bytes:
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "skill.cli", *args], input=stdin.encode() if stdin is not None else None,
        capture_output=True, env=env, check=False, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_caching_never_changes_a_plan(tmp_path: Path) -> None:
    """Every corpus request planned with the cache off, with it being written, and warm: the
    same bytes. (Batch mode, forked workers included, and single plans.)"""
    lines = _corpus_lines()
    assert len(lines) > 1000
    env = {k: v for k, v in os.environ.items() if k not in ("KLING3_CACHE", "KLING3_PROMPT_CACHE")}
    env |= {"KLING3_HOME": str(tmp_path / "home"), "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    batch = "\n".join(lines) + "\n"
    singles = [
        ["plan", "a quick vertical draft of a barista pulling espresso, with cafe sound", "--json"],
        ["plan", "Shot 1: wide harbour at dawn. Shot 2: close-up of a gull, 4k, no music", "--json"],
        ["prompt", "slow push-in on a red fox in the snow, golden hour, keep its face the same", "--json"],
    ]

    def everything(extra: dict[str, str]) -> list[bytes]:
        out = [_kling3(["plan", "--batch", "-", "--json"], env | extra, batch)]
        return out + [_kling3(args, env | extra) for args in singles]

    off = everything({"KLING3_CACHE": "off"})
    assert _entries(tmp_path) == []
    cold = everything({})
    kinds = {p.name.split("-")[0] for p in _entries(tmp_path / "home")}
    assert {"rules", "lexicon", "template", "yaml", "regexes"} <= kinds, kinds
    def stamps() -> dict[Path, int]:  # the seed set of patterns may grow; what is derived is not rewritten
        return {p: p.stat().st_mtime_ns for p in _entries(tmp_path) if not p.name.startswith("regexes-")}

    before = stamps()
    warm = everything({})
    assert stamps() == before
    assert off[0].count(b"\n") == len(lines)
    for a, b, c in zip(off, cold, warm, strict=True):
        assert a == b == c


_WARM_PLAN = """
import contextlib, io, sys, tokenize
from skill.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    assert main(["plan", "a quick vertical draft of a barista pulling espresso, with cafe sound", "--json"]) == 0
from skill import startup_cache
print(tokenize._compile.cache_info().currsize, sorted({k for k, w in startup_cache.stats() if w == "miss"}))
"""


def test_a_warm_plan_derives_nothing(tmp_path: Path) -> None:
    """Warm, every lookup hits, no model with an empty default built from a builtin makes
    inspect.signature tokenize (its first use compiles a large pattern), and the seeded
    patterns include those the modules compile at import."""
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("KLING3_CACHE", "KLING3_PROMPT_CACHE")}
    env |= {"KLING3_HOME": str(tmp_path / "home"), "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    runs = [subprocess.run([sys.executable, "-c", _WARM_PLAN], capture_output=True, text=True, env=env, check=False)
            for _ in range(3)]
    assert all(r.returncode == 0 for r in runs), runs[-1].stderr
    assert runs[-1].stdout.split(maxsplit=1) == ["0", "[]\n"]
    (entry,) = [p for p in _entries(tmp_path / "home") if p.name.startswith("regexes-")]
    _modules, seeded, _last = sc.loads(entry.read_bytes())[1]
    import skill.prompt.text as text_module

    module_patterns = {v.pattern for v in vars(text_module).values() if isinstance(v, re.Pattern)}
    assert module_patterns and module_patterns <= {k[1] for k, _rx in seeded}
    for k, rx in seeded:
        want = re.compile(k[1], k[2])
        assert (rx.pattern, rx.flags, rx.groups, dict(rx.groupindex)) == (want.pattern, want.flags, want.groups, dict(want.groupindex))
