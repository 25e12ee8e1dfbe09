"""IdentityService: decode, check access, call one use case, encode."""

from __future__ import annotations

import time
from typing import Any

import grpc

from ccmesh.configplane.models import Tenant
from ccmesh.rpc_context import abort
from contactcenter.common.v1 import common_pb2
from contactcenter.identity.v1 import identity_pb2, identity_pb2_grpc
from identity.domain.customer import InvalidAttributes, check_attributes
from identity.domain.identifiers import Identifier
from identity.domain.residency import CrossingKind
from identity.domain.timeline import MAX_SUMMARY, TimelineEntry
from identity.entrypoints import convert
from identity.entrypoints.agents_rpc import AgentHandlers
from identity.entrypoints.audit_rpc import AuditHandlers
from identity.entrypoints.base import (
    ADMIN,
    AUDIT_ROLES,
    ENTRY_ID_MAX,
    EVERY_ROLE,
    MERGE_ROLES,
    READ_ROLES,
    RESOLVE_ROLES,
    SERVICE,
    check_customer_id,
    check_reason,
    identifiers_of,
    invalid,
)
from identity.entrypoints.consent_rpc import ConsentHandlers
from identity.entrypoints.legal_hold_rpc import LegalHoldHandlers
from identity.service_layer.crossings import (
    NoCustomerHere,
    profile_refusal_by,
    record_crossing,
    resolve_from_region,
)
from identity.service_layer.forget import ErasureHeld, forget_customer
from identity.service_layer.forget_report import signed_report
from identity.service_layer.merge import CustomerMissing, MergeRefused, merge_customers, unmerge_customer
from identity.service_layer.resolve import (
    RemoteAnswer,
    ResolveConflict,
    ResolveContext,
    resolve_customer,
)
from identity.service_layer.timeline import DEFAULT_PAGE, MAX_PAGE, read_timeline


