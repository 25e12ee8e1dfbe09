"""Inbound actions -> customer profiles (a durable consumer on the region's actions stream).

`identity-actions` takes `ccact.<region>.*.update_attributes.*` and applies those whose target
is a customer (target = contact belongs to routing's journeys; they are acknowledged and left
alone). Every outcome is remembered in the identity bucket (`act.<tenant>.<action id>`), so a
redelivered action applies once:

    applied          the attributes were merged into the profile
    not_applicable   the customer was erased: nothing to update, nothing dead-lettered
    failed           unknown tenant or customer, bad id, attributes over the limits:
                     logged, recorded, and dead-lettered to `ccdlq.<region>.identity-actions`
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from nats.js.client import JetStreamContext
from nats.js.kv import KeyValue

from ccmesh.action_consumer import (
    APPLIED,
    FAILED,
    NOT_APPLICABLE,
    ActionConsumer,
    ActionLedger,
    LedgerEntry,
    PermanentError,
)
from ccmesh.configplane.models import ContactCenter, Tenant
from contactcenter.integration.v1 import integration_pb2
from identity.adapters.profile_store import ProfileStore
from identity.entrypoints import convert
from identity.service_layer.customer_actions import (
    CustomerActionRefused,
    CustomerErased,
    merge_customer_attributes,
)

log = logging.getLogger(__name__)

DURABLE = "identity-actions"
ACTIONS = ("update_attributes",)


class ConfigNotLoaded(RuntimeError):
    """The region's ContactCenter is not known yet: retried later, never dead-lettered."""


def scopes_of(tenant: Tenant) -> list[str]:
    """Where a customer of the tenant can live: the tenant-wide scope, then each isolated brand's."""
    scopes = [convert.scope_of(tenant, ""), *(convert.scope_of(tenant, b.id) for b in tenant.brands)]
    return list(dict.fromkeys(scopes))


def actions_consumer(
    js: JetStreamContext,
    region: str,
    store: ProfileStore,
    kv: KeyValue,
    contact_center: Callable[[], ContactCenter | None],
) -> ActionConsumer:
    ledger = ActionLedger(kv)

    async def handle(record: integration_pb2.ActionRecord) -> None:
        if record.WhichOneof("action") != "update_attributes":
            return
        request = record.update_attributes
        if request.target != integration_pb2.ATTRIBUTE_TARGET_CUSTOMER:
            return  # contact attributes: routing applies them
        tenant_id, action_id, customer_id = record.tenant_id, record.action_id, request.target_id

        async def note(status: str, reason: str = "") -> None:
            entry = LedgerEntry(status, "update_attributes", customer_id, reason)
            await ledger.record(tenant_id, action_id, entry)

        if await ledger.done(tenant_id, action_id) is not None:
            log.info("action %s (customer %s) was applied before; skipped", action_id, customer_id)
            return
        document = contact_center()
        if document is None:
            raise ConfigNotLoaded(f"no ContactCenter for region {region!r} yet")
        tenant = document.spec.tenant(tenant_id)
        try:
            if tenant is None:
                raise CustomerActionRefused(f"tenant {tenant_id!r} is not served in region {region!r}")
            merged = await merge_customer_attributes(
                store, scopes_of(tenant), customer_id, request.attributes
            )
        except CustomerErased as error:
            await note(NOT_APPLICABLE, str(error))
            log.info("action %s not applicable: %s", action_id, error)
            return
        except CustomerActionRefused as error:
            await note(FAILED, str(error))
            log.warning("action %s failed: %s", action_id, error)
            raise PermanentError(str(error)) from None
        await note(APPLIED, f"merged into {merged.customer.customer_id}" if merged.via else "")
        log.info(
            "action %s: %d attribute(s) merged into customer %s",
            action_id,
            len(request.attributes),
            merged.customer.customer_id,
        )

    return ActionConsumer(js, region, DURABLE, ACTIONS, handle)
