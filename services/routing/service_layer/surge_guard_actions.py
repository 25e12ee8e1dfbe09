"""What a fallback policy's steps do in routing, and how each is undone.

- `callback`: each waiting SMS or WhatsApp contact of the policy's queues (`CALLBACK_CHANNELS`:
  a number to call) becomes a queued call-back request,
  as a closed queue's `callback` action makes it (`closed_action` "callback"): it keeps its
  place, the customer is told on their channel (CallbackScheduled), and once an agent accepts
  it the call is placed (CallbackPlaced -> CallbackRequested for the gateway). Contacts arriving
  while engaged are converted each interval. Release leaves converted contacts as they are: a
  customer promised a call keeps it.
- `journey`: the flow's alias points at the fallback version; where it pointed before is kept in
  the flow's index as the alias `<alias>-before-surge` (so a restart while engaged forgets
  nothing); release points it back there, unless somebody moved it meanwhile (their decision
  stands).
- `message`: each waiting contact is told the estimated wait once per engagement.
- `overflow`: a `widen` overflow rule per watched queue (the ACD's overflow machinery, with
  its residency check) lets the target queue's agents take the contacts; release removes it.
- `scale`: the `contactcenter.surge.scaling_signal` gauge counts the engaged policies asking for
  capacity per tenant and queue (autoscalers and alerts read it).
- `notify`: the FallbackEngaged/FallbackReleased events are the notification (supervisor page,
  webhook subscriptions); nothing else to do here.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Awaitable, Callable, Iterator
from typing import Protocol

from opentelemetry import metrics

from ccflow.registry import Alias, RegistryError
from routing.domain.contacts import ContactRecord, ContactStatus
from routing.domain.fallback import CALLBACK_CHANNELS, FallbackStep
from routing.domain.overflow import OverflowRule
from routing.service_layer.callbacks import NotInAcd, convert_to_callback
from routing.service_layer.ports import AcdRecords, AcdView, EventSink
from routing.service_layer.surge_guard import ActionFailed, Engagement

#: (tenant, contact, text, event key): the customer is told `text` on the contact's channel.
TellCustomer = Callable[[str, ContactRecord, str, str], Awaitable[None]]
#: (tenant, queue) -> expected wait of a contact arriving now, in seconds (< 0: unknown).
EstimatedWait = Callable[[str, str], Awaitable[float]]
OverflowRules = dict[tuple[str, str], list[OverflowRule]]
#: The alias a `journey` step keeps the switched alias's previous target in ("live-before-surge").
SAVED_ALIAS_SUFFIX = "-before-surge"


class FlowAliases(Protocol):
    async def alias_of(self, tenant: str, flow: str, alias: str) -> Alias | None: ...

    async def set_alias(
        self, tenant: str, flow: str, alias: str, version: int, canary_version: int, canary_percent: float
    ) -> Alias: ...


class SurgeActions:
    def __init__(
        self,
        records: AcdRecords,
        view: AcdView,
        events: EventSink,
        aliases: FlowAliases,
        tell: TellCustomer,
        estimated_wait: EstimatedWait,
        meter: metrics.Meter | None = None,
    ) -> None:
        self._records = records
        self._view = view
        self._events = events
        self._aliases = aliases
        self._tell = tell
        self._estimated_wait = estimated_wait
        #: (tenant, queue, policy) of the engaged `scale` steps.
        self._scaling: set[tuple[str, str, str]] = set()
        self._overflow: dict[tuple[str, str, int], list[OverflowRule]] = {}
        if meter is not None:
            meter.create_observable_gauge(
                "contactcenter.surge.scaling_signal",
                callbacks=[self._observe_scaling],
                description=(
                    "Engaged surge policies with a `scale` action, per tenant and queue (queue empty: a "
                    "policy over every queue of the tenant); above 0, add capacity"
                ),
            )

    # -- FallbackActions ----------------------------------------------------------------------
    async def engage(self, engagement: Engagement, index: int, step: FallbackStep) -> None:
        policy = engagement.policy
        match step.kind:
            case "callback" | "message":
                await self.sustain(engagement, index, step)
            case "journey":
                await self._switch_alias(policy.tenant, step)
            case "overflow":
                self._overflow[(policy.tenant, policy.name, index)] = [
                    OverflowRule(
                        name=f"surge-{policy.name}-{index}",
                        queue=queue,
                        target_queue=step.target_queue,
                        target_region=step.target_region,
                        action="widen",
                        wait_seconds_over=0.0,
                        cooldown_seconds=0.0,
                    )
                    for queue in self._queues_of(policy.tenant, policy.queue)
                    if queue != step.target_queue or step.target_region
                ]
            case "scale":
                self._scaling.add((policy.tenant, policy.queue, policy.name))
            case "notify":
                pass
            case _:
                raise ActionFailed(f"unknown action {step.kind!r}")

    async def sustain(self, engagement: Engagement, index: int, step: FallbackStep) -> None:
        if step.kind == "callback":
            done: set[str] = engagement.memory.setdefault(index, set())
            for record in self._waiting(engagement):
                if record.contact.channel in CALLBACK_CHANNELS and record.contact.contact_id not in done:
                    await self._call_back(engagement, record, step.text)
                    done.add(record.contact.contact_id)
        elif step.kind == "message":
            told: set[str] = engagement.memory.setdefault(index, set())
            for record in self._waiting(engagement):
                contact_id = record.contact.contact_id
                if contact_id in told:
                    continue
                wait = await self._estimated_wait(engagement.policy.tenant, record.contact.queue)
                text = step.text.replace("{wait}", _minutes(wait))
                key = f"surge:{engagement.policy.name}:{engagement.engaged_at:.0f}"
                await self._tell(engagement.policy.tenant, record, text, key)
                told.add(contact_id)

    async def release(self, engagement: Engagement, index: int, step: FallbackStep) -> None:
        policy = engagement.policy
        match step.kind:
            case "journey":
                await self._restore_alias(policy.tenant, step)
            case "overflow":
                self._overflow.pop((policy.tenant, policy.name, index), None)
            case "scale":
                self._scaling.discard((policy.tenant, policy.queue, policy.name))

    # -- what the ACD and the metrics read ----------------------------------------------------
    def overflow_rules(self) -> OverflowRules:
        """(tenant, queue) -> the `widen` rules of the engaged `overflow` steps."""
        rules: OverflowRules = {}
        for (tenant, _, _), listed in self._overflow.items():
            for rule in listed:
                rules.setdefault((tenant, rule.queue), []).append(rule)
        return rules

    def _observe_scaling(self, _options: metrics.CallbackOptions) -> Iterator[metrics.Observation]:
        engaged: dict[tuple[str, str], int] = {}
        for tenant, queue, _ in self._scaling:
            engaged[(tenant, queue)] = engaged.get((tenant, queue), 0) + 1
        for (tenant, queue), count in sorted(engaged.items()):
            yield metrics.Observation(count, {"tenant": tenant, "queue": queue})

    # -- internals ----------------------------------------------------------------------------
    def _queues_of(self, tenant: str, queue: str) -> list[str]:
        if queue:
            return [queue]
        return sorted(name for (owner, name) in self._view.queues if owner == tenant)

    def _waiting(self, engagement: Engagement) -> list[ContactRecord]:
        policy = engagement.policy
        found: list[ContactRecord] = []
        for (tenant, queue), contacts in list(self._view.waiting.items()):
            if policy.watches(tenant, queue):
                found += [r for r in contacts.values() if r.status is ContactStatus.WAITING]
        # In arrival order, so the first to wait is the first told and the first called back.
        return sorted(found, key=lambda r: (r.contact.enqueued_at, r.contact.sequence))

    async def _call_back(self, engagement: Engagement, record: ContactRecord, text: str) -> None:
        with contextlib.suppress(NotInAcd):  # left the queue since the working set was read
            await convert_to_callback(
                self._records, self._events, engagement.policy.tenant, record.contact.contact_id, text
            )

    async def _switch_alias(self, tenant: str, step: FallbackStep) -> None:
        current = await self._aliases.alias_of(tenant, step.flow, step.alias)
        if current is None:
            raise ActionFailed(f"flow {step.flow!r} has no alias {step.alias!r}")
        if _is_fallback(current, step):
            return  # already switched (by this policy before a restart, or by hand): kept as it is
        # Where the alias pointed is kept in the flow's own index, so a restart forgets nothing.
        await self._set(tenant, step, current, alias=step.alias + SAVED_ALIAS_SUFFIX)
        await self._set(tenant, step, Alias(step.version))

    async def _restore_alias(self, tenant: str, step: FallbackStep) -> None:
        saved = await self._aliases.alias_of(tenant, step.flow, step.alias + SAVED_ALIAS_SUFFIX)
        if saved is None:
            raise ActionFailed(
                f"no {step.alias + SAVED_ALIAS_SUFFIX!r} alias of flow {step.flow!r} to restore"
            )
        current = await self._aliases.alias_of(tenant, step.flow, step.alias)
        # Moved by somebody while engaged: their decision stands.
        if current is not None and _is_fallback(current, step):
            await self._set(tenant, step, saved)

    async def _set(self, tenant: str, step: FallbackStep, target: Alias, alias: str = "") -> None:
        try:
            await self._aliases.set_alias(
                tenant,
                step.flow,
                alias or step.alias,
                target.version,
                target.canary_version,
                target.canary_percent,
            )
        except (RegistryError, LookupError) as error:  # no such version (any more), no such flow
            raise ActionFailed(str(error).strip("'\"")) from None


def _is_fallback(alias: Alias, step: FallbackStep) -> bool:
    return alias.version == step.version and not alias.canary_version


def _minutes(seconds: float) -> str:
    if seconds < 0 or not math.isfinite(seconds):
        return "several"
    return str(max(1, math.ceil(seconds / 60.0)))
