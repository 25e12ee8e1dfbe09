"""Follows `message_status_changed` events so provider delivery reports find their message.

A consumer of its own (not the outbound one): indexing a receipt must not wait behind, or be
retried with, a slow provider call.
"""

from __future__ import annotations

import functools

from nats.js.client import JetStreamContext

from ccmesh import naming
from ccmesh.events import ConsumerSettings, DurableConsumer
from contactcenter.events.v1 import events_pb2
from gateway.adapters.provider_receipts import ProviderReceipts
from gateway.service_layer.delivery_receipts import index_sent

DURABLE = "gateway-receipts"


def receipts_consumer(
    js: JetStreamContext, region: str, receipts: ProviderReceipts
) -> DurableConsumer[events_pb2.Event]:
    settings = ConsumerSettings(
        durable=DURABLE,
        filter_subject=naming.event_subject(region, "*", "message_status_changed", "*"),
    )
    return DurableConsumer(js, region, settings, functools.partial(index_sent, receipts=receipts))
