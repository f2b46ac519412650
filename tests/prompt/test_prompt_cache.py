"""The on-disk cache of the compiled prompt vocabulary: written, used, never trusted blindly,
rebuilt when stale, skipped when it cannot be written or is switched off."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from skill.prompt import PromptInput, build_prompt
from skill.prompt import build as bld
from skill.prompt import lexicon as lexm
from skill.prompt import patterns as pat
from skill.prompt.build import _build

_CACHE_TEXTS = [
    "a quick vertical draft of a barista pulling espresso, with cafe sound",
    "Shot 1: slow dolly in on a lighthouse at dusk. Shot 2: aerial orbit around it, fog, film grain",
    'a wide shot of a knight in the rain; he says "hold the gate" in a low voice. no music, 4k, epic',
    "close-up of a cat, golden hour backlight, anime style, keep her face the same",
]


def _lex_fingerprint(lx: Any) -> Any:
    """Everything a build derives from the vocabulary: pattern sources, flags, needs, scanner."""
    def norm(x: Any) -> Any:
        if isinstance(x, re.Pattern):
            return ("re", x.pattern, x.flags, x.groups, dict(x.groupindex))
        if isinstance(x, pat.Rx):
            return ("rx", norm(x.rx), norm(x.at_start), norm(x.needs_rx), x.needs)
        if isinstance(x, pat.Which):
            return ("which", [norm(r) for r in x.rxs])
        if isinstance(x, (list, tuple)):
            return [norm(y) for y in x]
        if isinstance(x, (set, frozenset)):
            return sorted(map(repr, x))
        if isinstance(x, dict):
            return {repr(k): norm(v) for k, v in x.items()}
        return repr(x)

    rxs = [x for x in vars(lx).values() if isinstance(x, pat.Rx)]
    rxs += [rx for _f, rx in lx.cam_forms]
    base = min(rx.uid for rx in rxs)  # ids count on across vocabularies in one process
    return {k: norm(v) for k, v in sorted(vars(lx).items()) if k not in ("scan_ids", "scan_always")} | {
        "scan": sorted((w, sorted(i - base for i in ids)) for w, ids in lx.scan_ids.items()),
        "always": sorted(i - base for i in lx.scan_always),
        "uids": [rx.uid - base for rx in rxs],
    }


def _built_with(lx: Any, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    monkeypatch.setattr(bld, "get_lex", lambda vocabulary=None: lx)
    out = [_build(PromptInput(text=t, generate_audio=True), None).model_dump() for t in _CACHE_TEXTS]
    monkeypatch.undo()
    return out


def _fresh_lex(path: Path) -> Any:
    lexm._lex_for.cache_clear()
    return lexm._lex_for(str(path))


@pytest.fixture
def vocab_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KLING3_HOME", str(tmp_path / "home"))
    src = Path(lexm._default_vocab_path())
    dst = tmp_path / "vocab" / "prompt_vocabulary.yaml"
    dst.parent.mkdir()
    # a comment of its own gives the copy its own key: no entry another test stored is found
    dst.write_bytes(src.read_bytes() + f"\n# {tmp_path}\n".encode())
    yield dst
    lexm._lex_for.cache_clear()


def test_vocabulary_cache_is_written_and_used(vocab_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reference = _lex_fingerprint(lexm.get_lex())
    expected = _built_with(lexm.get_lex(), monkeypatch)
    cache_file = pat._cache_file(str(vocab_copy))
    assert not cache_file.exists()
    cold = _fresh_lex(vocab_copy)
    assert cache_file.is_file()
    stamp = cache_file.stat().st_mtime_ns

    # a warm build parses nothing: neither the YAML nor a single pattern
    def boom(*_a: Any, **_k: Any) -> Any:
        raise AssertionError("the warm cache should have been used")

    internals = pat.regex_internals()
    assert internals is not None
    monkeypatch.setattr(internals[0], "parse", boom)
    monkeypatch.setattr(lexm, "load_yaml", boom)
    monkeypatch.setattr(pat, "trie_starts", boom)
    monkeypatch.setattr(lexm, "trie_longest", boom)
    warm = _fresh_lex(vocab_copy)
    monkeypatch.undo()
    monkeypatch.setenv("KLING3_HOME", str(cache_file.parent.parent))
    assert cache_file.stat().st_mtime_ns == stamp  # nothing to rewrite
    assert _lex_fingerprint(cold) == _lex_fingerprint(warm) == reference
    assert _built_with(warm, monkeypatch) == _built_with(cold, monkeypatch) == expected


def test_corrupt_cache_is_ignored_and_rebuilt(vocab_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = _built_with(lexm.get_lex(), monkeypatch)
    monkeypatch.setenv("KLING3_HOME", str(vocab_copy.parent.parent / "home"))
    reference = _lex_fingerprint(_fresh_lex(vocab_copy))
    cache_file = pat._cache_file(str(vocab_copy))
    good = cache_file.read_bytes()
    for bad in (b"", b"not marshal at all", good[: len(good) // 2], good[:-7] + b"\x00" * 7, b"\xff" * 64):
        cache_file.write_bytes(bad)
        lx = _fresh_lex(vocab_copy)
        assert _lex_fingerprint(lx) == reference
        assert _built_with(lx, monkeypatch) == expected
        monkeypatch.setenv("KLING3_HOME", str(vocab_copy.parent.parent / "home"))
        assert cache_file.read_bytes() != bad  # rebuilt and rewritten
    # a well-formed file holding nonsense for every pattern is not trusted either
    # a well-formed file (right key, right checksum) holding nonsense is not trusted either
    from skill import startup_cache

    def forge(change: Any) -> None:
        key, stored = startup_cache.loads(good)
        assert isinstance(stored, dict)
        change(stored)
        cache_file.write_bytes(startup_cache.dumps((key, stored)))

    forgeries = [
        lambda d: d.update(codes={k: (0, [1, 2, 3], 0, {}, ()) for k in d["codes"]}),  # code _sre refuses
        lambda d: d.update(codes={k: "junk" for k in d["codes"]}, needs={k: {1: 2} for k in d["needs"]}),
        lambda d: d.update(memo={k: ({}, frozenset(), "(unbalanced") for k in d["memo"]}),  # does not compile
        lambda d: d.update(raw={"version": 2}),  # does not validate
    ]
    for change in forgeries:
        forge(change)
        lx = _fresh_lex(vocab_copy)
        assert _lex_fingerprint(lx) == reference
        assert _built_with(lx, monkeypatch) == expected
        monkeypatch.setenv("KLING3_HOME", str(vocab_copy.parent.parent / "home"))


def test_changed_vocabulary_does_not_reuse_the_cache(vocab_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fresh_lex(vocab_copy)
    cache_file = pat._cache_file(str(vocab_copy))
    before = cache_file.read_bytes()
    # same meaning, different bytes: a new hash, so a full rebuild (the YAML is read again)
    vocab_copy.write_bytes(vocab_copy.read_bytes() + b"\n# edited\n")
    loaded: list[Path] = []
    real_load = lexm.load_yaml

    def spy(path: Path) -> Any:
        loaded.append(path)
        return real_load(path)

    monkeypatch.setattr(lexm, "load_yaml", spy)
    _fresh_lex(vocab_copy)
    assert loaded == [vocab_copy]
    rebuilt = pat._cache_file(str(vocab_copy))  # entries are named by their key
    assert rebuilt != cache_file and rebuilt.read_bytes() != before

    # a real change of meaning shows up in the compiled patterns
    text = vocab_copy.read_text(encoding="utf-8")
    assert "'swish pan'" in text
    lx = _fresh_lex(vocab_copy)
    assert lx.move_which["noun"]("swoosh pan") == -1
    vocab_copy.write_text(text.replace("'swish pan'", "'swoosh pan'"), encoding="utf-8")
    lx = _fresh_lex(vocab_copy)
    assert lx.moves[lx.move_which["noun"]("swoosh pan")].name == "whip_pan"
    assert lx.move_which["noun"]("swish pan") == -1


def test_unwritable_home_still_plans(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = _built_with(lexm.get_lex(), monkeypatch)
    home = tmp_path / "home"
    home.write_text("a file where the state directory should be")  # mkdir fails, even as root
    monkeypatch.setenv("KLING3_HOME", str(home))
    lexm._lex_for.cache_clear()
    try:
        lx = lexm.get_lex()
        assert _built_with(lx, monkeypatch) == expected
        assert home.is_file()
        bld._build_cached.cache_clear()
        monkeypatch.setenv("KLING3_HOME", str(home))
        built = build_prompt(PromptInput(text=_CACHE_TEXTS[0]))
        assert built.prompt
    finally:
        lexm._lex_for.cache_clear()
        bld._build_cached.cache_clear()


def test_the_cache_can_be_switched_off(vocab_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KLING3_PROMPT_CACHE", "off")
    cache_file = pat._cache_file(str(vocab_copy))
    lx = _fresh_lex(vocab_copy)
    assert not cache_file.exists()
    assert _lex_fingerprint(lx) == _lex_fingerprint(lexm.get_lex())
    monkeypatch.setenv("KLING3_PROMPT_CACHE", "on")
    _fresh_lex(vocab_copy)
    assert cache_file.is_file()
