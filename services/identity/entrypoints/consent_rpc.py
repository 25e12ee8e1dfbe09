"""RecordConsent, WithdrawConsent, ListConsents: decode, check access, call the use case, encode.

Giving and withdrawing take the same roles and the same fields: withdrawal is as easy as giving.
The gateway (service role) records what customers say on their channels.
"""

from __future__ import annotations

from typing import Any

from contactcenter.identity.v1 import identity_pb2
from identity.domain.consent import ConsentRecord, InvalidConsent
from identity.entrypoints.base import EVERY_ROLE, SERVICE, HandlerBase, invalid
from identity.service_layer.consent import ConsentChange, change_consent, consent_history, standing_consent

CONSENT_ROLES = EVERY_ROLE | SERVICE


def record_to(record: ConsentRecord) -> identity_pb2.ConsentRecord:
    return identity_pb2.ConsentRecord(
        record_id=record.record_id,
        customer_id=record.customer_id,
        purpose=record.purpose,
        granted=record.granted,
        channel=record.channel,  # type: ignore[arg-type]
        at=record.at,
        policy_version=record.policy_version,
        source=record.source,
        recorded_by=record.recorded_by,
        contact_id=record.contact_id,
    )


class ConsentHandlers(HandlerBase):
    async def RecordConsent(
        self, request: identity_pb2.RecordConsentRequest, context: Any
    ) -> identity_pb2.RecordConsentResponse:
        record, recorded = await self._change(request, context, granted=True)
        return identity_pb2.RecordConsentResponse(record=record_to(record), recorded=recorded)

    async def WithdrawConsent(
        self, request: identity_pb2.WithdrawConsentRequest, context: Any
    ) -> identity_pb2.WithdrawConsentResponse:
        record, recorded = await self._change(request, context, granted=False)
        return identity_pb2.WithdrawConsentResponse(record=record_to(record), recorded=recorded)

    async def ListConsents(
        self, request: identity_pb2.ListConsentsRequest, context: Any
    ) -> identity_pb2.ListConsentsResponse:
        ref = request.tenant
        caller = await self._d.access.require(context, ref.tenant_id, CONSENT_ROLES, "customers:read")
        tenant = await self._customer_tenant(context, ref.tenant_id, ref.brand_id, caller)
        customer, _ = await self._customer(context, tenant, ref.brand_id, request.customer_id)
        if request.current_only:
            standing = await standing_consent(self._d.consents, customer.scope, customer.customer_id)
            return identity_pb2.ListConsentsResponse(current=standing)
        records, standing = await consent_history(self._d.consents, customer.scope, customer.customer_id)
        return identity_pb2.ListConsentsResponse(records=[record_to(r) for r in records], current=standing)

    async def _change(
        self,
        request: identity_pb2.RecordConsentRequest | identity_pb2.WithdrawConsentRequest,
        context: Any,
        *,
        granted: bool,
    ) -> tuple[ConsentRecord, bool]:
        ref = request.tenant
        caller = await self._d.access.require(context, ref.tenant_id, CONSENT_ROLES, "customers:write")
        tenant = await self._customer_tenant(context, ref.tenant_id, ref.brand_id, caller)
        # The customer must exist here (a merged-away customer's consent belongs to its target).
        customer, _ = await self._customer(context, tenant, ref.brand_id, request.customer_id)
        try:
            return await change_consent(
                self._d.consents,
                self._d.consent_events,
                ConsentChange(
                    customer_id=customer.customer_id,
                    purpose=request.purpose,
                    granted=granted,
                    channel=int(request.channel),
                    policy_version=request.policy_version,
                    source=request.source,
                    contact_id=request.contact_id,
                    record_id=request.record_id,
                ),
                tenant_id=tenant.id,
                brand_id=ref.brand_id,
                scope=customer.scope,
                recorded_by=caller.subject,
            )
        except InvalidConsent as error:
            await invalid(context, str(error))
