"""Consumer of the AI service's `ai_insight` events: a waiting contact takes the detected language.

One durable consumer shared by the region's routing instances, so each insight is applied once.
An insight for a contact the ACD does not hold (not queued yet, already offered) changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ccmesh import naming
from ccmesh.events import ConsumerSettings, DurableConsumer, EventHandler, PermanentError
from contactcenter.events.v1 import events_pb2
from routing.adapters.acd_store import UnknownKey
from routing.domain.agents import AcdInputError
from routing.domain.contacts import ContactRecord
from routing.service_layer.acd_learning import ContactUpdates, learn_language

log = logging.getLogger(__name__)

DURABLE = "routing-ai-insight"
#: How long insights gather between fetches once a fetch found few: a contact that waits for an
#: agent waits far longer than this, and one with an agent free is offered before its insight.
GATHER_SECONDS = 0.1


def insight_handler(
    store: ContactUpdates, seen: Callable[[str, str], ContactRecord | None] | None = None
) -> EventHandler:
    """`seen`: the instance's view of a contact, where most insights are found to change nothing."""

    async def handle(event: events_pb2.Event) -> None:
        if event.WhichOneof("payload") != "ai_insight":
            return
        insight = event.ai_insight
        try:
            changed = await learn_language(
                store,
                event.tenant.tenant_id,
                event.contact_id,
                insight.language,
                insight.language_confidence,
                insight.language_reliable,
                intent=insight.intent,
                sentiment=insight.sentiment,
                seen=seen,
            )
        except (AcdInputError, UnknownKey) as error:  # a tenant or contact id that is no ACD key
            raise PermanentError(str(error)) from error
        if changed:
            log.info("contact %s waits now with language %s", event.contact_id, insight.language)

    return handle


def insight_consumer(
    js: object,
    region: str,
    store: ContactUpdates,
    seen: Callable[[str, str], ContactRecord | None] | None = None,
) -> DurableConsumer[events_pb2.Event]:
    settings = ConsumerSettings(
        durable=DURABLE,
        filter_subject=naming.event_subject(region, "*", "ai_insight", "*"),
        gather_seconds=GATHER_SECONDS,
    )
    return DurableConsumer(js, region, settings, insight_handler(store, seen))  # type: ignore[arg-type]
