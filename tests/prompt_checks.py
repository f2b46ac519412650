"""Mechanical checks of built prompts against an expert's golden file.

    python -m tests.prompt_checks FILE [--show]

FILE is JSON lines, one case a line: ``{"case", "input", "expert"?, "checks"}``. ``input`` holds
request fields (``text``, ``shots``, ``duration``, ``tier``, ``generate_audio``, ...) and, as a
convenience for builder-style inputs, ``mode: "i2v"`` (a placeholder source image is given),
``has_tail_image`` (a placeholder end frame) and ``usd_per_second`` (ignored: the planner prices).
Each input goes through the real planner (``skill.planning.make_plan``), so what is checked is what
``kling3 plan`` would send. An expert prompt of ``""`` means the expert would send nothing: the
plan must be refused, or carry the planner's ``thin_prompt`` warning (nothing is left to show; the
plan still routes and prices a text of routing words only, and says so).

The checks come from the file (``must_keep``, ``must_drop``, ``shot_count``, ``lead``, ``anchor``,
``negative_must_include``, ``dialogue_speakers``) plus four that apply to every case (no orphan
labels, no fragments, no empty shots, distinct segment prompts, clean dialogue labels). The words
the checks look for are written here, from ``shared/reference/kling3.md``, not taken from the
builder's vocabulary, so the builder is not graded by its own word lists.

The last line is ``passed N/M``; the exit status is 0 only when every case passes.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Built", "CaseResult", "build", "check_case", "generic_checks", "load_cases", "main", "run_file"]

SOURCE_IMAGE = "https://example.com/golden/source.png"
END_IMAGE = "https://example.com/golden/end.png"

# Shot sizes, angles, lenses and camera moves (kling3.md 3.2, 3.3), and the two time effects.
CAMERA_TERMS = (
    r"shot|close[ -]?ups?|closeups?|wide|medium|mid[ -]shot|aerial|drone|fpv|flyover|tracking|tracks?|"
    r"follow(?:s|ing)?|pans?|panning|tilts?|tilting|cranes?|craning|jib|boom|dolly|doll(?:y|ies|ying)|"
    r"push(?:es|ing)?[ -]?in|pull(?:s|ing)?[ -]?(?:out|back)|zoom(?:s|ing)?|orbit(?:s|ing)?|arc(?:s|ing)?|"
    r"handheld|hand[ -]held|static|locked[ -]off|tripod|pov|point[ -]of[ -]view|angle|overhead|"
    r"bird'?s[ -]eye|top[ -]down|macro|lens|\d+\s?mm|depth[ -]of[ -]field|bokeh|rack[ -]focus|"
    r"focus pull|time[ -]?lapse|slow[ -]motion|over[ -]the[ -]shoulder|two[ -]shot|insert|establishing|"
    r"steadicam|gimbal|whip[ -]pan|dutch|eye[ -]level|framing|camera|"
    # the camera named in the languages the expert sets write in ("La cámara sigue", "Die Kamera fährt")
    r"c[áa]mara|kamera|cam[ée]ra|c[âa]mera|telecamera"
)
_CAMERA = re.compile(rf"(?<![\w'])(?:{CAMERA_TERMS})(?![\w'])", re.IGNORECASE)
_LEADING_CAMERA = re.compile(
    rf"^(?:(?:a|an|the)\s+)?(?:(?:slow|slowly|smooth|gentle|steady|fast|quick|very|tight|extreme)\s+)*"
    rf"(?:{CAMERA_TERMS})(?![\w'])",
    re.IGNORECASE,
)
# A sentence of camera language only ("Close-up.", "Slow pan.") is a lead, not a fragment.
_CAMERA_ONLY = re.compile(
    rf"^(?:(?:a|an|the|slow|slowly|smooth|gentle|steady|fast|quick|very|tight|extreme|low|high)\s+)*"
    rf"(?:{CAMERA_TERMS})(?:\s+(?:{CAMERA_TERMS}))*[.!]?$",
    re.IGNORECASE,
)
_ANCHOR_SENTENCE = re.compile(
    r"\b(?:keep|keeps|preserve|maintain|lock|locked|retain|unchanged|exactly|identical|same|consistent)\b",
    re.IGNORECASE,
)
ANCHOR_WORDS: dict[str, str] = {
    "person": r"face|faces|identity|features|wardrobe|outfit|clothes|clothing|hair|likeness",
    "product": r"shape|label|labels|colou?rs?|logo|packaging|branding",
    "place": r"composition|architecture|layout|scenery|landscape|setting|skyline|storefront|buildings?|sign",
    "transformation": r"framing|background",
}
# An anchor that freezes a subject: wrong where the subject is a place or is meant to change.
_FREEZES_SUBJECT = re.compile(r"\b(?:subject|identity|appearance|face|faces)\b", re.IGNORECASE)
_FREEZES_PRODUCT = re.compile(r"\b(?:shape|label|labels|logo)\b", re.IGNORECASE)
_BOILERPLATE = re.compile(
    r"\b(?:keep|preserve|maintain)\b[^.]*\b(?:source image|the image|the photo|identity|subject|appearance)\b"
    r"|\bas in the (?:source )?(?:image|photo)\b",
    re.IGNORECASE,
)
LABEL_WORDS = (
    r"duration|length|tier|resolution|format|aspect(?: ratio)?|ratio|audio|sound|camera|subject|setting|"
    r"scene|style|lighting|light|mood|action|negative(?: prompt)?|avoid|exclude|music|dialogue|shot \d+"
)
_ORPHAN = re.compile(rf"^(?:{LABEL_WORDS})\s*[:.]?$", re.IGNORECASE)
# A routing field's label in a prompt is a leak whatever follows it ("Tier: pro").
_ROUTING_LABEL = re.compile(r"(?<![\w'])(?:duration|tier|resolution|aspect ratio|budget|length)\s*:", re.IGNORECASE)
_LABEL_CHAIN = re.compile(rf"(?<![\w'])(?:{LABEL_WORDS}):\s*(?:{LABEL_WORDS}):", re.IGNORECASE)
_SHOT_HEADER = re.compile(r"(?:^|(?<=\s))Shot \d+:\s*")
_SENTENCE_END = re.compile(r'(?<=[.!?])["\']?\s+(?=["\[A-Z0-9])')
_DIALOGUE_LABEL = re.compile(r"\[([^\]\n]{1,80})\]")
_ROUTING_WORDS = re.compile(
    r"\b(?:sound|audio|4k|1080p|720p|vertical|horizontal|portrait|square|seconds?|secs?|draft|tier|"
    r"pro|standard|kling|budget|\$\d)\b",
    re.IGNORECASE,
)
_CONTENT_WORD = re.compile(r"[A-Za-z\u00c0-\u024f]{3,}")


def norm(text: str) -> str:
    """Lowercase, straight quotes, hyphens as spaces, one space: how phrases are compared."""
    text = text.translate(str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'}))
    text = re.sub(r"[-\u2010-\u2015]", " ", text.lower())
    return " ".join(text.split())


def contains(haystack: str, phrase: str) -> bool:
    """Whether ``phrase`` occurs in ``haystack``, starting at a word boundary (a plural still counts)."""
    return re.search(r"(?<![a-z0-9])" + re.escape(norm(phrase)), norm(haystack)) is not None


def sentences(text: str) -> list[str]:
    body = _SHOT_HEADER.sub("\n", text)
    out: list[str] = []
    for chunk in body.split("\n"):
        out.extend(s.strip() for s in _SENTENCE_END.split(chunk) if s.strip())
    return out


def clauses_of(text: str) -> set[str]:
    """Every clause and sentence of the caller's text, normalised, to tell the caller's short
    sentences ("Moody, desaturated.") from fragments the builder made."""
    out: set[str] = set()
    for piece in re.split(r"[\n.;!?]+", text):
        out.add(norm(piece).strip(" ,:\"'()[]"))
        out.update(norm(c).strip(" \"'()[]") for c in re.split(r"[,:=]", piece))
    return {c for c in out if c}


def first_clause(prompt: str) -> str:
    body = _SHOT_HEADER.sub("", prompt, count=1).strip()
    return re.split(r"[,.;:!?]|\s[-\u2013\u2014]\s", body, maxsplit=1)[0].strip()


@dataclass
class Built:
    """What the planner made of one input (or why it refused)."""

    prompts: list[str] = field(default_factory=list)
    shots: list[list[str]] = field(default_factory=list)
    negative: str = ""
    mode: str = "t2v"
    refused: str = ""
    warnings: list[str] = field(default_factory=list)


@dataclass
class CaseResult:
    case: str
    checks: list[tuple[str, bool, str]]
    built: Built

    @property
    def passed(self) -> bool:
        return all(ok for _, ok, _ in self.checks)


def request_of(inp: dict[str, Any]) -> dict[str, Any]:
    """The planner request for a golden input (builder-style keys translated)."""
    req = dict(inp)
    req.pop("usd_per_second", None)
    tail = req.pop("has_tail_image", False)
    if req.get("mode") == "i2v" and not req.get("image_url"):
        req["image_url"] = SOURCE_IMAGE
    if tail and not req.get("tail_image_url"):
        req["tail_image_url"] = END_IMAGE
    return req


def build(inp: dict[str, Any]) -> Built:
    from skill.errors import InputError
    from skill.planning import make_plan

    try:
        plan = make_plan(request_of(inp))
    except InputError as exc:
        return Built(refused=f"{exc.code}: {exc.message}")
    return Built(
        prompts=[s.prompt for s in plan.segments],
        shots=[[str(x["prompt"]) for x in s.shots] for s in plan.segments],
        negative=plan.negative_prompt or "",
        mode=plan.mode,
        warnings=list(plan.warnings),
    )


Check = tuple[str, bool, str]


def _keep(b: Built, want: Iterable[str]) -> Check:
    text = " ".join(b.prompts)
    missing = [w for w in want if not contains(text, w)]
    return "must_keep", not missing, f"missing {missing}" if missing else ""


def _drop(b: Built, want: Iterable[str]) -> Check:
    text = " ".join(b.prompts)
    found = [w for w in want if contains(text, w)]
    return "must_drop", not found, f"still there {found}" if found else ""


def _shot_count(b: Built, want: int) -> Check:
    counts = {sum(len(s) for s in b.shots)}
    if len(b.shots) == 1 and not b.shots[0]:
        counts.add(1)  # one continuous shot: written 0 or 1 by different experts
    if len(b.shots) > 1:  # a film of several calls: its shots, or its beats (a one-shot call is one)
        counts.add(sum(max(1, len(s)) for s in b.shots))
    return "shot_count", want in counts, f"got {sorted(counts)}, want {want}"


def _lead(b: Built, want: str | None) -> Check:
    if want is None:
        return "lead", not b.prompts, "a prompt was written"
    clause = first_clause(b.prompts[0]) if b.prompts else ""
    if want == "camera":
        return "lead", _CAMERA.search(clause) is not None, f"first clause {clause!r} has no camera language"
    return "lead", _LEADING_CAMERA.search(clause) is None, f"first clause {clause!r} opens on camera language"


def _anchor(b: Built, want: str | None) -> Check:
    text = " ".join(b.prompts)
    anchors = [s for s in sentences(text) if _ANCHOR_SENTENCE.search(s)]
    joined = " ".join(anchors)
    if want is None:
        found = _BOILERPLATE.search(text)
        return "anchor", found is None, f"unexpected anchor {found.group(0)!r}" if found else ""
    words = re.compile(rf"\b(?:{ANCHOR_WORDS[want]})\b", re.IGNORECASE)
    if not words.search(joined):
        return "anchor", False, f"no {want} anchor in {anchors}"
    if want in ("place", "transformation") and _FREEZES_SUBJECT.search(joined):
        return "anchor", False, f"freezes a subject: {anchors}"
    if want == "transformation" and _FREEZES_PRODUCT.search(joined):
        return "anchor", False, f"freezes what should change: {anchors}"
    return "anchor", True, ""


def _negative(b: Built, want: Iterable[str]) -> Check:
    missing = [w for w in want if not contains(b.negative, w)]
    return "negative_must_include", not missing, f"missing {missing} in {b.negative!r}" if missing else ""


def _speakers(b: Built, want: Iterable[str]) -> Check:
    labels = [norm(m.group(1)) for p in b.prompts for m in _DIALOGUE_LABEL.finditer(p)]
    missing = [w for w in want if not any(lab.startswith(norm(w)) for lab in labels)]
    return "dialogue_speakers", not missing, f"missing {missing} in labels {labels}" if missing else ""


def _orphans(b: Built) -> Check:
    bad = [s for p in b.prompts for s in sentences(p) if _ORPHAN.match(s.strip())]
    bad += [m.group(0) for p in b.prompts for m in _LABEL_CHAIN.finditer(p)]
    bad += [m.group(0) for p in b.prompts for m in _ROUTING_LABEL.finditer(p)]
    return "no_orphan_labels", not bad, f"{bad}"


_VERB_ISH = re.compile(r"^[a-z]{2,}(?:ing|ed|es|s)$")
_LEADING_FUNCTION = re.compile(
    r"^(?:at|in|on|for|with|by|from|to|of|here|there|now|then|and|but|or|so|we|it|they|he|she|you|i)\b", re.IGNORECASE
)


def _shot_sentences(prompt: str) -> list[list[str]]:
    """The sentences of each shot of a prompt (one list for a single-shot prompt)."""
    chunks = [c for c in _SHOT_HEADER.split(prompt) if c.strip()]
    return [[s for s in _SENTENCE_END.split(c.strip()) if s.strip()] for c in chunks]


# A hole a removal left: a verb, article or copula with nothing after it ("The projector is and
# the piece ...", "Let's do of a shampoo bottle"), or a sentence of brackets only ("{ }.").
_HOLE = re.compile(
    r"(?<![\w'])(?:is|are|was|were|a|an|the)\s+(?:and|but|or)(?![\w'])|(?<![\w'])(?-i:a|an|the)\s*[,.;:!?]"
    r"|(?<![\w'])(?:do|make|get|have|show|create|give)\s+of(?![\w'])",
    re.IGNORECASE,
)
_QUOTED_LINE = re.compile(r'"[^"]*"')


def _fragments(b: Built, caller: str) -> Check:
    """A sentence of one or two words the builder made ("We.", "At sunrise.", "The younger one."),
    a hole a removal left ("The projector is and ..."), a sentence without a word ("{ }."), or a
    line of a quoted mail thread ("> On Fri, Sam wrote:").
    Not fragments: the caller's own short sentences ("Moody, desaturated."), camera language
    ("Close-up."), a spoken line or the sound part, and a shot's opening subject ("A cat.")."""
    own = clauses_of(caller)
    bad = []
    for p in b.prompts:
        for shot in _shot_sentences(p):
            for k, s in enumerate(shot):
                if s.startswith(("[", "Audio:")):
                    continue
                unquoted = _QUOTED_LINE.sub('""', s)
                hole = _HOLE.search(unquoted)
                if (hole and not contains(caller, hole.group(0))) or not re.search(r"[^\W\d_]", s) or re.search(r"(?:^|\s)>\s", s):
                    bad.append(s)
                    continue
                if _CAMERA_ONLY.match(s) or norm(s).strip(" .!?\"'()[]") in own:
                    continue
                words = re.findall(r"[\w'-]+", s)
                if len(words) > 2 or (len(words) == 2 and _VERB_ISH.search(words[1])):
                    continue  # "Traffic moving.", "Waves crash.": a clause, however short
                if k == 0 and not _LEADING_FUNCTION.match(s):
                    continue
                bad.append(s)
    return "no_fragments", not bad, f"{bad}"


