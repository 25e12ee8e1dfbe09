"""ccpolicy: compliance rules as data, evaluated at run time (pure: no I/O, imports no service).

A region's rule set (the ContactCenter's `spec.compliance`, see `ccmesh.configplane.compliance`)
says which actions need what: recording or transcription only with the customer's consent,
events leaving the region only redacted, outbound contact outside the customer's quiet hours,
exports only by some roles. The component about to act describes the situation (`Situation`)
and asks `evaluate(rules, action, situation)`; a refusal names the rule that refused, so the
caller can answer with it and publish a `PolicyViolation`. `ccctl policy test` runs the same
evaluation against sample contacts.

    from ccpolicy import Action, Situation, evaluate
    decision = evaluate(rules, Action.TRANSCRIBE, Situation(region="eu", consents={"transcription": True}))
    if not decision.allowed: refuse(decision.rule, decision.reason)
"""

from ccpolicy.evaluate import Decision, evaluate, evaluate_all
from ccpolicy.rules import (
    ConsentRule,
    ExportRoleRule,
    QuietHoursRule,
    RedactionRule,
    Rule,
    RuleSet,
    Situation,
)
from ccpolicy.vocabulary import ACTION_PURPOSE, PURPOSES, Action, Purpose, UnknownNameError

__all__ = [
    "ACTION_PURPOSE",
    "PURPOSES",
    "Action",
    "ConsentRule",
    "Decision",
    "ExportRoleRule",
    "Purpose",
    "QuietHoursRule",
    "RedactionRule",
    "Rule",
    "RuleSet",
    "Situation",
    "UnknownNameError",
    "evaluate",
    "evaluate_all",
]
