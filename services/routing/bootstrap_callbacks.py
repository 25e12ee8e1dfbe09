"""Queued call-back requests wired to the region: customers' commands from the event stream."""

from __future__ import annotations

from ccmesh.events import DurableConsumer
from ccmesh.service_host import Runtime
from contactcenter.events.v1 import events_pb2
from routing.adapters.callback_codec import cancel_events
from routing.config import RoutingConfig
from routing.domain.callbacks import Cancelled
from routing.entrypoints.callback_events import callback_command_consumer
from routing.service_layer.acd import AcdService
from routing.service_layer.callbacks import CallbackRequests
from routing.service_layer.ports import AcdRecords, AcdView, EventSink


def callback_requests(
    runtime: Runtime[RoutingConfig], records: AcdRecords, view: AcdView, events: EventSink, acd: AcdService
) -> CallbackRequests:
    region = runtime.config.region

    async def announce(cancelled: Cancelled) -> None:
        for event in cancel_events(cancelled, region):
            await runtime.events.publish(event)

    return CallbackRequests(records, view, events, acd.close_contact, announce)


def callback_consumer(
    runtime: Runtime[RoutingConfig], requests: CallbackRequests
) -> DurableConsumer[events_pb2.Event]:
    return callback_command_consumer(runtime.js, runtime.config.region, requests)
