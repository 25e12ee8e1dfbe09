"""Judge an action against a rule set: the first rule it breaks refuses it, naming itself."""

from __future__ import annotations

from dataclasses import dataclass

from ccpolicy.rules import RuleSet, Situation
from ccpolicy.vocabulary import Action


@dataclass(frozen=True)
class Decision:
    allowed: bool
    #: The refusing rule's name; "" when allowed.
    rule: str = ""
    reason: str = ""

    def message(self) -> str:
        """The refusal as a caller should hear it: the rule's name first."""
        return f"refused by compliance rule {self.rule!r}: {self.reason}" if not self.allowed else ""


ALLOWED = Decision(True)


def evaluate(rules: RuleSet, action: Action, situation: Situation) -> Decision:
    for rule in rules.rules:
        if not rule.in_region(situation.region) or not rule.governs(action):
            continue
        reason = rule.breach(action, situation)
        if reason:
            return Decision(False, rule.name, reason)
    return ALLOWED


def evaluate_all(rules: RuleSet, action: Action, situation: Situation) -> list[Decision]:
    """Every rule's verdict on the action (one per governing rule): what `ccctl policy test` shows."""
    verdicts = []
    for rule in rules.governing(action, situation.region):
        reason = rule.breach(action, situation)
        verdicts.append(Decision(not reason, rule.name, reason))
    return verdicts
