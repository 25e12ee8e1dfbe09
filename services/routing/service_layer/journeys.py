"""Journey use cases: publish flows, move aliases, start and continue durable journeys.

The flow engine itself is `ccflow` (pure). This layer loads a version's sources from the
flow store, renders the effective flow for the contact's context, runs the executor, and
writes the journey back with the KV revision it read, so two instances cannot both advance
the same journey. What `ai` and `integration` nodes ask for is done within the same step
(`journey_work`), so a journey runs on until it needs the customer, a callback, or ends. A
journey that ends in a queue keeps its hand-off record (queue, priority, attributes) and
publishes ContactQueued on the region's stream: the queue side's contract, carrying what the
journey learned (language, intent, sentiment, attributes).

A journey stored waiting at an integration node for longer than a call holds its deadline in KV
(`journey_deadlines`): whichever instance is alive at that time ends the wait, once. A step that
routing runs by itself like that (or on an external system's flow event) has no caller to carry
out its effects, so it is published (`Continued` -> JourneyContinued) for the gateway to send
its prompts.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
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
from ccmesh.outbox import Entry
from ccmesh.policy_violations import PolicyCheck
from ccmesh.rpc_context import current_deadline
from routing.adapters.flow_store import FlowStore, JourneyStore, PolicyStore, StoreConflict, StoredVersion
from routing.domain.wait_deadlines import WaitDeadline, WaitPoint, deadline_of
from routing.service_layer.flow_event_relay import FlowEventRelay
from routing.service_layer.journey_deadlines import DeadlineIndex, DeadlineKeeper
from routing.service_layer.journey_work import (
    AiPort,
    ConnectorPort,
    FlowEventWaits,
    QueueLoadPort,
    StepWork,
)

log = logging.getLogger(__name__)

DEFAULT_ALIAS = "live"
#: Transfers followed in one step; a longer chain (likely a loop between flows) ends the journey.
MAX_TRANSFERS = 5
#: Effective flows kept parsed in memory, per (tenant, flow, version, context).
CACHE_LIMIT = 512
#: AI and integration requests carried out in one step; more (a loop through such nodes) ends it.
MAX_WORK_PER_STEP = 50
#: What a step that routing runs by itself (a flow event, a timeout) may spend on AI and
#: integration work; a longer integration wait is stored, as it is in a caller's step.
OWN_STEP_SECONDS = 10.0
#: Lost races on a journey's revision retried when ending a wait at its deadline.
END_WAIT_ATTEMPTS = 5
#: Publications of a step routing ran by itself, and the first pause between them (doubling).
PUBLISH_ATTEMPTS = 4
PUBLISH_RETRY_SECONDS = 0.2


class NotFound(LookupError):
    pass


class JourneyMoved(JourneyError):
    """The journey no longer waits where the event was meant for (answered, timed out, moved on)."""


QueuedPublisher = Callable[[Journey, str, HandOff], Awaitable[None]]
#: Told of a journey that ended in a step: (tenant, journey).
EndedPublisher = Callable[[str, Journey], Awaitable[None]]


@dataclass(frozen=True)
class Step:
    journey: Journey
    effects: list[Effect]


@dataclass(frozen=True)
class Continued:
    """A step routing ran by itself, not for a caller: nobody else carries out its effects."""

    tenant: str
    #: "flow_event" or "timeout".
    cause: str
    #: Where the journey waited before the step.
    point: WaitPoint
    step: Step


ContinuedPublisher = Callable[[Continued], Awaitable[None]]
#: The outbox entry of a continued step's event, staged with the journey's save.
ContinuedEntry = Callable[[Continued], Entry]


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
        connectors: ConnectorPort | None = None,
        deadlines: DeadlineIndex | None = None,
        publish_continued: ContinuedPublisher | None = None,
        stage_continued: ContinuedEntry | None = None,
        wall_clock: Callable[[], float] = time.time,
        flow_event_relay: FlowEventRelay | None = None,
        compliance: PolicyCheck | None = None,
        publish_ended: EndedPublisher | None = None,
    ) -> None:
        #: Told once a journey ends (its path and outcome, for the analytics store).
        self._publish_ended = publish_ended
        self._policies = policies
        #: The region's compliance rules the journeys' AI steps are judged by.
        self._compliance = compliance
        self._ai = ai
        self._queues = queues
        self._connectors = connectors
        #: Steps of this process waiting for an external system's flow event.
        self.flow_event_waits = FlowEventWaits(flow_event_relay)
        #: Deadlines of long integration waits stored with journeys (shared by the instances
        #: through `deadlines`; without it, kept by this process only).
        self.deadlines = DeadlineKeeper(deadlines, self._end_wait, now=wall_clock)
        self._wall_clock = wall_clock
        self._publish_continued = publish_continued
        #: With it, a continued step's event is saved with the journey, so a crash before the
        #: publish delays it by a sweep (`ccmesh.outbox`) instead of losing it.
        self._stage_continued = stage_continued
        self._flows = flows
        self._journeys = journeys
        self._region = region
        self._publish_queued = publish_queued
        self._clock = clock
        self._bundles: dict[tuple[str, str, int], Bundle] = {}
        self._effective: dict[tuple[str, ...], Flow] = {}
        meter = meter or telemetry.meter()
        self._executions = meter.create_counter(
            "contactcenter.flow.node.executions", unit="{execution}", description="Flow node executions"
        )
        self._errors = meter.create_counter(
            "contactcenter.flow.node.errors", unit="{error}", description="Flow node errors"
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
        journey.started_at = self._wall_clock()
        journey.alias = alias or DEFAULT_ALIAS
        stats = NodeStats()
        executor = await self._executor(tenant, journey, stats)
        effects = executor.start(journey, self._clock())
        journey, effects = await self._after(tenant, journey, effects, stats, executor)
        await self._hold_long_wait(tenant, journey, effects)
        await self._journeys.save(tenant, journey, 0)
        return Step(journey, effects)

    async def resume(
        self,
        tenant: str,
        journey_id: str,
        event: Event,
        *,
        expect: WaitPoint | None = None,
        announce: Callable[[Step], Sequence[Entry]] | None = None,
    ) -> Step:
        """Continue the stored journey with `event`; with `expect`, only if it still waits there
        (else JourneyMoved), so a late event never continues a later wait. `announce`: the
        messages announcing the step, saved with the journey."""
        found = await self._journeys.get(tenant, journey_id)
        if found is None:
            raise NotFound(f"no journey {journey_id!r} for tenant {tenant!r}")
        journey, revision = found
        if expect is not None and not expect.holds_for(journey):
            raise JourneyMoved(
                f"journey {journey_id!r} no longer waits at node {expect.node!r} "
                f"(it is {journey.status} at {journey.node!r})"
            )
        held = deadline_of(tenant, journey)
        stats = NodeStats()
        executor = await self._executor(tenant, journey, stats)
        effects = executor.resume(journey, event, self._clock())
        journey, effects = await self._after(tenant, journey, effects, stats, executor)
        fresh = await self._hold_long_wait(tenant, journey, effects)
        staged = announce(Step(journey, effects)) if announce is not None else ()
        await self._journeys.save(tenant, journey, revision, staged)
        if held is not None and held != fresh:
            await self.deadlines.forget(held)  # the wait it held ended with this step
        return Step(journey, effects)

    async def continue_waiting(
        self, tenant: str, journey_id: str, event: Event, at: WaitPoint, cause: str
    ) -> Step:
        """Continue a journey stored waiting at `at` (no caller drives this step), and publish
        what the step asks of the customer's channel (prompts, a call back offer)."""
        # No caller's deadline bounds this step: give it one, so a further long wait is stored
        # (durable) instead of held in this process.
        reset = current_deadline.set(time.monotonic() + OWN_STEP_SECONDS)
        stage = self._stage_continued
        announce = None if stage is None else (lambda step: (stage(Continued(tenant, cause, at, step)),))
        try:
            step = await self.resume(tenant, journey_id, event, expect=at, announce=announce)
        finally:
            current_deadline.reset(reset)
        if self._publish_continued is not None:
            # After the save: only the instance whose write won tells the channel. The step is
            # done and will not run again, so a failing publish is tried again here.
            continued = Continued(tenant, cause, at, step)
            for attempt in range(PUBLISH_ATTEMPTS):
                try:
                    await self._publish_continued(continued)
                    break
                except Exception as error:
                    if attempt == PUBLISH_ATTEMPTS - 1:
                        raise
                    log.warning("journey %s: publishing its step failed (%s); again", journey_id, error)
                    await asyncio.sleep(PUBLISH_RETRY_SECONDS * 2**attempt)
        return step

    @property
    def _works(self) -> bool:
        """Whether this service does the AI and integration work itself (else its callers do)."""
        return self._ai is not None or self._queues is not None

    async def _hold_long_wait(
        self, tenant: str, journey: Journey, effects: list[Effect]
    ) -> WaitDeadline | None:
        """A journey about to be stored waiting at an integration node gets its deadline, in the
        journey and in the region's index of deadlines; any other journey holds none."""
        request = _work_asked(journey, effects)
        if not self._works or not isinstance(request, CallIntegration):
            journey.wait_until = 0.0
            return None
        journey.wait_until = self._wall_clock() + request.timeout_seconds
        deadline = deadline_of(tenant, journey)
        assert deadline is not None
        await self.deadlines.hold(deadline)
        return deadline

    async def start_deadlines(self) -> None:
        """Arm the region's pending deadlines (ending those already due), then follow new ones."""
        await self.deadlines.start()

    async def _end_wait(self, deadline: WaitDeadline) -> None:
        """At its deadline, the wait ends with a timeout: once, whichever instances try."""
        tenant, journey_id = deadline.key
        for _ in range(END_WAIT_ATTEMPTS):
            found = await self._journeys.get(tenant, journey_id)
            held = deadline_of(tenant, found[0]) if found is not None else None
            if held is None or held.point != deadline.point:
                # The system answered, the journey moved on, or another instance ended the wait.
                await self.deadlines.forget(deadline)
                return
            if held.due_at > self._wall_clock():
                self.deadlines.arm(held)  # the journey's own deadline is later: that one counts
                return
            try:
                await self.continue_waiting(tenant, journey_id, Timeout(), deadline.point, "timeout")
            except StoreConflict:
                continue  # another write won: look at the journey again
            except (NotFound, JourneyError) as error:
                log.info("journey %s: its wait ended otherwise: %s", journey_id, error)
            else:
                log.info("journey %s: no answer at node %s in time", journey_id, deadline.node)
            await self.deadlines.forget(deadline)
            return
        raise StoreConflict(f"journey {journey_id!r} kept changing during {END_WAIT_ATTEMPTS} attempts")

    async def stop(self) -> None:
        await self.deadlines.stop()

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
        work = StepWork(self._ai, self._queues, self.flow_event_waits, self._connectors, self._compliance)
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
        if journey.status == "ended" and self._publish_ended is not None:
            # The one place a step's end is known (a hand-off, an end node, a failure, a transfer
            # that could not be followed); published before the save like the hand-off, its
            # event id fixed per journey, so a retried step's second publish is a duplicate.
            await self._publish_ended(tenant, journey)
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
        started_at=journey.started_at,
        alias=journey.alias,
    )


def _note_taken(index: FlowIndex, number: int) -> None:
    index.latest = max(index.latest, number)
