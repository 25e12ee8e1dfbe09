"""May this component do X for this customer now? The region's rules, and the customer's consent
from identity when a consent rule governs X (one owner for every enforcing service).

Consent is looked up (identity ListConsents, `current_only`: one read) only when a consent rule
governs the action in this region, so regions without such rules pay nothing. A customer
identity cannot tell about (unknown here, a lookup that fails) has not consented: the action is
refused, never assumed. A refusal is published as PolicyViolation (`PolicyCheck`).
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from ccmesh.policy_violations import PolicyCheck
from ccmesh.status import RpcError
from ccpolicy import PURPOSES, Action, Decision, Situation
from ccpolicy.evaluate import ALLOWED
from contactcenter.common.v1 import common_pb2
from contactcenter.identity.v1 import identity_pb2

log = logging.getLogger(__name__)


class ConsentReader(Protocol):
    async def ListConsents(self, request: identity_pb2.ListConsentsRequest, **kwargs: Any) -> Any: ...


class ConsentCheck:
    def __init__(self, *, identity: ConsentReader, policy: PolicyCheck, actor: str) -> None:
        self._identity = identity
        self._policy = policy
        self._actor = actor

    @property
    def policy(self) -> PolicyCheck:
        """The region's rules this check judges by (other enforcement points of the service share them)."""
        return self._policy

    async def permits(
        self, action: Action, *, tenant_id: str, brand_id: str, customer_id: str, contact_id: str
    ) -> Decision:
        """The rules' verdict on `action` for this contact; a refusal is published."""
        rules = self._policy.rules()
        region = self._policy.region
        if not rules.governing(action, region):
            return ALLOWED
        consents: dict[str, bool] = {}
        if rules.requires_consent(action, region):
            consents = await self.standing(tenant_id, brand_id, customer_id)
        decision = await self._policy.judge(
            action,
            Situation(region=region, consents=consents),
            tenant_id=tenant_id,
            brand_id=brand_id,
            contact_id=contact_id,
            customer_id=customer_id,
            actor=self._actor,
        )
        if not decision.allowed:
            log.info("contact %s: %s %s", contact_id, action.value, decision.message())
        return decision

    async def consent_of(self, tenant_id: str, brand_id: str, customer_id: str) -> dict[str, bool]:
        """Every purpose -> whether the customer's consent stands (false when unknown)."""
        standing = await self.standing(tenant_id, brand_id, customer_id)
        return {purpose: standing.get(purpose, False) for purpose in PURPOSES}

    async def standing(self, tenant_id: str, brand_id: str, customer_id: str) -> dict[str, bool]:
        """Purpose -> granted, as identity knows it now; {} when it cannot tell."""
        if not customer_id:
            return {}
        try:
            reply = await self._identity.ListConsents(
                identity_pb2.ListConsentsRequest(
                    tenant=common_pb2.TenantRef(tenant_id=tenant_id, brand_id=brand_id),
                    customer_id=customer_id,
                    current_only=True,
                )
            )
        except RpcError as error:
            log.warning("consent of customer %s unknown (%s): treated as not given", customer_id, error)
            return {}
        return dict(reply.current)
