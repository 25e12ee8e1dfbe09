"""Wire the routing service's parts from the runtime."""

from __future__ import annotations

import time
from collections.abc import Callable

from ccflow.effects import HandOff
from ccflow.journey import Journey
from ccmesh import naming
from ccmesh.envelope import new_event, stable_event_id
from ccmesh.events import ConsumerSettings, DurableConsumer, concurrently
from ccmesh.kv import ensure_bucket
from ccmesh.outbox import Entry, Outbox, entry_of_event, js_publisher
from ccmesh.service_host import Runtime, ServiceParts
from ccsurge.assessment import Assessment
from contactcenter.events.v1 import events_pb2
from contactcenter.routing.v1 import routing_pb2, routing_pb2_grpc
from routing.adapters.acd_publisher import AcdPublisher
from routing.adapters.acd_remote import MeshRemoteQueues
from routing.adapters.acd_store import AcdOutboxMirror, AcdStore
from routing.adapters.agent_state_events import AgentStateAnnouncer
from routing.adapters.ai_client import MeshAi
from routing.adapters.connector_client import MeshConnectors
from routing.adapters.flow_event_relay import NatsFlowEventRelay
from routing.adapters.flow_store import DeadlineStore, FlowStore, JourneyStore, PolicyStore
from routing.adapters.journey_end_event import journey_ended
from routing.adapters.region_directory import ContactCenterDirectory
from routing.adapters.surge_event_codec import surge_detected
from routing.adapters.surge_guard_log import StreamEngagementLog
from routing.adapters.surge_history import StreamArrivalHistory
from routing.bootstrap_callbacks import callback_consumer, callback_requests
from routing.bootstrap_surge import AcdOutlook, surge_actions, surge_guard, with_surge_overflow
from routing.config import RoutingConfig
from routing.domain.agents import AcdInputError
from routing.domain.journey_facts import QueueLoad, WorkFailed
from routing.entrypoints.acd_events import (
    closed_handler,
    journey_hand_off,
    overflow_rules_following,
    queued_handler,
)
from routing.entrypoints.actions import actions_consumer
from routing.entrypoints.insight_events import insight_consumer
from routing.entrypoints.journeys_rpc import action_message
from routing.entrypoints.rpc import RoutingServicer
from routing.service_layer.acd import AcdService, AcdSettings
from routing.service_layer.acd_metrics import AcdMetrics
from routing.service_layer.event_bus import EventBus
from routing.service_layer.journey_actions import JourneyActions
from routing.service_layer.journeys import Continued, JourneyService
from routing.service_layer.surge_watch import SurgeWatch, SurgeWatchSettings

#: How long closes from elsewhere gather between fetches once a fetch found few (see below).
CLOSED_GATHER_SECONDS = 0.1


def contact_queued(region: str, tenant: str, journey: Journey, hand_off: HandOff) -> events_pb2.Event:
    queued = journey_hand_off(
        hand_off.queue,
        hand_off.priority,
        journey.channel,
        journey.language,
        journey.brand,
        {**journey.attributes, **hand_off.attributes},
    )
    queued.intent = journey.intent
    queued.sentiment = journey.sentiment
    return new_event(
        queued,
        tenant_id=tenant,
        brand_id=journey.brand,
        region=region,
        contact_id=journey.journey_id,
        source="routing",
        # Fixed per journey step, so a retried step's publish is dropped as a duplicate.
        event_id=stable_event_id("routing", tenant, journey.journey_id, "queued", len(journey.path)),
    )


def journey_continued(region: str, continued: Continued) -> events_pb2.Event:
    """What a step routing ran by itself asks of the customer's channel, for the gateway."""
    journey = continued.step.journey
    payload = events_pb2.JourneyContinued(
        cause=continued.cause,
        node=continued.point.node,
        actions=[action_message(effect) for effect in continued.step.effects],
        status=journey.status,
        waiting_for=journey.waiting_for,
        language=journey.language,
    )
    return new_event(
        payload,
        tenant_id=continued.tenant,
        brand_id=journey.brand,
        region=region,
        contact_id=journey.journey_id,
        source="routing",
        # One wait ends once: fixed per wait point, a repeated publish is dropped as a duplicate.
        event_id=stable_event_id(
            "routing", continued.tenant, journey.journey_id, "continued", continued.point.step
        ),
    )


