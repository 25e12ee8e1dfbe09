"""Inbound actions on journeys: `update_attributes` (target = contact) and `send_flow_event`.

A contact's journey is keyed by its contact id (journey id == contact id).

update_attributes
    The attributes are merged into `journey.attributes` (string values; a key that is there
    already is replaced). The update itself must stay within 100 entries and 16 KiB. The
    write names the revision it read, so a concurrent step of the journey is re-read and
    merged again, never lost. No journey for the contact: not applicable (nothing stored).

send_flow_event -> the reply the journey waits for
    The journey engine has no free-standing "wait for event" node: a journey waits for an
    external system at an `integration` node. A step of this process that waits there (see
    `journey_work`) takes the event at once, and the journey goes on within that step. Otherwise
    the event is delivered like ContinueJourney's `integration_reply` when the stored journey
    waits at an integration node that the event names:

        event_name == the node's `integration` (catalog name, e.g. `payment-confirmed`; the
                      event's `_` may stand for `-`, so `payment_confirmed` matches too), or
        event_name == the node's id.

    The journey then resumes with `IntegrationReply(data)`: `data` (a string map) is stored
    under the node's `store` attribute exactly as an integration reply would be
    (`attributes[<store>] = {<key>: <value>, ...}`), and the journey runs on from `next` (its
    hand-offs are published as on any other step; `data` has the same limits as an attribute
    update). A journey that is not waiting, waits for something else (input, ai, callback) or
    at an integration the event does not name is left unchanged: not applicable, logged at
    INFO by the caller.

Nobody called for this step, so nobody else carries out what it asks: the journey service
publishes it (JourneyContinued) for the gateway to send its prompts on the customer's channel,
whichever routing instance ran the step that began the wait.

A lost race on the journey's revision is retried here a few times, then handed back to the
consumer (redelivered with back-off). The resume is conditional on the wait point checked here
(node and step), so a journey that moved on in between is looked at again, never continued
from a later wait.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from ccflow.effects import IntegrationReply
from ccflow.executor import JourneyError
from ccflow.journey import Journey
from ccflow.loader import bundle_from_sources
from ccflow.model import Flow, IntegrationNode
from ccflow.overlays import render
from routing.adapters.flow_store import BadKey, JourneyStore, StoreConflict
from routing.domain.wait_deadlines import WaitPoint
from routing.service_layer.journey_work import names_node
from routing.service_layer.journeys import JourneyMoved, JourneyService, NotFound

MAX_ATTRIBUTES = 100
MAX_ATTRIBUTE_BYTES = 16 * 1024
#: Lost races on a journey's revision retried before the action is handed back for redelivery.
ATTEMPTS = 5
#: Effective flows kept parsed, per (tenant, flow, version, context).
CACHE_LIMIT = 128
_EVENT_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,200}$")


class JourneyActionRefused(ValueError):
    """The action can never apply (bad contact id, attributes over the limits, bad event name)."""


@dataclass(frozen=True)
class Outcome:
    applied: bool
    #: Why it did not apply, or what it did.
    detail: str
    journey: Journey | None = None


def check_update(attributes: Mapping[str, str]) -> dict[str, str]:
    if len(attributes) > MAX_ATTRIBUTES:
        raise JourneyActionRefused(f"attributes: {len(attributes)} entries; the maximum is {MAX_ATTRIBUTES}")
    size = sum(len(k.encode()) + len(v.encode()) for k, v in attributes.items())
    if size > MAX_ATTRIBUTE_BYTES:
        raise JourneyActionRefused(f"attributes: {size} bytes in all; the maximum is {MAX_ATTRIBUTE_BYTES}")
    if any(not key for key in attributes):
        raise JourneyActionRefused("attributes: keys must not be empty")
    return dict(attributes)


class JourneyActions:
    def __init__(self, journeys: JourneyService, store: JourneyStore) -> None:
        self._journeys = journeys
        self._store = store
        self._flows: dict[tuple[str, ...], Flow] = {}

    async def _get(self, tenant: str, contact_id: str) -> tuple[Journey, int] | None:
        try:
            return await self._store.get(tenant, contact_id)
        except BadKey as error:
            raise JourneyActionRefused(str(error)) from None

    async def update_attributes(self, tenant: str, contact_id: str, attributes: Mapping[str, str]) -> Outcome:
        update = check_update(attributes)
        for _ in range(ATTEMPTS):
            found = await self._get(tenant, contact_id)
            if found is None:
                return Outcome(False, f"no journey for contact {contact_id!r}")
            journey, revision = found
            journey.attributes.update(update)
            try:
                await self._store.save(tenant, journey, revision)
            except StoreConflict:
                continue
            return Outcome(True, f"{len(update)} attribute(s) merged", journey)
        raise StoreConflict(f"journey {contact_id!r} kept changing during {ATTEMPTS} attempts")

    async def send_flow_event(
        self, tenant: str, contact_id: str, event_name: str, data: Mapping[str, str]
    ) -> Outcome:
        if not _EVENT_NAME.match(event_name):
            raise JourneyActionRefused(
                f"event name {event_name!r}: 1-200 letters, digits, '_', '-', '.', ':'"
            )
        reply = check_update(data)
        taken_at = await self._journeys.flow_event_waits.deliver_anywhere(
            tenant, contact_id, event_name, reply
        )
        if taken_at:
            return Outcome(True, f"handed to the step waiting at node {taken_at!r}")
        for _ in range(ATTEMPTS):
            found = await self._get(tenant, contact_id)
            if found is None:
                return Outcome(False, f"no journey for contact {contact_id!r}")
            journey = found[0]
            if journey.status != "waiting" or journey.waiting_for != "integration":
                waits = (
                    f"waits for {journey.waiting_for}"
                    if journey.status == "waiting"
                    else "is " + journey.status
                )
                return Outcome(False, f"journey {contact_id!r} {waits}, not for an integration event")
            nodes = (await self._flow(tenant, journey)).spec.nodes
            waiting = next((n for n in nodes if n.id == journey.node), None)
            if not isinstance(waiting, IntegrationNode) or not names_node(event_name, waiting):
                integration = waiting.integration if isinstance(waiting, IntegrationNode) else "?"
                return Outcome(
                    False,
                    f"journey {contact_id!r} waits at node {journey.node!r} for integration "
                    f"{integration!r}, not {event_name!r}",
                )
            try:
                step = await self._journeys.continue_waiting(
                    tenant, contact_id, IntegrationReply(reply), WaitPoint.of(journey), "flow_event"
                )
            except (StoreConflict, JourneyMoved):
                continue  # another step won the race: look at the journey again
            except (JourneyError, NotFound) as error:
                return Outcome(False, str(error))
            return Outcome(True, f"continued from node {waiting.id!r} at {step.journey.node!r}", step.journey)
        raise StoreConflict(f"journey {contact_id!r} kept changing during {ATTEMPTS} attempts")

    async def _flow(self, tenant: str, journey: Journey) -> Flow:
        context = journey.context()
        key = (tenant, journey.flow, str(journey.version), *(context[k] for k in sorted(context)))
        flow = self._flows.get(key)
        if flow is None:
            stored, _ = await self._journeys.get_version(tenant, journey.flow, journey.version, "")
            flow = render(bundle_from_sources(stored.files), journey.flow, context)[0]
            if len(self._flows) >= CACHE_LIMIT:
                self._flows.clear()
            self._flows[key] = flow
        return flow