def _empty_shots(b: Built) -> Check:
    bad = [k + 1 for shots in b.shots for k, s in enumerate(shots) if not _CONTENT_WORD.search(s)]
    bad += [p for p in b.prompts if re.search(r"Shot \d+:\s*(?:Shot \d+:|$)", p)]
    return "no_empty_shots", not bad, f"{bad}"


def _distinct(b: Built) -> Check:
    """No two segment prompts the same, and none that repeats an earlier one and adds to it."""
    ps = [norm(re.sub(r"Audio:.*$", "", p)) for p in b.prompts]
    clash = [(i + 1, j + 1) for i in range(len(ps)) for j in range(i + 1, len(ps)) if ps[i] and ps[j].startswith(ps[i])]
    return "distinct_segments", not clash, f"segments {clash} repeat each other"


def _labels_clean(b: Built) -> Check:
    bad = []
    for p in b.prompts:
        for m in _DIALOGUE_LABEL.finditer(p):
            speaker = re.split(r"[,:]", m.group(1))[0]
            if _ROUTING_WORDS.search(speaker) or len(speaker.split()) > 5:
                bad.append(m.group(0))
    return "clean_dialogue_labels", not bad, f"{bad}"


def check_case(case: dict[str, Any], built: Built | None = None) -> CaseResult:
    inp = case["input"]
    checks: dict[str, Any] = case.get("checks", {})
    expert = (case.get("expert") or {}).get("prompt")
    b = built if built is not None else build(inp)
    name = str(case.get("case", "?"))
    if expert == "":
        flagged = bool(b.refused) or any(w.startswith("thin_prompt:") for w in b.warnings)
        return CaseResult(name, [("refused", flagged, f"expected no prompt, got {b.prompts}")], b)
    if b.refused:
        return CaseResult(name, [("built", False, f"refused: {b.refused}")], b)
    caller = " ".join([inp.get("text", ""), *(s.get("prompt", "") for s in inp.get("shots") or [])])
    out: list[Check] = []
    steps: list[tuple[str, Callable[[Any], Check]]] = [
        ("must_keep", lambda v: _keep(b, v)),
        ("must_drop", lambda v: _drop(b, v)),
        ("shot_count", lambda v: _shot_count(b, int(v))),
        ("lead", lambda v: _lead(b, v)),
        ("anchor", lambda v: _anchor(b, v)),
        ("negative_must_include", lambda v: _negative(b, v)),
        ("dialogue_speakers", lambda v: _speakers(b, v)),
    ]
    for key, run in steps:
        if key in checks:
            out.append(run(checks[key]))
    out += generic_checks(b, caller)
    return CaseResult(name, out, b)


