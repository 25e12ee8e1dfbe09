"""Inbound actions -> journeys (a durable consumer on the region's actions stream).

`routing-actions` takes `ccact.<region>.*.update_attributes.*` and
`ccact.<region>.*.send_flow_event.*`; of the attribute updates it applies those whose target is
a contact (target = customer is identity's: acknowledged and left alone). What each action does
to a journey is in `routing.service_layer.journey_actions`. Every outcome is remembered in the
journeys bucket (`act.<tenant>.<action id>`), so a redelivered action applies once:

    applied          merged into the journey's attributes / the waiting journey continued
    not_applicable   no journey for the contact, or it does not wait for this event (INFO log)
    failed           bad contact id or event name, attributes over the limits: logged,
                     recorded, and dead-lettered to `ccdlq.<region>.routing-actions`
"""

from __future__ import annotations

import logging

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
from contactcenter.integration.v1 import integration_pb2
from routing.service_layer.journey_actions import JourneyActionRefused, JourneyActions, Outcome

log = logging.getLogger(__name__)

DURABLE = "routing-actions"
ACTIONS = ("update_attributes", "send_flow_event")


def actions_consumer(
    js: JetStreamContext, region: str, actions: JourneyActions, kv: KeyValue
) -> ActionConsumer:
    ledger = ActionLedger(kv)

    async def handle(record: integration_pb2.ActionRecord) -> None:
        kind = record.WhichOneof("action")
        if kind == "update_attributes":
            request = record.update_attributes
            if request.target != integration_pb2.ATTRIBUTE_TARGET_CONTACT:
                return  # customer attributes: identity applies them
            contact_id = request.target_id
        elif kind == "send_flow_event":
            contact_id = record.send_flow_event.contact_id
        else:
            return
        tenant_id, action_id = record.tenant_id, record.action_id

        async def note(status: str, reason: str) -> None:
            await ledger.record(tenant_id, action_id, LedgerEntry(status, kind, contact_id, reason))

        if await ledger.done(tenant_id, action_id) is not None:
            log.info("action %s (%s, contact %s) was applied before; skipped", action_id, kind, contact_id)
            return
        try:
            outcome: Outcome
            if kind == "update_attributes":
                outcome = await actions.update_attributes(
                    tenant_id, contact_id, record.update_attributes.attributes
                )
            else:
                event = record.send_flow_event
                outcome = await actions.send_flow_event(tenant_id, contact_id, event.event_name, event.data)
        except JourneyActionRefused as error:
            await note(FAILED, str(error))
            log.warning("action %s (%s) failed: %s", action_id, kind, error)
            raise PermanentError(str(error)) from None
        await note(APPLIED if outcome.applied else NOT_APPLICABLE, outcome.detail)
        log.info(
            "action %s (%s, contact %s) %s: %s",
            action_id,
            kind,
            contact_id,
            "applied" if outcome.applied else "not applicable",
            outcome.detail,
        )

    return ActionConsumer(js, region, DURABLE, ACTIONS, handle)
