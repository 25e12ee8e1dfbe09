"""Consent at the edge: whether the region's rules let the gateway transcribe (or record) a call
(`ccmesh.consent_check`), and the customer's withdrawal keywords on their channels, recorded in
identity.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from ccmesh import channels
from ccmesh.consent_check import ConsentCheck
from ccmesh.policy_violations import PolicyCheck
from contactcenter.common.v1 import common_pb2
from contactcenter.identity.v1 import identity_pb2
from gateway.domain import events as ev
from gateway.domain.consent_keywords import withdrawal_confirmation, withdrawn_purposes
from gateway.domain.inbound import is_provisional
from gateway.service_layer.ports import GatewayEvents

#: (tenant, brand, customer) -> purpose -> whether consent stands (every purpose present).
ConsentLookup = Callable[[str, str, str], Awaitable[dict[str, bool]]]


class ConsentClient(Protocol):
    async def ListConsents(self, request: identity_pb2.ListConsentsRequest, **kwargs: Any) -> Any: ...
    async def WithdrawConsent(self, request: identity_pb2.WithdrawConsentRequest, **kwargs: Any) -> Any: ...


class ConsentGate(ConsentCheck):
    def __init__(
        self,
        *,
        identity: ConsentClient,
        policy: PolicyCheck,
        events: GatewayEvents | None = None,
    ) -> None:
        super().__init__(identity=identity, policy=policy, actor="gateway")
        self._client = identity
        #: Where the confirmation of a withdrawal is published (None: no confirmation).
        self._events = events

    async def standing(self, tenant_id: str, brand_id: str, customer_id: str) -> dict[str, bool]:
        # A provisional customer has no profile (nor consent) in this region: nothing to ask.
        if is_provisional(customer_id):
            return {}
        return await super().standing(tenant_id, brand_id, customer_id)

    async def withdraw_by_keyword(
        self,
        text: str,
        *,
        tenant_id: str,
        brand_id: str,
        customer_id: str,
        contact_id: str,
        channel: int,
        message_id: str,
    ) -> tuple[str, ...]:
        """Withdraw what a keyword message withdraws, and tell the customer on a text channel;
        returns the purposes (() for other text). Record and event ids derive from the message,
        so a provider's retry records and says nothing twice."""
        purposes = withdrawn_purposes(text)
        if not purposes or not customer_id or is_provisional(customer_id):
            return ()
        for purpose in purposes:
            await self._client.WithdrawConsent(
                identity_pb2.WithdrawConsentRequest(
                    tenant=common_pb2.TenantRef(tenant_id=tenant_id, brand_id=brand_id),
                    customer_id=customer_id,
                    purpose=purpose.value,
                    channel=channel,  # type: ignore[arg-type]
                    source="keyword",
                    contact_id=contact_id,
                    record_id=_record_id(message_id, purpose.value),
                )
            )
        withdrawn = tuple(p.value for p in purposes)
        if self._events is not None and channels.from_kind_or_none(channel) in channels.TEXT_CHANNELS:
            confirmation_id = f"{message_id}.consent-withdrawn"
            confirmation = ev.MessageSent(
                tenant_id=tenant_id,
                brand_id=brand_id,
                contact_id=contact_id,
                region=self._policy.region,
                event_id=confirmation_id,
                message_id=confirmation_id,
                channel=channel,
                text=withdrawal_confirmation(withdrawn),
                sender="bot",
            )
            await (await self._events.send(confirmation))
        return withdrawn


def _record_id(message_id: str, purpose: str) -> str:
    return "kw-" + hashlib.sha256(f"{message_id}/{purpose}".encode()).hexdigest()[:40]
