"""IdentityService handlers for legal holds: place, release, list."""

from __future__ import annotations

from typing import Any

import grpc

from ccmesh import naming
from ccmesh.retention_holds import LegalHold, LegalHoldError
from ccmesh.rpc_context import abort
from contactcenter.identity.v1 import identity_pb2
from identity.entrypoints.base import (
    ADMIN,
    AUDIT_ROLES,
    HandlerBase,
    check_customer_id,
    check_reason,
    invalid,
)
from identity.service_layer.legal_hold import place_legal_hold, release_legal_hold


def hold_to(hold: LegalHold) -> identity_pb2.LegalHold:
    return identity_pb2.LegalHold(
        hold_id=hold.hold_id,
        tenant_id=hold.tenant_id,
        customer_id=hold.customer_id,
        contact_id=hold.contact_id,
        reason=hold.reason,
        placed_by=hold.placed_by,
        placed_at=hold.placed_at,
        held=dict(hold.held),
    )


class LegalHoldHandlers(HandlerBase):
    async def PlaceLegalHold(
        self, request: identity_pb2.PlaceLegalHoldRequest, context: Any
    ) -> identity_pb2.PlaceLegalHoldResponse:
        ref = request.tenant
        caller = await self._d.access.require(context, ref.tenant_id, ADMIN, "customers:write")
        tenant = await self._customer_tenant(context, ref.tenant_id, ref.brand_id, caller)
        await check_reason(context, request.reason)
        if bool(request.customer_id) == bool(request.contact_id):
            await invalid(
                context, "customer_id, contact_id: name exactly one (the customer or the contact to hold)"
            )
        if request.customer_id:
            await self._customer(context, tenant, ref.brand_id, request.customer_id)
        else:
            await check_customer_id(context, request.contact_id, "contact_id")
        hold = await place_legal_hold(
            self._d.holds,
            self._d.history,
            tenant_id=tenant.id,
            history_bucket=naming.identity_history_bucket(self._d.region),
            customer_id=request.customer_id,
            contact_id=request.contact_id,
            reason=request.reason,
            actor=caller.subject,
        )
        return identity_pb2.PlaceLegalHoldResponse(hold=hold_to(hold))

    async def ReleaseLegalHold(
        self, request: identity_pb2.ReleaseLegalHoldRequest, context: Any
    ) -> identity_pb2.ReleaseLegalHoldResponse:
        ref = request.tenant
        await self._d.access.require(context, ref.tenant_id, ADMIN, "customers:write")
        await self._tenant(context, ref.tenant_id, ref.brand_id)
        await check_reason(context, request.reason, required=False)
        try:
            deleted = await release_legal_hold(
                self._d.holds, tenant_id=ref.tenant_id, hold_id=request.hold_id
            )
        except LegalHoldError as error:
            await abort(context, grpc.StatusCode.NOT_FOUND, str(error))
        return identity_pb2.ReleaseLegalHoldResponse(deleted=deleted)

    async def ListLegalHolds(
        self, request: identity_pb2.ListLegalHoldsRequest, context: Any
    ) -> identity_pb2.ListLegalHoldsResponse:
        ref = request.tenant
        await self._d.access.require(context, ref.tenant_id, AUDIT_ROLES, "customers:read")
        await self._tenant(context, ref.tenant_id, ref.brand_id)
        holds = await self._d.holds.holds(ref.tenant_id)
        return identity_pb2.ListLegalHoldsResponse(holds=[hold_to(hold) for hold in holds])
