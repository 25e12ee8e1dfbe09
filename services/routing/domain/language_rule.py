"""How strictly a queue matches the contact's language, and how that widens with the wait (pure).

A queue says, for the language the platform detected (or the endpoint fixed) on a contact:

- `required`: only agents who speak it are offered the contact;
- `preferred`: an agent who speaks it wins over one who does not, but when none is free the
  contact goes to another eligible agent rather than wait;
- `any`: the language plays no part.

Like bullseye rings, the rule can widen after a wait: `required` for the first 60 s, then
`preferred`, then `any` after 180 s. A step may only widen (required -> preferred -> any), never
narrow again, so a contact never loses agents it could already have had. A queue that says
nothing keeps the strict default (`required`, no widening): what routing always did.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field

from routing.domain.agents import AcdInputError


class LanguageMode(enum.StrEnum):
    REQUIRED = "required"
    PREFERRED = "preferred"
    ANY = "any"


#: Strictest first: a later step's mode must not come before an earlier step's here.
_WIDTH = {LanguageMode.REQUIRED: 0, LanguageMode.PREFERRED: 1, LanguageMode.ANY: 2}


def parse_mode(value: str, field_name: str) -> LanguageMode:
    try:
        return LanguageMode(value.strip().lower())
    except ValueError:
        known = [m.value for m in LanguageMode]
        raise AcdInputError(field_name, f"unknown language mode {value!r}; one of {known}") from None


@dataclass(frozen=True, slots=True)
class LanguageStep:
    """From `after_seconds` of waiting on, the language is matched as `mode` says."""

    after_seconds: float
    mode: LanguageMode


@dataclass(frozen=True, slots=True)
class LanguageRule:
    steps: tuple[LanguageStep, ...] = (LanguageStep(0.0, LanguageMode.REQUIRED),)
    #: Required for ever: the default, and the matcher's fastest path (a field, not a property:
    #: it is read on every routing decision).
    is_strict: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        strict = len(self.steps) == 1 and self.steps[0].mode is LanguageMode.REQUIRED
        object.__setattr__(self, "is_strict", strict)
        if not self.steps or self.steps[0].after_seconds != 0:
            raise AcdInputError("language", "the first language step must start at 0 seconds")
        for i in range(1, len(self.steps)):
            before, step = self.steps[i - 1], self.steps[i]
            if step.after_seconds <= before.after_seconds:
                raise AcdInputError(
                    f"language_widening[{i - 1}].after_seconds", "language step start times must increase"
                )
            if _WIDTH[step.mode] <= _WIDTH[before.mode]:
                raise AcdInputError(
                    f"language_widening[{i - 1}].mode",
                    f"{step.mode.value!r} after {before.mode.value!r} does not widen "
                    "(required -> preferred -> any)",
                )

    def step_at(self, waited_seconds: float) -> int:
        """Index of the widest step reached after `waited_seconds` (the language ring)."""
        steps = self.steps
        for i in range(len(steps) - 1, 0, -1):
            if waited_seconds >= steps[i].after_seconds:
                return i
        return 0

    def mode_at(self, waited_seconds: float) -> LanguageMode:
        return self.steps[self.step_at(waited_seconds)].mode


STRICT = LanguageRule()


def language_rule(mode: str, widening: Iterable[tuple[float, str]] = ()) -> LanguageRule:
    """A checked rule from configuration: the mode from 0 s, then (after_seconds, mode) steps.

    An empty `mode` means `required`. Errors name the field (`language`, `language_widening[i]`).
    """
    steps = [LanguageStep(0.0, parse_mode(mode or "required", "language"))]
    for i, (after, step_mode) in enumerate(widening):
        if not after > 0:
            raise AcdInputError(f"language_widening[{i}].after_seconds", f"must be > 0, got {after}")
        steps.append(LanguageStep(float(after), parse_mode(step_mode, f"language_widening[{i}].mode")))
    rule = LanguageRule(tuple(steps))
    return STRICT if rule == STRICT else rule
