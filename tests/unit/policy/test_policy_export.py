"""ExportContacts under an `exportRole` rule: a role the rule does not list is refused with
PERMISSION_DENIED naming the rule, and a PolicyViolation is published; a listed role exports."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest

from ccmesh.access import AccessControl
from ccmesh.auth import TokenAuthority
from ccmesh.policy_violations import PolicyCheck
from ccpolicy import ExportRoleRule, RuleSet
from contactcenter.events.v1 import events_pb2
from contactcenter.integration.v1 import integration_pb2
from integration.entrypoints.report import export_contacts

AUTHORITY = TokenAuthority("a-secret-of-sixteen-or-more")
RULES = RuleSet((ExportRoleRule("export-by-admins", roles=frozenset({"admin"})),), "v7")


class Aborted(Exception):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"{code.name}: {details}")
        self.code = code
        self.details = details


class Context:
    def __init__(self, token: str) -> None:
        self._metadata = (("authorization", f"Bearer {token}"),)

    def invocation_metadata(self) -> Any:
        return self._metadata

    async def abort(self, code: grpc.StatusCode, details: str = "") -> None:
        raise Aborted(code, details)


@dataclass
class Events:
    published: list[events_pb2.Event] = field(default_factory=list)

    async def publish(self, event: events_pb2.Event, timeout: float = 5.0) -> None:
        self.published.append(event)


async def _export(role: str, events: Events) -> Any:
    policy = PolicyCheck(region="eu", source="integration", rules=lambda: RULES, events=events)
    token = AUTHORITY.mint("acme", role, f"{role}-1")
    request = integration_pb2.ExportContactsRequest(tenant_id="acme", start="2026-03-29", end="2026-03-30")
    # No analytics store: an export the rules allow gets as far as UNIMPLEMENTED.
    return await export_contacts(AccessControl(AUTHORITY), None, request, Context(token), policy)


async def test_a_role_the_rule_does_not_list_is_refused_naming_the_rule() -> None:
    events = Events()
    with pytest.raises(Aborted) as refused:
        await _export("supervisor", events)
    assert refused.value.code == grpc.StatusCode.PERMISSION_DENIED
    assert "refused by compliance rule 'export-by-admins'" in refused.value.details
    (violation,) = events.published
    assert violation.policy_violation.rule == "export-by-admins"
    assert (violation.policy_violation.action, violation.policy_violation.actor) == ("export", "supervisor-1")
    assert violation.source == "integration" and violation.policy_violation.rule_set_version == "v7"
    # Each refused request is its own violation (exports belong to no contact to tell them apart by).
    with pytest.raises(Aborted):
        await _export("supervisor", events)
    assert len({e.event_id for e in events.published}) == 2


async def test_a_listed_role_passes_the_rule() -> None:
    events = Events()
    with pytest.raises(Aborted) as stopped:
        await _export("admin", events)
    assert stopped.value.code == grpc.StatusCode.UNIMPLEMENTED
    assert events.published == []