class AcdQueueLoad:
    """The platform's `queue-status` / `wait-time-estimate` integrations, from this region's ACD."""

    def __init__(self, acd: Callable[[], AcdService]) -> None:
        # Read when asked: the ACD is built after the journeys that use it.
        self._acd = acd

    async def load(self, tenant: str, queue: str) -> QueueLoad:
        try:
            report = await self._acd().queue_stats(tenant, queue)
        except AcdInputError as error:
            raise WorkFailed(str(error)) from None
        return QueueLoad(
            waiting=report.depth,
            longest_wait_seconds=report.longest_wait_seconds,
            staffed_agents=report.staffed_agents,
            expected_wait_seconds=report.predicted_average_wait_seconds,
        )


async def build(runtime: Runtime[RoutingConfig]) -> ServiceParts:
    config = runtime.config
    buckets = {}
    for name in naming.routing_region_buckets(config.region):
        buckets[name] = await ensure_bucket(
            runtime.js, name, placement_tags=runtime.placement_tags, replicas=config.stream_replicas
        )

    async def publish_queued(journey: Journey, tenant: str, hand_off: HandOff) -> None:
        await runtime.events.publish(contact_queued(config.region, tenant, journey, hand_off))

    async def publish_ended(tenant: str, journey: Journey) -> None:
        await runtime.events.publish(journey_ended(config.region, tenant, journey, time.time()))

    async def publish_continued(continued: Continued) -> None:
        await runtime.events.publish(journey_continued(config.region, continued))

    journeys_kv = buckets[naming.journeys_bucket(config.region)]

    def finished_journey_ttl() -> int:
        return runtime.finished_ttl("journeys")

    def stage_continued(continued: Continued) -> Entry:
        return entry_of_event(journey_continued(config.region, continued), config.region, at=time.time())

    journey_store = JourneyStore(journeys_kv, finished_journey_ttl)
    # A continued step's event saved with its journey goes out a sweep later should we die first.
    journeys_outbox = Outbox(journeys_kv, js_publisher(runtime.js), ttl_of=journey_store.ttl_of)

    journeys = JourneyService(
        FlowStore(buckets[naming.flows_bucket(config.region)]),
        journey_store,
        config.region,
        publish_queued,
        PolicyStore(buckets[naming.flows_bucket(config.region)]),
        ai=MeshAi(runtime.channel),
        queues=AcdQueueLoad(lambda: acd),
        connectors=MeshConnectors(runtime.channel),
        # Long integration waits end at their deadline on whichever instance is alive.
        deadlines=DeadlineStore(journeys_kv),
        publish_continued=publish_continued,
        stage_continued=stage_continued,
        publish_ended=publish_ended,
        # A flow event taken by one instance reaches a step waiting in another's call.
        flow_event_relay=NatsFlowEventRelay(runtime.nc, config.region),
        # Compliance: a journey's AI step is refused where a rule needs consent it lacks.
        compliance=runtime.policy_check("routing"),
    )
    acd_kv = None
    for name in naming.routing_acd_buckets(config.region):
        acd_kv = await ensure_bucket(
            runtime.js,
            name,
            history=1,
            placement_tags=runtime.placement_tags,
            replicas=config.stream_replicas,
        )
    assert acd_kv is not None

    acd_store = AcdStore(
        acd_kv,
        config.region,
        agent_states=AgentStateAnnouncer(
            config.region,
            heartbeat_timeout_seconds=config.acd_heartbeat_timeout_seconds,
            publish=js_publisher(runtime.js),
        ),
    )
    # Events staged with the ACD's changes (a crash before their publish) go out a sweep later.
    acd_outbox = Outbox(acd_kv, js_publisher(runtime.js), sent=acd_store.sent)
    acd_mirror = AcdOutboxMirror(acd_kv, acd_outbox)
    acd_metrics = AcdMetrics(acd_mirror)

    acd_publisher = AcdPublisher(runtime.events, config.region, acd_store.sent)
    acd_events = EventBus(acd_metrics.count, acd_publisher)
    # Fallback policies act on the ACD's records and the journeys' aliases, and widen overflow.
    outlook = AcdOutlook(lambda: acd, acd_mirror)
    fallback_actions = surge_actions(runtime, acd_store, acd_mirror, acd_events, journeys, outlook)
    guard, stop_surge_commands = await surge_guard(
        runtime, lambda: runtime.contact_center, fallback_actions, outlook
    )

    acd = AcdService(
        acd_store,
        acd_mirror,
        AcdSettings(
            config.acd_offer_timeout_seconds,
            config.acd_heartbeat_timeout_seconds,
            config.acd_tick_seconds,
            region=config.region,
        ),
        acd_events,
        overflow_rules=with_surge_overflow(
            overflow_rules_following(lambda: runtime.contact_center), fallback_actions
        ),
        remote=MeshRemoteQueues(runtime.channel, config.default_deadline_seconds),
        directory=ContactCenterDirectory(lambda: runtime.contact_center, config.region),
    )
    await acd.start()

    async def publish_surge(assessment: Assessment, interval_seconds: float) -> None:
        await runtime.events.publish(surge_detected(assessment, interval_seconds))

    # Each queue's signals through their surge detectors, from the ACD's working set.
    surge_watch = SurgeWatch(
        acd_mirror,
        config.region,
        publish_surge,
        # Every interval's assessments reach the fallback policies.
        sink=guard,
        settings=SurgeWatchSettings(
            interval_seconds=config.surge_interval_seconds,
            sensitivity=config.surge_sensitivity,
            min_duration_seconds=config.surge_min_duration_seconds,
            clear_duration_seconds=config.surge_clear_duration_seconds,
            utc_offset_seconds=config.surge_utc_offset_seconds,
        ),
        # The seasonal baselines start from the region's own past arrivals, not from nothing.
        history=StreamArrivalHistory(runtime.js, config.region),
    )
    # Engagements announced before a restart are taken up (the ACD is loaded: their steps act on it).
    await guard.restore(StreamEngagementLog(runtime.js, config.region))
    await surge_watch.start()
    await acd_outbox.start()
    await journeys.start_deadlines()
    await journeys_outbox.start(markers=True)
    queued_consumer = DurableConsumer(
        runtime.js,
        config.region,
        ConsumerSettings(
            durable="routing-acd-queued",
            filter_subject=naming.event_subject(config.region, "*", "contact_queued", "*"),
        ),
        # A fetched batch of hand-offs is enqueued at once (each is its own contact's write): the
        # batch costs one write's wait, not one per contact, and a routing pass finds them together.
        batch_handler=concurrently(queued_handler(acd)),
    )
    # Contacts closed elsewhere (a caller hanging up in the queue) leave the ACD; one durable
    # consumer shared by the region's instances, so each close is handled once (and idempotently).
    closed_consumer = DurableConsumer(
        runtime.js,
        config.region,
        ConsumerSettings(
            durable="routing-acd-closed",
            filter_subject=naming.event_subject(config.region, "*", "contact_closed", "*"),
            # Most of these are the ACD's own completions (skipped): a close from elsewhere
            # waits this much longer, a fetch each time fewer of them.
            gather_seconds=CLOSED_GATHER_SECONDS,
        ),
        closed_handler(acd),
    )
    journey_actions = actions_consumer(
        runtime.js,
        config.region,
        JourneyActions(journeys, JourneyStore(journeys_kv, finished_journey_ttl)),
        journeys_kv,
    )
    # What the AI service learns from each message (the language) reaches contacts while they wait.
    insights = insight_consumer(runtime.js, config.region, AcdStore(acd_kv), acd_mirror.record)
    # Customers' call-back commands (CALL ME, CANCEL) on their text channel.
    callbacks = callback_requests(runtime, acd_store, acd_mirror, acd_events, acd)
    callback_commands = callback_consumer(runtime, callbacks)
    servicer = RoutingServicer(runtime.access, journeys, acd, config.region, surge=guard, callbacks=callbacks)
    return ServiceParts(
        consumers=[queued_consumer, closed_consumer, journey_actions, insights, callback_commands],
        on_stop=[
            surge_watch.stop,
            stop_surge_commands,
            # Called last to first: the ACD stops, then the state changes its last writes
            # announced are sent before the connection closes.
            acd_store.settle,
            acd_publisher.settle,
            acd.stop,
            journeys.stop,
            acd_outbox.stop,
            journeys_outbox.stop,
        ],
        servicers=[
            (
                servicer,
                routing_pb2.DESCRIPTOR.services_by_name["RoutingService"],
                routing_pb2_grpc.add_RoutingServiceServicer_to_server,
            )
        ],
    )
