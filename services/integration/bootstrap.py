"""Wire the integration service's parts from the runtime."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from ccmesh import naming
from ccmesh.configplane.models import IntegrationConnector, Model, Tenant, WebhookSubscription
from ccmesh.configplane.store import ConfigStore
from ccmesh.events import EventPublisher
from ccmesh.kv import ensure_bucket
from ccmesh.outbox import Outbox, js_publisher
from ccmesh.service_host import Runtime, ServiceParts
from contactcenter.events.v1 import events_pb2
from contactcenter.integration.v1 import integration_pb2, integration_pb2_grpc
from integration.adapters.action_log import ActionLog, ActionPublisher
from integration.adapters.analytics_agent_store import ParquetAgentStateStore
from integration.adapters.analytics_feed import DURABLE as ANALYTICS_DURABLE
from integration.adapters.analytics_feed import AnalyticsFeed
from integration.adapters.analytics_journey_store import ParquetJourneyPathStore
from integration.adapters.analytics_queue_targets import RoutingQueueTargets
from integration.adapters.analytics_store import ParquetAnalyticsStore
from integration.adapters.connector_http import ConnectorHttp
from integration.adapters.contact_lanes import ContactLanes
from integration.adapters.contact_openings import LoggedOpenings
from integration.adapters.curated_records import ContactRecords
from integration.adapters.dead_letters import DeadLetterStore
from integration.adapters.delivery_log import DeliveryLog
from integration.adapters.event_codec import StreamEvents
from integration.adapters.event_feed import EventFeed
from integration.adapters.leases import Leases
from integration.adapters.rest_client import RestClient
from integration.adapters.webhook_sender import WebhookSender
from integration.config import IntegrationConfig
from integration.domain.retry import BackoffPolicy
from integration.entrypoints.http import ActionsHttpServer, tls_context
from integration.entrypoints.rpc import IntegrationServicer
from integration.service_layer.actions import Actions
from integration.service_layer.analytics_agent_states import AgentStateReport, AgentStatesIngest
from integration.service_layer.analytics_ingest import AnalyticsIngest
from integration.service_layer.analytics_journey_paths import JourneyPathsIngest, JourneyReports
from integration.service_layer.analytics_reports import DEFAULT_FCR_DAYS, Reports
from integration.service_layer.analytics_retention import AnalyticsRetention
from integration.service_layer.connector_calls import ConnectorCalls
from integration.service_layer.dead_letters import DeadLetters
from integration.service_layer.delivery import DeliverySettings, Endpoint, EndpointWorker
from integration.service_layer.dispatcher import Dispatcher
from integration.service_layer.erasure import AnalyticsEraser, CustomerErasure
from integration.service_layer.metrics import DeliveryMetrics
from integration.service_layer.subscriptions import Subscriptions
from integration.service_layer.transports import (
    ConnectorTransport,
    Transport,
    WebhookTarget,
    WebhookTransport,
)

log = logging.getLogger(__name__)

#: Days of first-contact resolution kept ready for reports (a month's report, and then some).
WARM_DAYS = 35


def delivery_settings(config: IntegrationConfig) -> DeliverySettings:
    return DeliverySettings(
        batch=config.delivery_batch,
        max_attempts=config.delivery_max_attempts,
        retry_budget_seconds=config.delivery_retry_budget_seconds,
        backoff=BackoffPolicy(
            base_seconds=config.delivery_backoff_base_seconds, max_seconds=config.delivery_backoff_max_seconds
        ),
        breaker_threshold=config.breaker_threshold,
        breaker_cooldown_seconds=config.breaker_cooldown_seconds,
        breaker_max_cooldown_seconds=config.breaker_max_cooldown_seconds,
        request_timeout_seconds=config.delivery_timeout_seconds,
    )


class WatchedConnectors:
    """The connectors and this region's tenants as the config plane holds them now."""

    def __init__(self, runtime: Runtime[IntegrationConfig], region: str) -> None:
        self._watcher = runtime.watcher
        self._region = region

    def connectors(self) -> list[IntegrationConnector]:
        documents = self._watcher.documents("IntegrationConnector")
        return [d for d in documents if isinstance(d, IntegrationConnector)]

    def tenant(self, tenant_id: str) -> Tenant | None:
        contact_center = self._watcher.contact_center_for_region(self._region)
        return contact_center.spec.tenant(tenant_id) if contact_center is not None else None


