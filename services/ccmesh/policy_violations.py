"""Where services meet the compliance rules: the region's rule set and the PolicyViolation event.

The rules themselves are `ccpolicy` (pure); this module only reads them from the ContactCenter
document in effect and turns a refusal into the event every enforcing service publishes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from ccmesh.configplane.contactcenter import ContactCenter
from ccmesh.envelope import new_event, stable_event_id
from ccpolicy import Action, Decision, RuleSet, Situation, evaluate
from ccpolicy.rules import EMPTY
from contactcenter.events.v1 import events_pb2


def rules_of(contact_center: ContactCenter | None) -> RuleSet:
    """The region's compliance rules now (none before a ContactCenter is applied)."""
    return contact_center.spec.compliance.rule_set if contact_center is not None else EMPTY


def violation_event(
    decision: Decision,
    action: Action,
    *,
    rules: RuleSet,
    tenant_id: str,
    region: str,
    source: str,
    contact_id: str,
    brand_id: str = "",
    customer_id: str = "",
    actor: str = "",
    occurrence: str = "",
) -> events_pb2.Event:
    """PolicyViolation for a refusal; one per (contact, action, rule), so a retried request that is
    refused again publishes nothing new, unless `occurrence` tells refusals apart (e.g. each
    export request, which belongs to no contact)."""
    return new_event(
        events_pb2.PolicyViolation(
            rule=decision.rule,
            action=action.value,
            reason=decision.reason,
            customer_id=customer_id,
            actor=actor,
            rule_set_version=rules.version,
        ),
        tenant_id=tenant_id,
        brand_id=brand_id,
        region=region,
        source=source,
        contact_id=contact_id,
        event_id=stable_event_id(
            "policy-violation", tenant_id, contact_id, action.value, decision.rule, occurrence
        ),
    )


class ViolationPublisher(Protocol):
    async def publish(self, event: events_pb2.Event, timeout: float = 5.0) -> Any: ...


class PolicyCheck:
    """One enforcement point's view of the rules: judge an action, publish a refusal."""

    def __init__(
        self, *, region: str, source: str, rules: Callable[[], RuleSet], events: ViolationPublisher
    ) -> None:
        self.region = region
        self._source = source
        self._rules = rules
        self._events = events

    def rules(self) -> RuleSet:
        return self._rules()

    async def judge(
        self,
        action: Action,
        situation: Situation,
        *,
        tenant_id: str,
        contact_id: str,
        brand_id: str = "",
        customer_id: str = "",
        actor: str = "",
        occurrence: str = "",
    ) -> Decision:
        rules = self._rules()
        decision = evaluate(rules, action, situation)
        if not decision.allowed:
            await self._events.publish(
                violation_event(
                    decision,
                    action,
                    rules=rules,
                    tenant_id=tenant_id,
                    region=self.region,
                    source=self._source,
                    contact_id=contact_id,
                    brand_id=brand_id,
                    customer_id=customer_id,
                    actor=actor,
                    occurrence=occurrence,
                )
            )
        return decision
