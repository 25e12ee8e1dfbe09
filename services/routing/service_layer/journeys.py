"""Journey use cases: publish flows, move aliases, start and continue durable journeys.

The flow engine itself is `ccflow` (pure). This layer loads a version's sources from the
flow store, renders the effective flow for the contact's context, runs the executor, and
writes the journey back with the KV revision it read, so two instances cannot both advance
the same journey. What `ai` and `integration` nodes ask for is done within the same step
(`journey_work`), so a journey runs on until it needs the customer, a callback, or ends. A
journey that ends in a queue keeps its hand-off record (queue, priority, attributes) and
publishes ContactQueued on the region's stream: the queue side's contract, carrying what the
journey learned (language, intent, sentiment, attributes).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from opentelemetry import metrics

from ccflow.effects import CallIntegration, Effect, Event, HandOff, InvokeAi, Timeout, TransferFlow
from ccflow.errors import FlowError, Problem
from ccflow.executor import Executor, JourneyError, NodeStats, Policy
from ccflow.journey import Journey
from ccflow.loader import Bundle, bundle_from_sources, parse_text
from ccflow.model import Flow, FlowPolicy
from ccflow.overlays import policy_problems, render, validate_bundle
from ccflow.registry import Alias, FlowIndex, RegistryError, digest_of, pick_version, set_alias
from ccmesh import telemetry
from routing.adapters.flow_store import FlowStore, JourneyStore, PolicyStore, StoreConflict, StoredVersion
from routing.service_layer.journey_work import AiPort, FlowEventWaits, QueueLoadPort, StepWork

log = logging.getLogger(__name__)

DEFAULT_ALIAS = "live"
#: Transfers followed in one step; a longer chain (likely a loop between flows) ends the journey.
MAX_TRANSFERS = 5
#: Effective flows kept parsed in memory, per (tenant, flow, version, context).
CACHE_LIMIT = 512
#: AI and integration requests carried out in one step; more (a loop through such nodes) ends it.
MAX_WORK_PER_STEP = 50


class NotFound(LookupError):
    pass


QueuedPublisher = Callable[[Journey, str, HandOff], Awaitable[None]]


@dataclass(frozen=True)
class Step:
    journey: Journey
    effects: list[Effect]


class JourneyService:
    def __init__(
        self,
        flows: FlowStore,
        journeys: JourneyStore,
        region: str,
        publish_queued: QueuedPublisher,
        policies: PolicyStore,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        meter: metrics.Meter | None = None,
        *,
        ai: AiPort | None = None,
        queues: QueueLoadPort | None = None,
    ) -> None:
        self._policies = policies
        self._ai = ai
        self._queues = queues
        #: Steps of this process waiting for an external system's flow event.
        self.flow_event_waits = FlowEventWaits()
        #: Timers that end long integration waits of journeys stored waiting.
        self._timers: set[asyncio.Task[None]] = set()
        self._flows = flows
        self._journeys = journeys
        self._region = region
        self._publish_queued = publish_queued
        self._clock = clock
        self._bundles: dict[tuple[str, str, int], Bundle] = {}
        self._effective: dict[tuple[str, ...], Flow] = {}
        meter = meter or telemetry.meter()
        self._executions = meter.create_counter(
            "ccflow.node.executions", unit="{execution}", description="Flow node executions"
        )
        self._errors = meter.create_counter(
            "ccflow.node.errors", unit="{error}", description="Flow node errors"
        )

    # -- flows --------------------------------------------------------------------------------
    async def publish_flow(
        self, tenant: str, flow: str, files: list[tuple[str, str]]
    ) -> tuple[int, bool, str]:
        """Validate every effective flow, then store a new immutable version (or return the same one)."""
        if not files:
            raise FlowError([Problem("", "", "no files to publish")])
        bundle = bundle_from_sources(files)
        if flow not in bundle.flows:
            raise FlowError(
                [Problem("", "", f"the files define no Flow named {flow!r}; found {sorted(bundle.flows)}")]
            )
        validate_bundle(bundle)
        digest = digest_of(files)
        while True:
            index = await self._flows.index(tenant, flow)
            existing = index.digests.get(digest)
            if existing:
                return existing, False, digest
            number = index.latest + 1
            if await self._flows.put_version(tenant, flow, StoredVersion(number, digest, sorted(files))):
                break
            # Another publisher took this number; its index update is on the way.
            await self._flows.change_index(tenant, flow, functools.partial(_note_taken, number=number))

        def record(index: FlowIndex) -> None:
            index.latest = max(index.latest, number)
            index.digests[digest] = number

        await self._flows.change_index(tenant, flow, record)
        log.info("published flow %s/%s version %d", tenant, flow, number)
        return number, True, digest

    async def set_alias(
        self, tenant: str, flow: str, alias: str, version: int, canary_version: int, canary_percent: float
    ) -> Alias:
        if not alias:
            raise RegistryError("alias is required")
        if (await self._flows.index(tenant, flow)).latest == 0:
            raise NotFound(f"flow {flow!r} of tenant {tenant!r} has no published version")
        result: list[Alias] = []

        def change(index: FlowIndex) -> None:
            result[:] = [set_alias(index, alias, version, canary_version, canary_percent)]

        await self._flows.change_index(tenant, flow, change)
        return result[0]

    async def get_version(
        self, tenant: str, flow: str, version: int, alias: str
    ) -> tuple[StoredVersion, FlowIndex]:
        index = await self._flows.index(tenant, flow)
        if index.latest == 0:
            raise NotFound(f"flow {flow!r} of tenant {tenant!r} has no published version")
        if version == 0:
            target = index.aliases.get(alias or DEFAULT_ALIAS)
            if target is None:
                raise NotFound(f"flow {flow!r} has no alias {alias or DEFAULT_ALIAS!r}")
            version = target.version
        stored = await self._flows.version(tenant, flow, version)
        if stored is None:
            raise NotFound(f"flow {flow!r} has no version {version} (latest {index.latest})")
        return stored, index

    async def _bundle(self, tenant: str, flow: str, version: int) -> Bundle:
        key = (tenant, flow, version)
        bundle = self._bundles.get(key)
        if bundle is None:
            stored = await self._flows.version(tenant, flow, version)
            if stored is None:
                raise NotFound(f"flow {flow!r} version {version} is not stored")
            bundle = bundle_from_sources(stored.files)
            if len(self._bundles) >= CACHE_LIMIT:
                self._bundles.clear()
            self._bundles[key] = bundle
        return bundle

    async def _executor(self, tenant: str, journey: Journey, stats: NodeStats) -> Executor:
        context = journey.context()
        key = (tenant, journey.flow, str(journey.version), *(context[k] for k in sorted(context)))
        flow = self._effective.get(key)
        if flow is None:
            bundle = await self._bundle(tenant, journey.flow, journey.version)
            flow = render(bundle, journey.flow, context)[0]
            if len(self._effective) >= CACHE_LIMIT:
                self._effective.clear()
            self._effective[key] = flow
        bundle = await self._bundle(tenant, journey.flow, journey.version)
        policies = [Policy(p.metadata.name, p.spec) for p in bundle.policy_documents()]
        # Run-time policies are read on every step: a new one reaches journeys already running.
        for file, content in (await self._policies.all(tenant)).values():
            (document,) = parse_text(content, file)
            assert isinstance(document, FlowPolicy)
            policies.append(Policy(document.metadata.name, document.spec))
        return Executor(flow, policies, stats=stats)

    # -- run-time policies --------------------------------------------------------------------
    async def apply_policy(self, tenant: str, file: str, content: str) -> tuple[str, list[str]]:
        documents = parse_text(content, file)
        if len(documents) != 1 or not isinstance(documents[0], FlowPolicy):
            raise FlowError([Problem(file, "", "expected exactly one FlowPolicy document")])
        policy = documents[0]
        problems = policy_problems(policy, file, None)
        if problems:
            raise FlowError(problems)
        name = policy.metadata.name
        return name, await self._policies.change(tenant, name, (file, content))

    async def remove_policy(self, tenant: str, name: str) -> tuple[bool, list[str]]:
        removed = name in await self._policies.all(tenant)
        return removed, await self._policies.change(tenant, name, None)

    # -- journeys -----------------------------------------------------------------------------
    async def start(self, tenant: str, journey: Journey, alias: str) -> Step:
        if await self._journeys.get(tenant, journey.journey_id) is not None:
            raise JourneyError(f"journey {journey.journey_id!r} already exists")
        index = await self._flows.index(tenant, journey.flow)
        if index.latest == 0:
            raise NotFound(f"flow {journey.flow!r} of tenant {tenant!r} has no published version")
        journey.version = pick_version(index, alias or DEFAULT_ALIAS, journey.journey_id)
        journey.region = self._region
        stats = NodeStats()
        executor = await self._executor(tenant, journey, stats)
        effects = executor.start(journey, self._clock())
        journey, effects = await self._after(tenant, journey, effects, stats, executor)
        await self._journeys.save(tenant, journey, 0)
        self._time_long_wait(tenant, journey, effects)
        return Step(journey, effects)

    async def resume(self, tenant: str, journey_id: str, event: Event) -> Step:
        found = await self._journeys.get(tenant, journey_id)
        if found is None:
            raise NotFound(f"no journey {journey_id!r} for tenant {tenant!r}")
        journey, revision = found
        stats = NodeStats()
        executor = await self._executor(tenant, journey, stats)
        effects = executor.resume(journey, event, self._clock())
        journey, effects = await self._after(tenant, journey, effects, stats, executor)
        await self._journeys.save(tenant, journey, revision)
        self._time_long_wait(tenant, journey, effects)
        return Step(journey, effects)

    @property
    def _works(self) -> bool:
        """Whether this service does the AI and integration work itself (else its callers do)."""
        return self._ai is not None or self._queues is not None

    def _time_long_wait(self, tenant: str, journey: Journey, effects: list[Effect]) -> None:
        """A journey stored waiting at an integration node gets a timer for its timeout."""
        request = _work_asked(journey, effects)
        if not self._works or not isinstance(request, CallIntegration):
            return
        task = asyncio.create_task(self._end_wait(tenant, journey.journey_id, request, len(journey.path)))
        self._timers.add(task)
        task.add_done_callback(self._timers.discard)

    async def _end_wait(self, tenant: str, journey_id: str, request: CallIntegration, step: int) -> None:
        await asyncio.sleep(request.timeout_seconds)
        try:
            current = await self.get(tenant, journey_id)
            if (current.waiting_for, current.node, len(current.path)) != ("integration", request.node, step):
                return  # the system answered, or the journey moved on otherwise
            await self.resume(tenant, journey_id, Timeout())
            log.info("journey %s: no answer from %s in time", journey_id, request.integration)
        except (NotFound, JourneyError, StoreConflict) as error:
            log.info("journey %s: its wait ended otherwise: %s", journey_id, error)

    async def stop(self) -> None:
        for task in list(self._timers):
            task.cancel()
        await asyncio.gather(*self._timers, return_exceptions=True)

    async def get(self, tenant: str, journey_id: str) -> Journey:
        found = await self._journeys.get(tenant, journey_id)
        if found is None:
            raise NotFound(f"no journey {journey_id!r} for tenant {tenant!r}")
        return found[0]

    def _record(self, journey: Journey, stats: NodeStats) -> None:
        labels: dict[str, Any] = {"flow": journey.flow, "version": journey.version, "region": self._region}
        for node, count in stats.executions.items():
            self._executions.add(count, {**labels, "node": node})
        for node, count in stats.errors.items():
            self._errors.add(count, {**labels, "node": node})

    async def _after(
        self, tenant: str, journey: Journey, effects: list[Effect], stats: NodeStats, executor: Executor
    ) -> tuple[Journey, list[Effect]]:
        """Record metrics, do the AI and integration work asked for, follow transfers to other
        flows, publish hand-offs."""
        self._record(journey, stats)
        done = list(effects)
        work = StepWork(self._ai, self._queues, self.flow_event_waits)
        transfers = 0
        for _ in range(MAX_WORK_PER_STEP):
            transfer = next((e for e in effects if isinstance(e, TransferFlow)), None)
            request = _work_asked(journey, effects)
            if transfer is not None:
                transfers += 1
                if transfers > MAX_TRANSFERS:
                    break
                index = await self._flows.index(tenant, transfer.flow)
                if DEFAULT_ALIAS not in index.aliases:
                    log.warning(
                        "journey %s: flow %r has no %s alias; the transfer ends it",
                        journey.journey_id,
                        transfer.flow,
                        DEFAULT_ALIAS,
                    )
                    break
                journey = _continued(
                    journey, transfer.flow, pick_version(index, DEFAULT_ALIAS, journey.journey_id)
                )
                stats = NodeStats()
                executor = await self._executor(tenant, journey, stats)
                effects = executor.start(journey, self._clock())
            elif request is not None and self._works:
                event = await work.perform(tenant, journey, executor.flow, request)
                if event is None:
                    break  # waits longer than a call: stored waiting, a timer ends the wait
                # Done here: not an action for the caller (the journey's path shows it ran).
                done.remove(request)
                stats = NodeStats()
                executor.stats = stats
                effects = executor.resume(journey, event, self._clock())
            else:
                break
            self._record(journey, stats)
            done.extend(effects)
        for effect in done:
            if isinstance(effect, HandOff):
                await work.learn_before_hand_off(tenant, journey)
                # Published before the journey is saved: a crash in between leaves the journey
                # where it was, the caller retries the step, and the event id (fixed per step)
                # makes the second publish a duplicate the stream drops.
                await self._publish_queued(journey, tenant, effect)
        return journey, done


def _work_asked(journey: Journey, effects: list[Effect]) -> InvokeAi | CallIntegration | None:
    """The AI or integration request the journey now waits on, if that is what it waits for."""
    if journey.status != "waiting" or journey.waiting_for not in ("ai", "integration") or not effects:
        return None
    last = effects[-1]
    if isinstance(last, InvokeAi | CallIntegration) and last.node == journey.node:
        return last
    return None


def _continued(journey: Journey, flow: str, version: int) -> Journey:
    """The same contact in another flow: context, attributes and priority carry over."""
    return Journey(
        journey_id=journey.journey_id,
        flow=flow,
        version=version,
        region=journey.region,
        channel=journey.channel,
        brand=journey.brand,
        language=journey.language,
        customer=journey.customer,
        history=journey.history,
        attributes=journey.attributes,
        priority=journey.priority,
        intent=journey.intent,
        sentiment=journey.sentiment,
        input=journey.input,
        text=journey.text,
        path=[*journey.path, f"flow:{flow}@{version}"],
        errors=journey.errors,
    )


def _note_taken(index: FlowIndex, number: int) -> None:
    index.latest = max(index.latest, number)
