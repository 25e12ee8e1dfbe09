"""IdentityService: decode, check access, call one use case, encode."""

from __future__ import annotations

import time
import uuid
from typing import Any

import grpc

from ccmesh.configplane.models import Tenant
from ccmesh.status import RpcError
from contactcenter.common.v1 import common_pb2
from contactcenter.identity.v1 import identity_pb2, identity_pb2_grpc
from identity.domain.audit import CROSSING, AuditRecord, CrossingRecord
from identity.domain.customer import InvalidAttributes, check_attributes
from identity.domain.identifiers import Identifier
from identity.domain.residency import CrossingKind, crossing_kind
from identity.domain.timeline import MAX_SUMMARY, TimelineEntry
from identity.entrypoints import convert
from identity.entrypoints.agents_rpc import AgentHandlers
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
    invalid,
)
from identity.service_layer.forget import forget_customer
from identity.service_layer.merge import CustomerMissing, MergeRefused, merge_customers, unmerge_customer
from identity.service_layer.resolve import (
    RemoteAnswer,
    ResolveConflict,
    ResolveContext,
    resolve_customer,
)
from identity.service_layer.timeline import DEFAULT_PAGE, MAX_PAGE, read_timeline


class IdentityServicer(AgentHandlers, identity_pb2_grpc.IdentityServiceServicer):
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
        tenant = self._tenant(ref.tenant_id, ref.brand_id)
        identifiers = convert.identifiers_from(request.identifiers)
        try:
            attributes = check_attributes(request.attributes)
        except InvalidAttributes as error:
            raise invalid(str(error)) from None
        try:
            outcome = await resolve_customer(
                self._resolve_context(tenant, ref.brand_id, caller.subject), identifiers, attributes
            )
        except ResolveConflict as error:
            raise RpcError(grpc.StatusCode.ABORTED, str(error)) from None
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
        await self._d.access.require(context, ref.tenant_id, READ_ROLES, "customers:read")
        tenant = self._tenant(ref.tenant_id, ref.brand_id)
        customer, revision = await self._customer(tenant, ref.brand_id, request.customer_id)
        return identity_pb2.GetCustomerResponse(
            customer=convert.customer_to(customer, revision, ref.brand_id)
        )

    async def GetTenant(
        self, request: identity_pb2.GetTenantRequest, context: Any
    ) -> identity_pb2.GetTenantResponse:
        await self._d.access.require(context, request.tenant_id, READ_ROLES)
        tenant = self._tenant(request.tenant_id, "")
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
        tenant = self._tenant(ref.tenant_id, ref.brand_id)
        check_customer_id(request.target_customer_id, "target_customer_id")
        check_customer_id(request.source_customer_id, "source_customer_id")
        if request.target_customer_id == request.source_customer_id:
            raise invalid("target_customer_id and source_customer_id must differ")
        check_reason(request.reason)
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
            raise RpcError(grpc.StatusCode.NOT_FOUND, str(error)) from None
        except MergeRefused as error:
            raise RpcError(grpc.StatusCode.FAILED_PRECONDITION, str(error)) from None
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
        tenant = self._tenant(ref.tenant_id, ref.brand_id)
        check_customer_id(request.source_customer_id, "source_customer_id")
        check_reason(request.reason)
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
            raise RpcError(grpc.StatusCode.NOT_FOUND, str(error)) from None
        except MergeRefused as error:
            raise RpcError(grpc.StatusCode.FAILED_PRECONDITION, str(error)) from None
        return identity_pb2.UnmergeCustomerResponse(
            source=convert.customer_to(source, 0, ref.brand_id),
            target=convert.customer_to(target, 0, ref.brand_id),
            audit=convert.audit_to(record),
        )

    async def ListAuditRecords(
        self, request: identity_pb2.ListAuditRecordsRequest, context: Any
    ) -> identity_pb2.ListAuditRecordsResponse:
        ref = request.tenant
        await self._d.access.require(context, ref.tenant_id, AUDIT_ROLES, "customers:read")
        tenant = self._tenant(ref.tenant_id, ref.brand_id)
        check_customer_id(request.customer_id)
        scope = convert.scope_of(tenant, ref.brand_id)
        # Only customers of the caller's scope (or their tombstones): never another brand's records.
        if await self._d.store.get(
            scope, request.customer_id
        ) is None and not await self._d.store.has_tombstone(scope, request.customer_id):
            raise RpcError(grpc.StatusCode.NOT_FOUND, f"customer {request.customer_id!r} not found")
        records = await self._d.history.audit(tenant.id, request.customer_id)
        return identity_pb2.ListAuditRecordsResponse(records=[convert.audit_to(r) for r in records])

    # -- timeline
    async def AppendTimelineEntry(
        self, request: identity_pb2.AppendTimelineEntryRequest, context: Any
    ) -> identity_pb2.AppendTimelineEntryResponse:
        ref = request.tenant
        await self._d.access.require(context, ref.tenant_id, EVERY_ROLE, "timeline:write")
        tenant = self._tenant(ref.tenant_id, ref.brand_id)
        entry = request.entry
        if not entry.entry_id or len(entry.entry_id) > ENTRY_ID_MAX:
            raise invalid(f"entry.entry_id: required, at most {ENTRY_ID_MAX} characters")
        if entry.kind == identity_pb2.TIMELINE_ENTRY_KIND_UNSPECIFIED:
            raise invalid("entry.kind is unspecified")
        if len(entry.summary) > MAX_SUMMARY:
            raise invalid(f"entry.summary: at most {MAX_SUMMARY} characters")
        customer, _ = await self._customer(tenant, ref.brand_id, entry.customer_id)
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
        await self._d.access.require(context, ref.tenant_id, READ_ROLES, "timeline:read")
        tenant = self._tenant(ref.tenant_id, ref.brand_id)
        if request.page_size > MAX_PAGE:
            raise invalid(f"page_size: at most {MAX_PAGE}")
        start = 0
        if request.page_token:
            if not request.page_token.isdigit():
                raise invalid("page_token: not a token from a previous page")
            start = int(request.page_token)
        customer, _ = await self._customer(tenant, ref.brand_id, request.customer_id)
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
        tenant = self._tenant(ref.tenant_id, ref.brand_id)
        check_reason(request.reason)
        customer, _ = await self._customer(tenant, ref.brand_id, request.customer_id)
        try:
            removed, tombstone = await forget_customer(
                self._d.js,
                self._d.store,
                self._d.history,
                self._d.global_index,
                self._d.scrubber,
                customer=customer,
                region=self._d.region,
                actor=caller.subject,
                reason=request.reason,
            )
        except MergeRefused as error:
            raise RpcError(grpc.StatusCode.FAILED_PRECONDITION, str(error)) from None
        return identity_pb2.ForgetCustomerResponse(removed=removed, tombstone=tombstone)

    async def ListCrossings(
        self, request: identity_pb2.ListCrossingsRequest, context: Any
    ) -> identity_pb2.ListCrossingsResponse:
        ref = request.tenant
        await self._d.access.require(context, ref.tenant_id, ADMIN)
        tenant = self._tenant(ref.tenant_id, "")
        records = await self._d.history.crossings(tenant.id)
        return identity_pb2.ListCrossingsResponse(crossings=[convert.crossing_to(r) for r in records])

    async def ResolveFromRegion(
        self, request: identity_pb2.ResolveFromRegionRequest, context: Any
    ) -> identity_pb2.ResolveFromRegionResponse:
        ref = request.tenant
        await self._d.access.require(context, ref.tenant_id, SERVICE)
        tenant = self._tenant(ref.tenant_id, ref.brand_id)
        identifiers = convert.identifiers_from(request.identifiers)
        scope = convert.scope_of(tenant, ref.brand_id)
        owner = None
        for identifier in identifiers:
            owner = await self._d.store.owner(scope, identifier)
            if owner:
                break
        found = await self._d.store.get(scope, owner) if owner else None
        if found is None:
            raise RpcError(grpc.StatusCode.NOT_FOUND, f"no customer of tenant {tenant.id!r} matches here")
        customer, revision = found
        residency = tenant.residency
        kind = crossing_kind(
            request.requesting_region, residency.personal_data_regions, residency.pseudonymous_regions
        )
        now = time.time()
        crossing = CrossingRecord(
            crossing_id=uuid.uuid4().hex,
            customer_id=customer.customer_id,
            from_region=self._d.region,
            to_region=request.requesting_region,
            kind=str(kind),
            actor=request.actor,
            at=now,
        )
        await self._d.history.add_crossing(tenant.id, crossing)
        await self._d.history.add_audit(
            tenant.id,
            customer.customer_id,
            AuditRecord(
                uuid.uuid4().hex,
                CROSSING,
                request.actor,
                now,
                f"{kind} to {request.requesting_region}",
                "",
                "",
            ),
        )
        reply = identity_pb2.ResolveFromRegionResponse(
            remote=identity_pb2.PseudonymousRef(home_region=self._d.region)
        )
        if kind is not CrossingKind.NONE:
            reply.remote.reference = self._d.index_keys.reference(
                tenant.id, self._d.region, customer.customer_id
            )
        if kind is CrossingKind.PERSONAL:
            reply.customer.CopyFrom(convert.customer_to(customer, revision, ref.brand_id))
        return reply
