"""Stage 2: signals and fields -> a decision, by walking the rule book's ordered rules.

Each slot (tier, mode, duration, ...) is decided by the first rule that applies, and the
decision records which rule that was, every change a later rule made, and each warning, so a
plan can always say why. A refusal rule raises :class:`InputError` before anything is priced.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from skill.errors import InputError
from skill.intent import Intent, Signal
from skill.rulebook import CompiledRules, Condition, Rule, Slots

__all__ = ["Change", "Outcome", "Slots", "WarningItem", "fill_message", "route"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)


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

    slots: Slots = field(default_factory=Slots)
    decided_by: dict[str, str] = field(default_factory=dict)
    changes: list[Change] = field(default_factory=list)
    warnings: list[WarningItem] = field(default_factory=list)
    excluded: dict[str, list[Any]] = field(default_factory=dict)
    skipped: list[dict[str, Any]] = field(default_factory=list)


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
            value = self.outcome.slots.get(c.slot)
            return self._hit(c, [] if value is None else [value])
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
        found = self._signals(src["signal"], "plain", scope)
        for sig in reversed(found) if src.get("pick") == "last" else found:
            if sig.value not in excluded:
                return sig.value
        return None


_Test = Callable[[_Evaluator], bool]
_Check = Callable[[Any], bool]


def _value_check(c: Condition) -> _Check | None:
    """:meth:`_Evaluator._value_ok` for ``c`` as one closure (None: every value passes)."""
    if c.equals is None and c.in_ is None and c.not_in is None and c.lt is None and c.gt is None:
        return None
    eq, in_, not_in, lt, gt = c.equals, c.in_, c.not_in, c.lt, c.gt

    def check(value: Any) -> bool:  # the tests of ``_value_ok``, in its order
        if eq is not None and value != eq:
            return False
        if in_ is not None and value not in in_:
            return False
        if not_in is not None and value in not_in:
            return False
        if lt is not None and not (isinstance(value, (int, float)) and value < lt):
            return False
        if gt is not None and not (isinstance(value, (int, float)) and value > gt):  # noqa: SIM103
            return False
        return True

    return check


def _compile(c: Condition | None) -> _Test:
    """:meth:`_Evaluator.test` of ``c`` as a closure, its shape read once per rule book rather than
    on every plan; it tests the same values in the same order, so it leaves the same witness."""
    if c is None or c.always:
        return lambda ev: True
    if c.all_ is not None:
        subs = tuple(_compile(sub) for sub in c.all_)
        return lambda ev: all(t(ev) for t in subs)
    if c.any_ is not None:
        subs = tuple(_compile(sub) for sub in c.any_)
        return lambda ev: any(t(ev) for t in subs)
    if c.not_ is not None:
        inner = _compile(c.not_)
        return lambda ev: not inner(ev)
    if (field_name := c.field_) is not None:
        return _value_test(lambda ev: ev.fields.get(field_name), _value_check(c))
    if (slot := c.slot) is not None:
        return _value_test(lambda ev: ev.outcome.slots.get(slot), _value_check(c))
    if c.signal is None:
        return lambda ev: ev.test(c)  # shots_total, or no test at all: as the evaluator reads it
    return _signal_test(c.signal, c.state, c.scope, _value_check(c))


def _value_test(read: Callable[[_Evaluator], Any], check: _Check | None) -> _Test:
    """A field or slot condition: its value, when set, passes."""

    def test(ev: _Evaluator) -> bool:
        value = read(ev)
        if value is not None and (check is None or check(value)):
            ev.witness = value
            return True
        return False

    return test


def _signal_test(name: str, state: str, scope: str, check: _Check | None) -> _Test:
    """A signal condition: the first of the signal's cues in ``state`` and ``scope`` whose value passes."""
    any_state, anywhere = state == "any", scope == "anywhere"

    def test(ev: _Evaluator) -> bool:
        for s in ev.intent.by_name.get(name, ()):
            if (any_state or s.state == state) and (anywhere or not s.in_shots) and (check is None or check(s.value)):
                ev.witness = s.value
                return True
        return False

    return test


_COMPILED: dict[int, tuple[CompiledRules, tuple[_Test, ...]]] = {}
"""Each rule book's compiled ``when`` tests, by rule; kept with the rule book they belong to."""


def _tests(rules: CompiledRules) -> tuple[_Test, ...]:
    got = _COMPILED.get(id(rules))
    if got is not None and got[0] is rules:
        return got[1]
    tests = tuple(_compile(rule.when) for rule in rules.data.rules)
    _COMPILED[id(rules)] = (rules, tests)
    return tests


def route(fields: dict[str, Any], intent: Intent, rules: CompiledRules) -> Outcome:
    """Walk the rules in order. Raises :class:`InputError` on the first refusal that applies."""
    outcome = Outcome()
    for sig in intent.signals:
        spec_excludes = intent.excludes.get(sig.name)
        ruling = sig.state == "negated" or (sig.state == "plain" and sig.name in intent.ruling_out)
        if ruling and spec_excludes:
            bucket = outcome.excluded.setdefault(spec_excludes, [])
            if sig.value not in bucket:
                bucket.append(sig.value)
    ev = _Evaluator(fields, intent, outcome)
    for rule, when in zip(rules.data.rules, _tests(rules), strict=True):
        if rule.slot is not None:
            if outcome.slots.is_set(rule.slot) and not rule.override:
                continue
            if not when(ev):
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
            outcome.slots.put(rule.slot, value)
            outcome.decided_by[rule.slot] = rule.id
            continue
        ev.witness = None
        if not when(ev):
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
