"""Keep one delivery worker per deliverable subscription, following the config plane live.

A subscription is delivered from this region when its tenant is served here (it is in the
region's ContactCenter). A subscription that does not validate (e.g. applied with
`ccctl apply` and a filter that does not compile) is not delivered and is logged by name and
field, never with its secret; its events wait on the stream until it is fixed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from ccmesh.configplane.models import ContactCenter, IntegrationConnector, WebhookSubscription
from integration.adapters.leases import Leases
from integration.domain.connectors import compile_connector
from integration.domain.subscriptions import compile_filter, problems_of
from integration.service_layer.delivery import Endpoint, EndpointWorker
from integration.service_layer.transports import ConnectorTarget, WebhookTarget

log = logging.getLogger(__name__)

WorkerFactory = Callable[[Endpoint], EndpointWorker]


def endpoint_of(
    subscription: WebhookSubscription, contact_center: ContactCenter | None, region: str, *, local_mode: bool
) -> Endpoint | None:
    """The endpoint to deliver to from `region`, or None when this region does not deliver it."""
    spec = subscription.spec
    name = subscription.metadata.name
    if not spec.enabled or contact_center is None:
        return None
    tenant = contact_center.spec.tenant(spec.tenant)
    if tenant is None:
        return None
    problems = problems_of(spec, local_mode=local_mode)
    if problems:
        log.error("subscription %s is not delivered: %s", name, "; ".join(problems))
        return None
    return Endpoint(
        name=name,
        durable=f"webhook-{name}",
        tenant=tenant,
        region=region,
        endpoint_region=spec.endpoint_region,
        target=WebhookTarget(spec.url, spec.secret),
        event_types=frozenset(spec.event_types),
        filter=compile_filter(spec.filter),
        created=subscription.metadata.creation_timestamp,
    )


def connector_endpoint_of(
    document: IntegrationConnector, contact_center: ContactCenter | None, region: str, *, local_mode: bool
) -> Endpoint | None:
    """The connector as an endpoint delivered from `region`, or None when this region does not run it."""
    spec = document.spec
    name = document.metadata.name
    if not spec.enabled or contact_center is None:
        return None
    tenant = contact_center.spec.tenant(spec.tenant)
    if tenant is None:
        return None
    connector, problems = compile_connector(spec, local_mode=local_mode)
    if connector is None:
        log.error("connector %s is not run: %s", name, "; ".join(problems))
        return None
    if not connector.event_types:
        # Only journeys call it (flowIntegrations): no events to deliver, so no worker.
        return None
    return Endpoint(
        name=f"connector-{name}",
        durable=f"connector-{name}",
        tenant=tenant,
        region=region,
        endpoint_region=spec.endpoint_region,
        target=ConnectorTarget(connector),
        event_types=connector.event_types,
        filter=compile_filter(""),
        created=document.metadata.creation_timestamp,
    )


class Dispatcher:
    """Runs a worker for each deliverable subscription whose lease this instance holds."""

    def __init__(self, region: str, factory: WorkerFactory, leases: Leases, *, local_mode: bool) -> None:
        self._region = region
        self._factory = factory
        self._leases = leases
        self._local_mode = local_mode
        self._desired: dict[str, Endpoint] = {}
        self._present: set[str] = set()
        self._workers: dict[str, EndpointWorker] = {}
        self._lock = asyncio.Lock()
        self._renewer: asyncio.Task[None] | None = None

    def worker(self, name: str) -> EndpointWorker | None:
        return self._workers.get(name)

    async def reconcile(
        self,
        subscriptions: list[WebhookSubscription],
        contact_center: ContactCenter | None,
        connectors: list[IntegrationConnector] | None = None,
    ) -> None:
        """Record which subscriptions and connectors this region runs, then converge the workers."""
        local = self._local_mode
        candidates = [endpoint_of(s, contact_center, self._region, local_mode=local) for s in subscriptions]
        candidates += [
            connector_endpoint_of(c, contact_center, self._region, local_mode=local) for c in connectors or []
        ]
        self._desired = {e.name: e for e in candidates if e is not None}
        self._present = {s.metadata.name for s in subscriptions} | {
            f"connector-{c.metadata.name}" for c in connectors or []
        }
        await self.converge()
        if self._renewer is None:
            self._renewer = asyncio.create_task(self._renew_forever(), name="delivery-leases")

    async def converge(self) -> None:
        """Start, restart or stop workers: exactly the desired subscriptions whose lease is ours run."""
        async with self._lock:
            desired = self._desired
            for name, worker in list(self._workers.items()):
                keep = name in desired and worker.endpoint == desired[name] and await self._leases.hold(name)
                if not keep:
                    del self._workers[name]
                    # A deleted subscription's consumer goes too; a paused or changed one keeps its place.
                    await worker.stop(delete_consumer=name not in self._present)
                    if name not in desired:
                        await self._leases.release(name)
            for name, endpoint in desired.items():
                if name in self._workers or not await self._leases.hold(name):
                    continue
                worker = self._factory(endpoint)
                try:
                    await worker.start()
                except Exception:
                    log.exception("cannot start delivery for subscription %s", name)
                    continue
                self._workers[name] = worker
                log.info("delivering subscription %s to its %s endpoint", name, endpoint.endpoint_region)

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self._leases.ttl / 3)
            try:
                await self.converge()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("lease renewal failed; retrying", exc_info=True)

    async def stop(self) -> None:
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
        async with self._lock:
            for name, worker in self._workers.items():
                await worker.stop()
                await self._leases.release(name)
            self._workers.clear()
