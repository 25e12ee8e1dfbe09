"""Between the contract's messages and the domain's values."""

from __future__ import annotations

from collections.abc import Iterable

from ccmesh.configplane.models import Tenant
from contactcenter.common.v1 import common_pb2
from contactcenter.identity.v1 import identity_pb2
from identity.domain.agents import Agent
from identity.domain.audit import AuditRecord, CrossingRecord
from identity.domain.customer import Customer
from identity.domain.identifiers import Identifier, IdentifierKind, InvalidIdentifier, normalize
from identity.domain.matching import MatchingRules, Suggestion
from identity.domain.timeline import TimelineEntry

MAX_IDENTIFIERS = 20

KIND_FROM_PROTO = {
    common_pb2.IDENTIFIER_KIND_PHONE: IdentifierKind.PHONE,
    common_pb2.IDENTIFIER_KIND_EMAIL: IdentifierKind.EMAIL,
    common_pb2.IDENTIFIER_KIND_WHATSAPP_ID: IdentifierKind.WHATSAPP_ID,
    common_pb2.IDENTIFIER_KIND_WEBCHAT_VISITOR_ID: IdentifierKind.WEBCHAT_VISITOR_ID,
    common_pb2.IDENTIFIER_KIND_EMAIL_THREAD: IdentifierKind.EMAIL_THREAD,
    common_pb2.IDENTIFIER_KIND_CRM_EXTERNAL_ID: IdentifierKind.CRM_EXTERNAL_ID,
}
KIND_TO_PROTO: dict[IdentifierKind, common_pb2.IdentifierKind.ValueType] = {
    kind: number for number, kind in KIND_FROM_PROTO.items() if kind is not IdentifierKind.WHATSAPP_ID
}


def scope_of(tenant: Tenant, brand_id: str) -> str:
    """Shared brands resolve in one tenant-wide space; isolated brands each in their own."""
    if tenant.brand_sharing == "isolated" and brand_id:
        return f"{tenant.id}.{brand_id}"
    return tenant.id


def rules_of(tenant: Tenant) -> MatchingRules:
    matching = tenant.identity_matching
    return MatchingRules.of(matching.exact, matching.suggest)


class InvalidIdentifiers(ValueError):
    """The request's identifiers are missing, too many or malformed; the text names which."""


def identifiers_from(items: Iterable[common_pb2.Identifier]) -> list[Identifier]:
    """Normalise every identifier; InvalidIdentifiers naming the first bad one."""
    listed = list(items)
    if not listed:
        raise InvalidIdentifiers("identifiers: at least one identifier is required")
    if len(listed) > MAX_IDENTIFIERS:
        raise InvalidIdentifiers(f"identifiers: at most {MAX_IDENTIFIERS} per call")
    identifiers = []
    for index, item in enumerate(listed):
        kind = KIND_FROM_PROTO.get(item.kind)
        if kind is None:
            raise InvalidIdentifiers(f"identifiers[{index}].kind is unspecified or unknown")
        try:
            identifiers.append(normalize(kind, item.value))
        except InvalidIdentifier as error:
            raise InvalidIdentifiers(f"identifiers[{index}]: {error}") from None
    return identifiers


def identifiers_to(identifiers: tuple[Identifier, ...] | list[Identifier]) -> list[common_pb2.Identifier]:
    return [common_pb2.Identifier(kind=KIND_TO_PROTO[i.kind], value=i.value) for i in identifiers]


def customer_to(customer: Customer, revision: int, brand_id: str = "") -> identity_pb2.Customer:
    return identity_pb2.Customer(
        customer_id=customer.customer_id,
        tenant=common_pb2.TenantRef(tenant_id=customer.tenant_id, brand_id=brand_id),
        home_region=customer.home_region,
        identifiers=identifiers_to(customer.identifiers),
        attributes=customer.attributes,
        revision=revision,
        merged_from=list(customer.merged_from),
        merged_into=customer.merged_into,
    )


def customer_from(message: identity_pb2.Customer, scope: str) -> Customer:
    return Customer(
        customer_id=message.customer_id,
        tenant_id=message.tenant.tenant_id,
        scope=scope,
        home_region=message.home_region,
        identifiers=tuple(
            Identifier(KIND_FROM_PROTO[i.kind], i.value)
            for i in message.identifiers
            if i.kind in KIND_FROM_PROTO
        ),
        attributes=dict(message.attributes),
        merged_from=tuple(message.merged_from),
        merged_into=message.merged_into,
    )


def suggestion_to(suggestion: Suggestion) -> identity_pb2.MatchSuggestion:
    return identity_pb2.MatchSuggestion(
        customer_id=suggestion.customer_id, kind=KIND_TO_PROTO[suggestion.kind], rule=suggestion.rule
    )


def audit_to(record: AuditRecord) -> identity_pb2.AuditRecord:
    return identity_pb2.AuditRecord(
        audit_id=record.audit_id,
        action=record.action,  # type: ignore[arg-type]
        actor=record.actor,
        at=record.at,
        reason=record.reason,
        target_customer_id=record.target_customer_id,
        source_customer_id=record.source_customer_id,
        moved_identifiers=list(record.moved_identifiers),
    )


def crossing_to(record: CrossingRecord) -> identity_pb2.Crossing:
    return identity_pb2.Crossing(
        crossing_id=record.crossing_id,
        customer_id=record.customer_id,
        from_region=record.from_region,
        to_region=record.to_region,
        kind=record.kind,
        actor=record.actor,
        at=record.at,
    )


def entry_to(entry: TimelineEntry) -> identity_pb2.TimelineEntry:
    return identity_pb2.TimelineEntry(
        entry_id=entry.entry_id,
        customer_id=entry.customer_id,
        kind=entry.kind,  # type: ignore[arg-type]
        channel=entry.channel,  # type: ignore[arg-type]
        contact_id=entry.contact_id,
        at=entry.at,
        summary=entry.summary,
    )


def agent_to(agent: Agent, revision: int) -> identity_pb2.Agent:
    return identity_pb2.Agent(
        agent_id=agent.agent_id,
        tenant=common_pb2.TenantRef(tenant_id=agent.tenant_id),
        display_name=agent.display_name,
        skills=[identity_pb2.Skill(name=n, proficiency=p) for n, p in agent.skills.items()],
        languages=list(agent.languages),
        channels=[
            identity_pb2.ChannelCapacity(channel=c, max_concurrent=m)  # type: ignore[arg-type]
            for c, m in agent.channels.items()
        ],
        brands=list(agent.brands),
        queues=list(agent.queues),
        home_region=agent.home_region,
        revision=revision,
        capacity_groups=[
            identity_pb2.CapacityGroup(name=name, channels=list(channels), capacity=limit)  # type: ignore[arg-type]
            for name, channels, limit in agent.capacity_groups
        ],
    )


def agent_from(message: identity_pb2.Agent, region: str) -> Agent:
    return Agent(
        agent_id=message.agent_id,
        tenant_id=message.tenant.tenant_id,
        display_name=message.display_name,
        skills={s.name: int(s.proficiency) for s in message.skills},
        languages=tuple(message.languages),
        channels={int(c.channel): int(c.max_concurrent) for c in message.channels},
        brands=tuple(message.brands),
        queues=tuple(message.queues),
        home_region=message.home_region or region,
        capacity_groups=tuple(
            (g.name, tuple(int(c) for c in g.channels), int(g.capacity)) for g in message.capacity_groups
        ),
    )