class IdentityServicer(
    AgentHandlers,
    AuditHandlers,
    ConsentHandlers,
    LegalHoldHandlers,
    identity_pb2_grpc.IdentityServiceServicer,
):
    """Customers, merges, timelines, residency and erasure here; agents and tokens in AgentHandlers."""

    def _resolve_context(self, tenant: Tenant, brand_id: str, actor: str) -> ResolveContext:
        async def ask_home(home: str, identifiers: list[Identifier]) -> RemoteAnswer:
            stub = self._d.remote(home)
            reply = await stub.ResolveFromRegion(
                identity_pb2.ResolveFromRegionRequest(
                    tenant=common_pb2.TenantRef(tenant_id=tenant.id, brand_id=brand_id),
                    identifiers=convert.identifiers_to(identifiers),
                    requesting_region=self._d.region,
                    actor=actor,
                )
            )
            customer = None
            if reply.HasField("customer") and reply.customer.customer_id:
                customer = convert.customer_from(reply.customer, convert.scope_of(tenant, brand_id))
            return RemoteAnswer(reply.remote.home_region, reply.remote.reference, customer)

        return ResolveContext(
            store=self._d.store,
            tenant_id=tenant.id,
            scope=convert.scope_of(tenant, brand_id),
            region=self._d.region,
            rules=convert.rules_of(tenant),
            global_index=self._d.global_index,
            ask_home=ask_home,
        )

    # -- customers
    async def ResolveCustomer(
        self, request: identity_pb2.ResolveCustomerRequest, context: Any
    ) -> identity_pb2.ResolveCustomerResponse:
        ref = request.tenant
        caller = await self._d.access.require(context, ref.tenant_id, RESOLVE_ROLES, "customers:write")
        tenant = await self._customer_tenant(context, ref.tenant_id, ref.brand_id, caller)
        identifiers = await identifiers_of(context, request.identifiers)
        try:
            attributes = check_attributes(request.attributes)
        except InvalidAttributes as error:
            await invalid(context, str(error))
        try:
            outcome = await resolve_customer(
                self._resolve_context(tenant, ref.brand_id, caller.subject), identifiers, attributes
            )
        except ResolveConflict as error:
            await abort(context, grpc.StatusCode.ABORTED, str(error))
        reply = identity_pb2.ResolveCustomerResponse(
            created=outcome.created, suggestions=[convert.suggestion_to(s) for s in outcome.suggestions]
        )
        if outcome.remote is not None:
            reply.remote.CopyFrom(
                identity_pb2.PseudonymousRef(
                    home_region=outcome.remote.home_region, reference=outcome.remote.reference
                )
            )
        if outcome.customer is not None:
            reply.customer.CopyFrom(convert.customer_to(outcome.customer, outcome.revision, ref.brand_id))
        return reply

    async def GetCustomer(
        self, request: identity_pb2.GetCustomerRequest, context: Any
    ) -> identity_pb2.GetCustomerResponse:
        ref = request.tenant
        caller = await self._d.access.require(context, ref.tenant_id, READ_ROLES, "customers:read")
        tenant = await self._customer_tenant(context, ref.tenant_id, ref.brand_id, caller)
        customer, revision = await self._customer(context, tenant, ref.brand_id, request.customer_id)
        return identity_pb2.GetCustomerResponse(
            customer=convert.customer_to(customer, revision, ref.brand_id)
        )

    async def FindCustomer(
        self, request: identity_pb2.FindCustomerRequest, context: Any
    ) -> identity_pb2.FindCustomerResponse:
        """A lookup: the owner of the first identifier someone owns; never creates anybody."""
        ref = request.tenant
        caller = await self._d.access.require(context, ref.tenant_id, READ_ROLES, "customers:read")
        tenant = await self._customer_tenant(context, ref.tenant_id, ref.brand_id, caller)
        scope = convert.scope_of(tenant, ref.brand_id)
        for identifier in await identifiers_of(context, request.identifiers):
            owner = await self._d.store.owner(scope, identifier)
            found = await self._d.store.get(scope, owner) if owner else None
            if found is not None:
                customer, revision = found
                return identity_pb2.FindCustomerResponse(
                    customer=convert.customer_to(customer, revision, ref.brand_id)
                )
        await abort(context, grpc.StatusCode.NOT_FOUND, "no customer has any of these identifiers")

    async def GetTenant(
        self, request: identity_pb2.GetTenantRequest, context: Any
    ) -> identity_pb2.GetTenantResponse:
        await self._d.access.require(context, request.tenant_id, READ_ROLES)
        tenant = await self._tenant(context, request.tenant_id, "")
        return identity_pb2.GetTenantResponse(
            tenant=identity_pb2.Tenant(
                tenant_id=tenant.id,
                display_name=tenant.display_name,
                brands=[
                    identity_pb2.Brand(brand_id=b.id, display_name=b.display_name) for b in tenant.brands
                ],
            )
        )

    # -- merge
    async def MergeCustomers(
        self, request: identity_pb2.MergeCustomersRequest, context: Any
    ) -> identity_pb2.MergeCustomersResponse:
        ref = request.tenant
        caller = await self._d.access.require(context, ref.tenant_id, MERGE_ROLES, "customers:write")
        tenant = await self._customer_tenant(context, ref.tenant_id, ref.brand_id, caller)
        await check_customer_id(context, request.target_customer_id, "target_customer_id")
        await check_customer_id(context, request.source_customer_id, "source_customer_id")
        if request.target_customer_id == request.source_customer_id:
            await invalid(context, "target_customer_id and source_customer_id must differ")
        await check_reason(context, request.reason)
        try:
            target, record = await merge_customers(
                self._d.store,
                self._d.history,
                scope=convert.scope_of(tenant, ref.brand_id),
                target_id=request.target_customer_id,
                source_id=request.source_customer_id,
                actor=caller.subject,
                reason=request.reason,
            )
        except CustomerMissing as error:
            await abort(context, grpc.StatusCode.NOT_FOUND, str(error))
        except MergeRefused as error:
            await abort(context, grpc.StatusCode.FAILED_PRECONDITION, str(error))
        found = await self._d.store.get(target.scope, target.customer_id)
        return identity_pb2.MergeCustomersResponse(
            customer=convert.customer_to(target, found[1] if found else 0, ref.brand_id),
            audit=convert.audit_to(record),
        )

    async def UnmergeCustomer(
        self, request: identity_pb2.UnmergeCustomerRequest, context: Any
    ) -> identity_pb2.UnmergeCustomerResponse:
        ref = request.tenant
        caller = await self._d.access.require(context, ref.tenant_id, MERGE_ROLES, "customers:write")
        tenant = await self._customer_tenant(context, ref.tenant_id, ref.brand_id, caller)
        await check_customer_id(context, request.source_customer_id, "source_customer_id")
        await check_reason(context, request.reason)
        try:
            source, target, record = await unmerge_customer(
                self._d.store,
                self._d.history,
                scope=convert.scope_of(tenant, ref.brand_id),
                source_id=request.source_customer_id,
                actor=caller.subject,
                reason=request.reason,
            )
        except CustomerMissing as error:
            await abort(context, grpc.StatusCode.NOT_FOUND, str(error))
        except MergeRefused as error:
            await abort(context, grpc.StatusCode.FAILED_PRECONDITION, str(error))
        return identity_pb2.UnmergeCustomerResponse(
            source=convert.customer_to(source, 0, ref.brand_id),
            target=convert.customer_to(target, 0, ref.brand_id),
            audit=convert.audit_to(record),
        )

    async def ListAuditRecords(
        self, request: identity_pb2.ListAuditRecordsRequest, context: Any
    ) -> identity_pb2.ListAuditRecordsResponse:
        ref = request.tenant
        caller = await self._d.access.require(context, ref.tenant_id, AUDIT_ROLES, "customers:read")
        tenant = await self._customer_tenant(context, ref.tenant_id, ref.brand_id, caller)
        await check_customer_id(context, request.customer_id)
        scope = convert.scope_of(tenant, ref.brand_id)
        # Only customers of the caller's scope (or their tombstones): never another brand's records.
        if await self._d.store.get(
            scope, request.customer_id
        ) is None and not await self._d.store.has_tombstone(scope, request.customer_id):
            await abort(context, grpc.StatusCode.NOT_FOUND, f"customer {request.customer_id!r} not found")
        records = await self._d.history.audit(tenant.id, request.customer_id)
        return identity_pb2.ListAuditRecordsResponse(records=[convert.audit_to(r) for r in records])

    # -- timeline
    async def AppendTimelineEntry(
        self, request: identity_pb2.AppendTimelineEntryRequest, context: Any
    ) -> identity_pb2.AppendTimelineEntryResponse:
        ref = request.tenant
        caller = await self._d.access.require(context, ref.tenant_id, EVERY_ROLE, "timeline:write")
        tenant = await self._customer_tenant(context, ref.tenant_id, ref.brand_id, caller)
        entry = request.entry
        if not entry.entry_id or len(entry.entry_id) > ENTRY_ID_MAX:
            await invalid(context, f"entry.entry_id: required, at most {ENTRY_ID_MAX} characters")
        if entry.kind == identity_pb2.TIMELINE_ENTRY_KIND_UNSPECIFIED:
            await invalid(context, "entry.kind is unspecified")
        if len(entry.summary) > MAX_SUMMARY:
            await invalid(context, f"entry.summary: at most {MAX_SUMMARY} characters")
        customer, _ = await self._customer(context, tenant, ref.brand_id, entry.customer_id)
        appended = await self._d.history.append(
            tenant.id,
            TimelineEntry(
                entry_id=entry.entry_id,
                customer_id=customer.customer_id,
                kind=int(entry.kind),
                channel=int(entry.channel),
                contact_id=entry.contact_id,
                at=entry.at or time.time(),
                summary=entry.summary,
            ),
        )
        return identity_pb2.AppendTimelineEntryResponse(appended=appended)

    async def GetTimeline(
        self, request: identity_pb2.GetTimelineRequest, context: Any
    ) -> identity_pb2.GetTimelineResponse:
        ref = request.tenant
        caller = await self._d.access.require(context, ref.tenant_id, READ_ROLES, "timeline:read")
        tenant = await self._customer_tenant(context, ref.tenant_id, ref.brand_id, caller)
        if request.page_size > MAX_PAGE:
            await invalid(context, f"page_size: at most {MAX_PAGE}")
        start = 0
        if request.page_token:
            if not request.page_token.isdigit():
                await invalid(context, "page_token: not a token from a previous page")
            start = int(request.page_token)
        customer, _ = await self._customer(context, tenant, ref.brand_id, request.customer_id)
        entries, next_start = await read_timeline(
            self._d.store,
            self._d.history,
            customer,
            start_sequence=start,
            page_size=request.page_size or DEFAULT_PAGE,
            channels=frozenset(int(c) for c in request.channels),
        )
        return identity_pb2.GetTimelineResponse(
            entries=[convert.entry_to(e) for e in entries],
            next_page_token=str(next_start) if next_start else "",
        )

    # -- erasure and residency
    async def ForgetCustomer(
        self, request: identity_pb2.ForgetCustomerRequest, context: Any
    ) -> identity_pb2.ForgetCustomerResponse:
        ref = request.tenant
        caller = await self._d.access.require(context, ref.tenant_id, ADMIN, "customers:write")
        tenant = await self._customer_tenant(context, ref.tenant_id, ref.brand_id, caller)
        await check_reason(context, request.reason)
        customer, _ = await self._customer(context, tenant, ref.brand_id, request.customer_id)
        try:
            erased = await forget_customer(
                self._d.store,
                self._d.history,
                self._d.global_index,
                self._d.scrubber,
                self._d.contact_events,
                customer=customer,
                region=self._d.region,
                actor=caller.subject,
                reason=request.reason,
                objects=self._d.objects,
                holds=self._d.holds,
                consents=self._d.consents,
                elsewhere=self._d.erasure_elsewhere,
            )
        except (MergeRefused, ErasureHeld) as error:
            await abort(context, grpc.StatusCode.FAILED_PRECONDITION, str(error))
        report, signature = signed_report(
            self._d.erasure_secret,
            customer=customer,
            region=self._d.region,
            actor=caller.subject,
            reason=request.reason,
            removed=erased.removed,
            tombstone=erased.tombstone,
            incomplete=erased.incomplete,
        )
        return identity_pb2.ForgetCustomerResponse(
            removed=erased.removed,
            tombstone=erased.tombstone,
            report=report,
            signature=signature,
            incomplete=erased.incomplete,
        )

    async def ListCrossings(
        self, request: identity_pb2.ListCrossingsRequest, context: Any
    ) -> identity_pb2.ListCrossingsResponse:
        ref = request.tenant
        await self._d.access.require(context, ref.tenant_id, ADMIN)
        tenant = await self._tenant(context, ref.tenant_id, "")
        records = await self._d.history.crossings(tenant.id)
        return identity_pb2.ListCrossingsResponse(crossings=[convert.crossing_to(r) for r in records])

    async def RecordCrossing(
        self, request: identity_pb2.RecordCrossingRequest, context: Any
    ) -> identity_pb2.RecordCrossingResponse:
        ref = request.tenant
        await self._d.access.require(context, ref.tenant_id, SERVICE)
        tenant = await self._tenant(context, ref.tenant_id, "")
        await check_customer_id(context, request.customer_id)
        if not request.to_region or request.to_region == self._d.region:
            await invalid(context, f"to_region: must name another region than {self._d.region!r}")
        crossing = await record_crossing(
            self._d.history,
            tenant_id=tenant.id,
            customer_id=request.customer_id,
            from_region=self._d.region,
            to_region=request.to_region,
            kind=CrossingKind.VIEW,
            actor=request.actor,
            note=request.reason,
        )
        return identity_pb2.RecordCrossingResponse(crossing=convert.crossing_to(crossing))

    async def ResolveFromRegion(
        self, request: identity_pb2.ResolveFromRegionRequest, context: Any
    ) -> identity_pb2.ResolveFromRegionResponse:
        ref = request.tenant
        caller = await self._d.access.require(context, ref.tenant_id, SERVICE)
        tenant = await self._customer_tenant(context, ref.tenant_id, ref.brand_id, caller)
        residency = tenant.residency
        try:
            answer = await resolve_from_region(
                self._d.store,
                self._d.history,
                self._d.index_keys,
                tenant_id=tenant.id,
                scope=convert.scope_of(tenant, ref.brand_id),
                region=self._d.region,
                identifiers=await identifiers_of(context, request.identifiers),
                requesting_region=request.requesting_region,
                actor=request.actor,
                personal_data_regions=residency.personal_data_regions,
                pseudonymous_regions=residency.pseudonymous_regions,
                profile_refusal=profile_refusal_by(
                    self._d.policy,
                    tenant_id=tenant.id,
                    brand_id=ref.brand_id,
                    to_region=request.requesting_region,
                    actor=request.actor,
                ),
            )
        except NoCustomerHere as error:
            await abort(context, grpc.StatusCode.NOT_FOUND, str(error))
        reply = identity_pb2.ResolveFromRegionResponse(
            remote=identity_pb2.PseudonymousRef(home_region=self._d.region, reference=answer.reference)
        )
        if answer.customer is not None:
            reply.customer.CopyFrom(convert.customer_to(answer.customer, answer.revision, ref.brand_id))
        return reply