def generic_checks(b: Built, caller: str) -> list[Check]:
    """The checks every prompt must pass, whatever the case: no orphan labels, no fragments the
    builder made, no empty shots, distinct segment prompts, clean dialogue labels."""
    return [_orphans(b), _fragments(b, caller), _empty_shots(b), _distinct(b), _labels_clean(b)]


def load_cases(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def run_file(path: Path, *, show: bool = False, out: Any = None) -> tuple[int, int]:
    out = out or sys.stdout
    cases = load_cases(path)
    passed = 0
    for case in cases:
        res = check_case(case)
        passed += res.passed
        print(f"{'PASS' if res.passed else 'FAIL'}  {res.case}", file=out)
        for name, ok, detail in res.checks:
            print(f"      {'ok  ' if ok else 'FAIL'} {name}{'' if ok else ': ' + detail}", file=out)
        if show:
            for k, p in enumerate(res.built.prompts or [f"(refused: {res.built.refused})"], 1):
                print(f"      segment {k}: {p}", file=out)
            if res.built.negative:
                print(f"      negative: {res.built.negative}", file=out)
            expert = (case.get("expert") or {}).get("prompt")
            if expert is not None:
                print(f"      expert:    {expert}", file=out)
    print(f"passed {passed}/{len(cases)}", file=out)
    return passed, len(cases)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.prompt_checks", description=__doc__.split("\n\n")[0])
    ap.add_argument("file", type=Path, help="JSON lines: {case, input, expert?, checks}")
    ap.add_argument("--show", action="store_true", help="print the built prompts and the expert's")
    args = ap.parse_args(argv)
    passed, total = run_file(args.file, show=args.show)
    return 0 if passed == total else 1


if __name__ == "__main__":
    raise SystemExit(main())
