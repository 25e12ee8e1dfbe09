"""Per-tenant matching rules: which identifier kinds resolve a customer, which only suggest one.

Pure decision over "who owns each identifier": the use case reads the owners, this module
says which customer the call resolves to, which owners are only suggestions, and which
identifiers the resolved customer may claim.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from identity.domain.identifiers import Identifier, IdentifierKind

ALL_KINDS = frozenset(
    {
        IdentifierKind.PHONE,
        IdentifierKind.EMAIL,
        IdentifierKind.WEBCHAT_VISITOR_ID,
        IdentifierKind.EMAIL_THREAD,
        IdentifierKind.CRM_EXTERNAL_ID,
    }
)


@dataclass(frozen=True)
class MatchingRules:
    exact: frozenset[IdentifierKind] = ALL_KINDS
    suggest: frozenset[IdentifierKind] = frozenset()

    @classmethod
    def of(cls, exact: Iterable[str], suggest: Iterable[str]) -> MatchingRules:
        return cls(frozenset(IdentifierKind(k) for k in exact), frozenset(IdentifierKind(k) for k in suggest))

    def rule_of(self, kind: IdentifierKind) -> str:
        if kind in self.exact:
            return f"exact:{kind}"
        if kind in self.suggest:
            return f"suggest:{kind}"
        return f"none:{kind}"


@dataclass(frozen=True)
class Suggestion:
    customer_id: str
    kind: IdentifierKind
    rule: str


@dataclass(frozen=True)
class MatchDecision:
    #: The customer the call resolves to; None means "create a new one".
    customer_id: str | None
    #: The rule that decided (e.g. "exact:phone"), or "" when nothing matched.
    rule: str
    #: Owners found through rules that only suggest.
    suggestions: tuple[Suggestion, ...]
    #: Identifiers nobody owns: the resolved (or new) customer claims them.
    unclaimed: tuple[Identifier, ...]


def decide(rules: MatchingRules, owners: Mapping[Identifier, str | None]) -> MatchDecision:
    """The first identifier (in the caller's order) with an owner under an exact rule decides."""
    chosen: str | None = None
    rule = ""
    suggestions: list[Suggestion] = []
    for identifier, owner in owners.items():
        if owner is None:
            continue
        if identifier.kind in rules.exact:
            if chosen is None:
                chosen, rule = owner, rules.rule_of(identifier.kind)
        elif identifier.kind in rules.suggest:
            suggestions.append(Suggestion(owner, identifier.kind, rules.rule_of(identifier.kind)))
    suggestions = [s for s in dict.fromkeys(suggestions) if s.customer_id != chosen]
    unclaimed = tuple(i for i, owner in owners.items() if owner is None)
    return MatchDecision(chosen, rule, tuple(suggestions), unclaimed)