async def build(runtime: Runtime[IntegrationConfig]) -> ServiceParts:
    config = runtime.config
    bucket = await ensure_bucket(
        runtime.js,
        naming.integration_bucket(config.region),
        placement_tags=runtime.placement_tags,
        replicas=config.stream_replicas,
    )
    # The actions stream, like every store of the region, is created by the service host.
    delivery_log = await DeliveryLog.open(runtime.js, config.region)
    settings = delivery_settings(config)
    metrics = DeliveryMetrics()
    dead_letter_store = DeadLetterStore(bucket)

    actions = Actions(
        ActionLog(bucket, config.region),
        ActionPublisher(runtime.js, config.region),
        StreamEvents(runtime.events),
    )
    # What an action publishes is stored with its outcome; a sweep sends it should we die first.
    actions_outbox = Outbox(bucket, js_publisher(runtime.js))
    await actions_outbox.start(markers=True)

    async def apply_crm_attributes(event: events_pb2.Event, attributes: dict[str, str]) -> None:
        # Idempotent per event: a redelivered contact_created sets the same attributes once.
        header = integration_pb2.ActionHeader(
            tenant_id=event.tenant.tenant_id, idempotency_key=f"crm-lookup-{event.event_id}"
        )
        request = integration_pb2.UpdateAttributesRequest(
            header=header,
            target=integration_pb2.ATTRIBUTE_TARGET_CONTACT,
            target_id=event.contact_id,
            attributes=attributes,
        )
        await actions.apply(request, header, "connector")

    def make_worker(endpoint: Endpoint) -> EndpointWorker:
        feed = EventFeed(
            runtime.js,
            config.region,
            endpoint.durable,
            endpoint.filter_subjects(naming.EVENT_PREFIX),
            start_time=endpoint.created,
            batch=settings.batch,
            ack_wait_seconds=settings.ack_wait_seconds,
            max_ack_pending=settings.max_in_flight,
        )
        transport: Transport
        if isinstance(endpoint.target, WebhookTarget):
            transport = WebhookTransport(endpoint.target, WebhookSender(settings.request_timeout_seconds))
        else:
            connector = endpoint.target.connector
            client = RestClient(connector.base_url, connector.token, settings.request_timeout_seconds)
            transport = ConnectorTransport(endpoint.target, client, apply_crm_attributes)
        lanes = ContactLanes(
            feed,
            name=endpoint.name,
            batch=settings.batch,
            max_in_flight=settings.max_in_flight,
            ack_wait_seconds=settings.ack_wait_seconds,
        )
        return EndpointWorker(endpoint, lanes, transport, dead_letter_store, settings, metrics)

    holder = config.instance_name or f"{socket.gethostname()}-{os.getpid()}"
    leases = Leases(bucket, holder, config.delivery_lease_seconds)
    dispatcher = Dispatcher(config.region, make_worker, leases, local_mode=config.local_mode)

    async def reconcile(
        kind: str = "WebhookSubscription", _name: str = "", _doc: Model | None = None
    ) -> None:
        if kind not in ("WebhookSubscription", "IntegrationConnector", "ContactCenter"):
            return
        watcher = runtime.watcher
        subscriptions = [
            d for d in watcher.documents("WebhookSubscription") if isinstance(d, WebhookSubscription)
        ]
        connectors = [
            d for d in watcher.documents("IntegrationConnector") if isinstance(d, IntegrationConnector)
        ]
        await dispatcher.reconcile(
            subscriptions, watcher.contact_center_for_region(config.region), connectors
        )

    runtime.watcher.on_change(reconcile)
    await reconcile()
    replay_sender = WebhookSender(settings.request_timeout_seconds)

    connector_http = ConnectorHttp()
    connector_calls = ConnectorCalls(
        WatchedConnectors(runtime, config.region),
        LoggedOpenings(delivery_log),
        connector_http,
        config.region,
        local_mode=config.local_mode,
    )

    on_stop: list[Callable[[], Awaitable[None]]] = []
    reports: Reports | None = None
    journey_reports: JourneyReports | None = None
    analytics_eraser: AnalyticsEraser | None = None
    if config.analytics_dir:
        analytics = await asyncio.to_thread(ParquetAnalyticsStore.open, Path(config.analytics_dir))
        ingest = AnalyticsIngest(analytics, records=ContactRecords(EventPublisher(runtime.js, config.region)))
        agent_states = await asyncio.to_thread(ParquetAgentStateStore.open, Path(config.analytics_dir))
        agent_ingest = AgentStatesIngest(agent_states, ingest.ingest)
        journey_paths = await asyncio.to_thread(ParquetJourneyPathStore.open, Path(config.analytics_dir))
        feed = AnalyticsFeed(
            runtime.js,
            config.region,
            # Ended journeys stored first, then agents' states, then the contacts.
            JourneyPathsIngest(journey_paths, agent_ingest),
            durable=f"{ANALYTICS_DURABLE}-{analytics.store_id}",
            gather_seconds=config.analytics_commit_seconds,
        )
        await feed.start()
        analytics_eraser = ingest
        retention = AnalyticsRetention(
            analytics,
            config.analytics_retention_days,
            then=lambda: analytics.warm_resolution(
                time.time() - WARM_DAYS * 86_400, time.time(), DEFAULT_FCR_DAYS
            ),
        )
        await retention.start()
        # Agents' state intervals expire with the contacts (the same data class and period).
        agent_retention = AnalyticsRetention(agent_states, config.analytics_retention_days)
        await agent_retention.start()
        journey_retention = AnalyticsRetention(journey_paths, config.analytics_retention_days)
        await journey_retention.start()
        on_stop.append(journey_retention.stop)
        journey_reports = JourneyReports(journey_paths)
        on_stop += [feed.stop, retention.stop, agent_retention.stop]
        reports = Reports(
            analytics,
            RoutingQueueTargets(runtime.channel),
            AgentStateReport(agent_states, agent_ingest.open_stays),
        )

    store = await ConfigStore.open(runtime.js)
    servicer = IntegrationServicer(
        runtime.access,
        delivery_log,
        Subscriptions(store, local_mode=config.local_mode),
        DeadLetters(dead_letter_store, replay_sender, metrics),
        actions,
        connector_calls,
        reports,
        policy=runtime.policy_check("integration"),
        erasure=CustomerErasure(
            dead_letter_store,
            f"KV_{naming.integration_bucket(config.region)}",
            analytics_eraser,
            f"analytics-{config.region}",
        ),
        journey_reports=journey_reports,
    )
    on_stop += [
        actions_outbox.stop,
        dispatcher.stop,
        replay_sender.close,
        connector_http.close,
    ]
    if config.actions_http_port >= 0:
        tls = (
            tls_context(config.actions_tls_cert_file, config.actions_tls_key_file)
            if config.actions_tls_cert_file
            else None
        )
        http = ActionsHttpServer(servicer, config.actions_http_host, config.actions_http_port, tls)
        port = await http.start()
        log.info(
            "inbound actions API on %s://%s:%s", "https" if tls else "http", config.actions_http_host, port
        )
        on_stop.insert(0, http.stop)
    return ServiceParts(
        servicers=[
            (
                servicer,
                integration_pb2.DESCRIPTOR.services_by_name["IntegrationService"],
                integration_pb2_grpc.add_IntegrationServiceServicer_to_server,
            )
        ],
        on_stop=on_stop,
    )
