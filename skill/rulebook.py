"""The rule engine: ``routing_rules.yaml`` validated, compiled once, and evaluated.

The engine knows no video words. Vocabulary (signals and their patterns) and policy (ordered
rules) both live in the YAML file; this module only checks that file, compiles its regexes and
walks its rules in order, recording which rule decided each slot and why.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from skill.data import data_path, load_yaml
from skill.errors import ConfigError, InputError

if TYPE_CHECKING:
    from skill.intent import Intent, Signal

__all__ = [
    "Change",
    "CompiledRules",
    "Condition",
    "Outcome",
    "Rule",
    "RulesFile",
    "WarningItem",
    "load_rules",
    "route",
]

URL_MASK = "\ue000"
URL_SIGNALS = ("image_source", "image_tail", "image_reference", "image_extra")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)


class ModifierSpec(_Model):
    window: int = Field(gt=0, le=400)
    before: list[str] = Field(default_factory=list)
    after: list[str] = Field(default_factory=list)


class RoleSpec(_Model):
    role: str
    before: list[str] = Field(default_factory=list)
    after: list[str] = Field(default_factory=list)


class ImageUrlSpec(_Model):
    pattern: str
    any_url: str
    window: int = Field(gt=0, le=400)
    roles: list[RoleSpec]
    default_role: str


class SignalSpec(_Model):
    name: str
    kind: Literal["flag", "number", "ratio"] = "flag"
    value: Any = None
    values: dict[str, list[str]] | None = None
    patterns: list[str] | None = None
    units: dict[str, float] | None = None
    modifiers: list[str] = Field(default_factory=list)
    excludes: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> SignalSpec:
        if (self.values is None) == (self.patterns is None):
            raise ValueError("give exactly one of `patterns` (with `value`) or `values`")
        return self


class Condition(_Model):
    """One test on the request; exactly one of field/signal/slot/shots_total/all/any/not/always."""

    field_: str | None = Field(default=None, alias="field")
    signal: str | None = None
    slot: str | None = None
    shots_total: bool | None = None
    all_: list[Condition] | None = Field(default=None, alias="all")
    any_: list[Condition] | None = Field(default=None, alias="any")
    not_: Condition | None = Field(default=None, alias="not")
    always: bool | None = None
    equals: Any = None
    in_: list[Any] | None = Field(default=None, alias="in")
    not_in: list[Any] | None = None
    lt: float | None = None
    gt: float | None = None
    state: Literal["plain", "negated", "deferred", "any"] = "plain"
    scope: Literal["anywhere", "outside_shots"] = "anywhere"

    @model_validator(mode="after")
    def _exactly_one(self) -> Condition:
        keys = [self.field_, self.signal, self.slot, self.shots_total, self.all_, self.any_, self.not_, self.always]
        if sum(k is not None for k in keys) != 1:
            raise ValueError("a condition needs exactly one of field, signal, slot, shots_total, all, any, not, always")
        return self


class Refusal(_Model):
    code: str
    field: str | None = None
    message: str


class WarnSpec(_Model):
    code: str
    message: str


class Rule(_Model):
    id: str
    slot: str | None = None
    override: bool = False
    when: Condition | None = None
    set: Any = None
    refuse: Refusal | None = None
    warn: WarnSpec | None = None
    change: str | None = None
    respect_exclusions: bool = True

    @model_validator(mode="after")
    def _shape(self) -> Rule:
        kinds = [self.slot is not None, self.refuse is not None, self.warn is not None]
        if sum(kinds) != 1:
            raise ValueError("a rule has exactly one of `slot` (with `set`), `refuse` or `warn`")
        if self.slot is not None and self.set is None:
            raise ValueError("a slot rule needs `set`")
        return self


class BudgetSpec(_Model):
    step_down: list[str]
    change: str
    refuse: Refusal


class RulesFile(_Model):
    version: int
    clause_break: str
    modifiers: dict[str, ModifierSpec]
    number_words: dict[str, int]
    image_urls: ImageUrlSpec
    signals: list[SignalSpec]
    rules: list[Rule]
    budget: BudgetSpec
    messages: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _references(self) -> RulesFile:
        names = {s.name for s in self.signals} | set(URL_SIGNALS)
        seen_signals: set[str] = set()
        for spec in self.signals:
            if spec.name in seen_signals:
                raise ValueError(f"signal {spec.name!r} is defined twice")
            seen_signals.add(spec.name)
            for mod in spec.modifiers:
                if mod not in self.modifiers:
                    raise ValueError(f"signal {spec.name!r}: unknown modifier {mod!r}")
        slots = {r.slot for r in self.rules if r.slot}
        ids: set[str] = set()
        for rule in self.rules:
            if rule.id in ids:
                raise ValueError(f"rule {rule.id!r} is defined twice")
            ids.add(rule.id)
            for cond in _walk(rule.when):
                if cond.signal is not None and cond.signal not in names:
                    raise ValueError(f"rule {rule.id!r}: unknown signal {cond.signal!r}")
                if cond.slot is not None and cond.slot not in slots:
                    raise ValueError(f"rule {rule.id!r}: no rule decides slot {cond.slot!r}")
            if isinstance(rule.set, dict):
                ref = rule.set.get("signal")
                if ref is not None and ref not in names:
                    raise ValueError(f"rule {rule.id!r}: sets from unknown signal {ref!r}")
                if len(set(rule.set) - {"field", "signal", "slot", "shots_total", "first_allowed", "scope"}) > 0:
                    raise ValueError(f"rule {rule.id!r}: unknown value source {sorted(rule.set)}")
        return self


def _walk(cond: Condition | None) -> list[Condition]:
    if cond is None:
        return []
    out = [cond]
    for sub in (cond.all_ or []) + (cond.any_ or []):
        out.extend(_walk(sub))
    if cond.not_ is not None:
        out.extend(_walk(cond.not_))
    return out


# -- compiled form ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CompiledSignal:
    spec: SignalSpec
    patterns: tuple[tuple[Any, re.Pattern[str]], ...]


@dataclass(frozen=True)
class CompiledModifier:
    name: str
    window: int
    before: tuple[re.Pattern[str], ...]
    after: tuple[re.Pattern[str], ...]


@dataclass(frozen=True)
class CompiledRole:
    role: str
    before: tuple[re.Pattern[str], ...]
    after: tuple[re.Pattern[str], ...]


@dataclass(frozen=True)
class CompiledRules:
    """The rules file with every regex compiled; built once per process."""

    source: Path
    data: RulesFile
    clause_break: re.Pattern[str]
    image_url: re.Pattern[str]
    any_url: re.Pattern[str]
    url_window: int
    roles: tuple[CompiledRole, ...]
    default_role: str
    modifiers: dict[str, CompiledModifier]
    signals: tuple[CompiledSignal, ...]
    number_words: dict[str, int]


def _compile(where: str, pattern: str, number_re: str) -> re.Pattern[str]:
    expanded = pattern.replace("{number}", number_re).replace("{url}", URL_MASK + "+")
    literal = re.sub(r"\\.|\(\?P[<=]\w+>?|\{\w+\}", "", pattern)
    if any(ch.isupper() for ch in literal):
        raise ValueError(f"{where}: write patterns in lower case (text is lower-cased first): {pattern!r}")
    try:
        return re.compile(expanded)
    except re.error as exc:
        raise ValueError(f"{where}: bad regex {pattern!r}: {exc}") from None


def compile_rules(data: RulesFile, source: Path) -> CompiledRules:
    words = sorted(data.number_words, key=len, reverse=True)
    number_re = "(?:\\d+(?:\\.\\d+)?|" + "|".join(re.escape(w).replace("\\ ", "[\\s-]+") for w in words) + ")"
    signals = []
    for spec in data.signals:
        where = f"signal {spec.name!r}"
        groups = spec.values.items() if spec.values is not None else [(spec.value, spec.patterns or [])]
        pats: list[tuple[Any, re.Pattern[str]]] = []
        for value, plist in groups:
            plain = [p for p in plist if "(?P<" not in p]
            named = [p for p in plist if "(?P<" in p]
            if plain:
                # One scan per value instead of one per pattern: the batch path depends on it.
                try:
                    combined = _compile(where, "|".join(f"(?:{p})" for p in plain), number_re)
                except ValueError:
                    for p in plain:
                        _compile(where, p, number_re)  # raises naming the bad pattern
                    raise
                pats.append((value, combined))
            pats.extend((value, _compile(where, p, number_re)) for p in named)
        signals.append(CompiledSignal(spec, tuple(pats)))
    modifiers = {
        name: CompiledModifier(
            name,
            m.window,
            tuple(_compile(f"modifier {name!r}", p, number_re) for p in m.before),
            tuple(_compile(f"modifier {name!r}", p, number_re) for p in m.after),
        )
        for name, m in data.modifiers.items()
    }
    roles = tuple(
        CompiledRole(
            r.role,
            tuple(_compile(f"image_urls role {r.role!r}", p, number_re) for p in r.before),
            tuple(_compile(f"image_urls role {r.role!r}", p, number_re) for p in r.after),
        )
        for r in data.image_urls.roles
    )
    return CompiledRules(
        source=source,
        data=data,
        clause_break=_compile("clause_break", data.clause_break, number_re),
        image_url=_compile("image_urls.pattern", data.image_urls.pattern, number_re),
        any_url=_compile("image_urls.any_url", data.image_urls.any_url, number_re),
        url_window=data.image_urls.window,
        roles=roles,
        default_role=data.image_urls.default_role,
        modifiers=modifiers,
        signals=tuple(signals),
        number_words={k.lower(): v for k, v in data.number_words.items()},
    )


def load_rules(path: Path | str | None = None) -> CompiledRules:
    """Load, validate and compile a rules file (the bundled one by default); cached.

    An explicit path is re-read when its mtime changes, so a long-running server picks up edits.
    """
    if path is None:
        return _default_rules()
    resolved = Path(path)
    try:
        mtime = resolved.stat().st_mtime_ns
    except OSError as exc:
        raise ConfigError(f"cannot read rules file {resolved}: {exc.strerror}", code="bad_rules") from exc
    return _load_rules_cached(str(resolved), mtime)


@functools.lru_cache(maxsize=1)
def _default_rules() -> CompiledRules:
    resolved = data_path("routing_rules.yaml")
    return _load_rules_cached(str(resolved), resolved.stat().st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _load_rules_cached(path: str, mtime_ns: int) -> CompiledRules:
    raw = load_yaml(Path(path))
    try:
        data = RulesFile.model_validate(raw)
        return compile_rules(data, Path(path))
    except ValidationError as exc:
        raise ConfigError(f"{path}: {_describe(exc, raw)}", code="bad_rules") from None
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}", code="bad_rules") from None


def _describe(exc: ValidationError, raw: Any) -> str:
    """Name the rule or signal at fault (by id/name), not only its list index."""
    parts = []
    for err in exc.errors(include_url=False)[:3]:
        loc = list(err.get("loc", ()))
        where = ".".join(str(p) for p in loc)
        if len(loc) >= 2 and loc[0] in ("rules", "signals") and isinstance(loc[1], int):
            try:
                item = raw[loc[0]][loc[1]]
                label = item.get("id") or item.get("name")
                kind = "rule" if loc[0] == "rules" else "signal"
                where = f"{kind} {label!r} ({'.'.join(str(p) for p in loc[2:]) or 'entry'})"
            except (KeyError, IndexError, TypeError, AttributeError):
                pass
        msg = str(err.get("msg", "")).removeprefix("Value error, ")
        parts.append(f"{where}: {msg}")
    return "; ".join(parts)


# -- evaluation ------------------------------------------------------------------------------


class Change(_Model):
    rule: str
    slot: str
    before: Any = Field(alias="from")
    after: Any = Field(alias="to")
    reason: str


class WarningItem(_Model):
    code: str
    message: str
    rule: str | None = None


@dataclass
class Outcome:
    """What the rules decided: slot values, the rule behind each, changes and warnings."""

    slots: dict[str, Any] = field(default_factory=dict)
    decided_by: dict[str, str] = field(default_factory=dict)
    changes: list[Change] = field(default_factory=list)
    warnings: list[WarningItem] = field(default_factory=list)
    excluded: dict[str, list[Any]] = field(default_factory=dict)
    skipped: list[dict[str, Any]] = field(default_factory=list)


_MISSING = object()


class _Evaluator:
    def __init__(self, fields: dict[str, Any], intent: Intent, outcome: Outcome) -> None:
        self.fields = fields
        self.intent = intent
        self.outcome = outcome
        self.witness: Any = None

    def _signals(self, name: str, state: str, scope: str) -> list[Signal]:
        return [
            s
            for s in self.intent.by_name.get(name, ())
            if (state == "any" or s.state == state)
            and (scope == "anywhere" or not s.in_shots)
        ]

    def _value_ok(self, c: Condition, value: Any) -> bool:
        if c.equals is not None and value != c.equals:
            return False
        if c.in_ is not None and value not in c.in_:
            return False
        if c.not_in is not None and value in c.not_in:
            return False
        if c.lt is not None and not (isinstance(value, (int, float)) and value < c.lt):
            return False
        if c.gt is not None and not (isinstance(value, (int, float)) and value > c.gt):  # noqa: SIM103
            return False
        return True

    def test(self, c: Condition | None) -> bool:
        if c is None or c.always:
            return True
        if c.all_ is not None:
            return all(self.test(sub) for sub in c.all_)
        if c.any_ is not None:
            return any(self.test(sub) for sub in c.any_)
        if c.not_ is not None:
            return not self.test(c.not_)
        if c.field_ is not None:
            value = self.fields.get(c.field_)
            return self._hit(c, [value] if value is not None else [])
        if c.slot is not None:
            value = self.outcome.slots.get(c.slot, _MISSING)
            return self._hit(c, [] if value is _MISSING or value is None else [value])
        if c.shots_total is not None:
            return (self.intent.shots_total is not None) == c.shots_total
        assert c.signal is not None
        return self._hit(c, [s.value for s in self._signals(c.signal, c.state, c.scope)])

    def _hit(self, c: Condition, values: list[Any]) -> bool:
        for value in values:
            if self._value_ok(c, value):
                self.witness = value
                return True
        return False

    def resolve(self, rule: Rule) -> Any:
        src = rule.set
        slot = rule.slot or ""
        excluded = self.outcome.excluded.get(slot, []) if rule.respect_exclusions else []
        if not isinstance(src, dict):
            return None if src in excluded else src
        if "field" in src:
            return self.fields.get(src["field"])
        if "slot" in src:
            return self.outcome.slots.get(src["slot"])
        if "shots_total" in src:
            return self.intent.shots_total
        if "first_allowed" in src:
            return next((v for v in src["first_allowed"] if v not in excluded), None)
        scope = src.get("scope", "anywhere")
        for sig in self._signals(src["signal"], "plain", scope):
            if sig.value not in excluded:
                return sig.value
        return None


def route(fields: dict[str, Any], intent: Intent, rules: CompiledRules) -> Outcome:
    """Walk the rules in order. Raises :class:`InputError` on the first refusal that applies."""
    outcome = Outcome()
    for sig in intent.signals:
        spec_excludes = intent.excludes.get(sig.name)
        if sig.state == "negated" and spec_excludes:
            bucket = outcome.excluded.setdefault(spec_excludes, [])
            if sig.value not in bucket:
                bucket.append(sig.value)
    ev = _Evaluator(fields, intent, outcome)
    for rule in rules.data.rules:
        if rule.slot is not None:
            if rule.slot in outcome.slots and not rule.override:
                continue
            if not ev.test(rule.when):
                continue
            value = ev.resolve(rule)
            if value is None:
                if rule.respect_exclusions and outcome.excluded.get(rule.slot):
                    outcome.skipped.append({"rule": rule.id, "slot": rule.slot, "reason": "ruled out"})
                continue
            if rule.override:
                before = outcome.slots.get(rule.slot)
                if before == value:
                    continue
                outcome.changes.append(
                    Change.model_validate(
                        {"rule": rule.id, "slot": rule.slot, "from": before, "to": value, "reason": rule.change or rule.id}
                    )
                )
            outcome.slots[rule.slot] = value
            outcome.decided_by[rule.slot] = rule.id
            continue
        ev.witness = None
        if not ev.test(rule.when):
            continue
        if rule.refuse is not None:
            message = fill_message(rule.refuse.message, value=ev.witness)
            raise InputError(message, code=rule.refuse.code, field=rule.refuse.field, details={"rule": rule.id})
        if rule.warn is not None:
            outcome.warnings.append(
                WarningItem(code=rule.warn.code, message=fill_message(rule.warn.message, value=ev.witness), rule=rule.id)
            )
    return outcome


def fill_message(template: str, **values: Any) -> str:
    """Fill ``{name}`` placeholders in a message from the rules file; unknown ones stay as written."""

    def sub(m: re.Match[str]) -> str:
        key = m.group(1)
        return str(values[key]) if key in values and values[key] is not None else m.group(0)

    return re.sub(r"\{(\w+)\}", sub, " ".join(template.split()))
