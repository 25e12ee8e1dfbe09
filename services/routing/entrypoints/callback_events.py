"""Consumer of customers' messages on text channels: a message that is a call-back command
(`CALL ME`, `CANCEL`) is carried out by `CallbackRequests`. `CALL ME` takes effect here on the
channels whose address is a number (SMS, WhatsApp); on the others the gateway, which holds the
number, asks (RequestCallback); `CANCEL` works on every text channel.

One durable consumer shared by the region's routing instances, so each message is read once;
anything else a customer writes passes by unchanged.
"""

from __future__ import annotations

import logging

from ccmesh import channels, naming
from ccmesh.events import ConsumerSettings, DurableConsumer, EventHandler, NotYet, PermanentError
from contactcenter.events.v1 import events_pb2
from routing.adapters.acd_store import UnknownKey
from routing.domain.agents import AcdInputError
from routing.service_layer.callbacks import CallbackRequests, NotInAcd

log = logging.getLogger(__name__)

DURABLE = "routing-callback-commands"
#: How long customers' messages gather between fetches once a fetch found few: nearly all are
#: no command, and a command carried out this much later is no later for the customer.
GATHER_SECONDS = 0.25
#: Redelivery of a CALL ME from a contact the ACD does not hold yet. A journey's hand-off
#: (ContactQueued) reaches the ACD through its own consumer, so a customer who writes right after
#: being told they are queued can be read first; about six seconds of asking again covers that
#: gap on a busy region, and a CALL ME from a contact that never joins a queue is then let go.
NOT_QUEUED_BACKOFF_SECONDS = (0.2, 0.5, 1.0, 2.0, 2.0)
NOT_QUEUED_ATTEMPTS = len(NOT_QUEUED_BACKOFF_SECONDS) + 1
_KINDS = frozenset(channels.to_kind(channel) for channel in channels.TEXT_CHANNELS)


def callback_command_handler(requests: CallbackRequests) -> EventHandler:
    async def handle(event: events_pb2.Event) -> None:
        if event.WhichOneof("payload") != "message_received":
            return
        message = event.message_received
        if message.channel not in _KINDS:
            return
        try:
            done = await requests.on_message(event.tenant.tenant_id, event.contact_id, message.text)
        except (AcdInputError, UnknownKey) as error:  # a tenant or contact id that is no ACD key
            raise PermanentError(str(error)) from error
        except NotInAcd as error:
            raise NotYet(str(error)) from error
        if done is not None:
            log.info("contact %s: call back %s", event.contact_id, done.value)

    return handle


def callback_command_consumer(
    js: object, region: str, requests: CallbackRequests
) -> DurableConsumer[events_pb2.Event]:
    settings = ConsumerSettings(
        durable=DURABLE,
        filter_subject=naming.event_subject(region, "*", "message_received", "*"),
        gather_seconds=GATHER_SECONDS,
        max_deliver=NOT_QUEUED_ATTEMPTS,
        backoff_seconds=NOT_QUEUED_BACKOFF_SECONDS,
    )
    return DurableConsumer(js, region, settings, callback_command_handler(requests))  # type: ignore[arg-type]
