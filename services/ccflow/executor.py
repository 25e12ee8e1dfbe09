"""The journey state machine: pure, deterministic, no I/O.

    executor = Executor(flow)
    effects = executor.start(journey, now)                 # runs until it waits or ends
    effects = executor.resume(journey, Input("2"), now)    # feeds what it waited for

`start` and `resume` change `journey` in place and return the effects for the driver to
carry out (send a prompt, ask for input, call an AI component or an integration, hand off
to a queue). Waiting nodes (collect, ai, integration, callback) stop the run; everything
else runs through. A CEL expression that fails at run time counts as an error of its node
and is treated as false, so one bad attribute cannot stall a contact.
"""

from __future__ import annotations

import zoneinfo
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ccflow.effects import (
    AiResult,
    AwaitInput,
    CallbackAnswered,
    CallIntegration,
    Effect,
    Ended,
    Event,
    Failure,
    HandOff,
    Input,
    IntegrationReply,
    InvokeAi,
    ScheduleCallback,
    SendPrompt,
    Timeout,
    TransferFlow,
)
from ccflow.expressions import ExpressionError, evaluate
from ccflow.journey import Journey
from ccflow.model import (
    AiNode,
    BusinessHours,
    CallbackNode,
    CollectNode,
    ConditionNode,
    EndNode,
    Flow,
    IntegrationNode,
    MessageNode,
    Node,
    ParallelNode,
    PointNode,
    PolicySpec,
    PriorityNode,
    QueueNode,
    SetAttributesNode,
    TransferFlowNode,
)
from ccmesh import channels
from ccpolicy.vocabulary import PURPOSES

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class JourneyError(ValueError):
    """An event the journey cannot take (it is not waiting, or waits for something else)."""


@dataclass
class NodeStats:
    """Executions and errors per node (the caller adds the flow version as a label)."""

    executions: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class Policy:
    name: str
    spec: PolicySpec


def clock_variables(now: datetime, time_zone: str, hours: BusinessHours) -> tuple[dict[str, Any], bool]:
    local = now.astimezone(zoneinfo.ZoneInfo(time_zone))
    weekday = WEEKDAYS[local.weekday()]
    minute_of_day = local.hour * 60 + local.minute
    open_h, open_m = (int(x) for x in hours.open.split(":"))
    close_h, close_m = (int(x) for x in hours.close.split(":"))
    is_open = weekday in hours.days and open_h * 60 + open_m <= minute_of_day < close_h * 60 + close_m
    clock = {"hour": local.hour, "minute": local.minute, "weekday": weekday, "date": local.date().isoformat()}
    return clock, is_open


class Executor:
    def __init__(
        self,
        flow: Flow,
        policies: Sequence[Policy] = (),
        *,
        max_steps: int = 500,
        stats: NodeStats | None = None,
    ) -> None:
        self.flow = flow
        self.nodes: dict[str, Node] = {node.id: node for node in flow.spec.nodes}
        self.policies = list(policies)
        self.max_steps = max_steps
        self.stats = stats if stats is not None else NodeStats()

    # -- public -----------------------------------------------------------------------------
    def start(self, journey: Journey, now: datetime) -> list[Effect]:
        journey.node = self.flow.spec.start
        journey.status = "running"
        effects: list[Effect] = []
        self._run(journey, now, effects)
        return effects

    def resume(self, journey: Journey, event: Event, now: datetime) -> list[Effect]:
        if journey.status != "waiting":
            raise JourneyError(f"journey {journey.journey_id!r} is {journey.status}, not waiting")
        node = self.nodes.get(journey.node)
        if node is None:
            raise JourneyError(f"journey {journey.journey_id!r} waits at {journey.node!r}, not in this flow")
        effects: list[Effect] = []
        clock = self._clock(now)
        if isinstance(node, CollectNode):
            self._take_input(journey, node, event, clock, effects)
        elif isinstance(node, AiNode):
            self._take_ai(journey, node, event)
        elif isinstance(node, IntegrationNode):
            self._take_reply(journey, node, event)
        elif isinstance(node, CallbackNode):
            if not isinstance(event, CallbackAnswered):
                raise self._wrong_event(journey, event)
            journey.channel = channels.stored_name(event.channel)
            self._go(journey, node.next)
        if _is_running(journey):
            self._run(journey, now, effects)
        return effects

    # -- events -----------------------------------------------------------------------------
    def _wrong_event(self, journey: Journey, event: Event) -> JourneyError:
        return JourneyError(
            f"journey {journey.journey_id!r} waits for {journey.waiting_for} at node {journey.node!r}, "
            f"got {type(event).__name__}"
        )

    def _take_input(
        self,
        journey: Journey,
        node: CollectNode,
        event: Event,
        clock: tuple[dict[str, Any], bool],
        effects: list[Effect],
    ) -> None:
        if not isinstance(event, Input | Timeout):
            raise self._wrong_event(journey, event)
        accepted = False
        if isinstance(event, Input):
            journey.input = event.text
            accepted = node.valid is None or self._condition(journey, node.id, node.valid, clock)
        if accepted:
            assert isinstance(event, Input)
            journey.attributes[node.store] = event.text
            self._go(journey, node.next)
        elif journey.attempt < node.retries:
            journey.attempt += 1
            effects.append(AwaitInput(node.id, node.prompt, node.mode, node.timeout_seconds, journey.attempt))
        else:
            self._go(journey, node.on_failure)

    def _take_ai(self, journey: Journey, node: AiNode, event: Event) -> None:
        if isinstance(event, Failure):
            self.stats.errors[node.id] += 1
            self._go(journey, node.on_failure)
            return
        if not isinstance(event, AiResult):
            raise self._wrong_event(journey, event)
        value = event.value
        if node.task == "language":
            journey.language = str(value)
        elif node.task == "intent":
            journey.intent = str(value)
        elif node.task == "sentiment":
            try:
                journey.sentiment = max(-1.0, min(1.0, float(value)))
            except (TypeError, ValueError):
                self.stats.errors[node.id] += 1
                self._go(journey, node.on_failure)
                return
        if node.store:
            journey.attributes[node.store] = value
        self._go(journey, node.next)

    def _take_reply(self, journey: Journey, node: IntegrationNode, event: Event) -> None:
        if isinstance(event, Failure | Timeout):
            self.stats.errors[node.id] += 1
            self._go(journey, node.on_failure)
            return
        if not isinstance(event, IntegrationReply):
            raise self._wrong_event(journey, event)
        journey.attributes[node.store] = event.data
        self._go(journey, node.next)

    # -- running ----------------------------------------------------------------------------
    def _go(self, journey: Journey, node_id: str) -> None:
        journey.node = node_id
        journey.status = "running"
        journey.waiting_for = ""
        journey.attempt = 0

    def _wait(self, journey: Journey, waiting_for: Any) -> None:
        journey.status = "waiting"
        journey.waiting_for = waiting_for

    def _end(self, journey: Journey, outcome: dict[str, Any]) -> None:
        journey.status = "ended"
        journey.waiting_for = ""
        journey.outcome = outcome

    def _clock(self, now: datetime) -> tuple[dict[str, Any], bool]:
        spec = self.flow.spec
        return clock_variables(now, spec.time_zone, spec.business_hours)

    def variables(self, journey: Journey, clock: tuple[dict[str, Any], bool]) -> dict[str, Any]:
        return {
            "region": journey.region,
            "channel": journey.channel,
            "brand": journey.brand,
            "language": journey.language,
            "customer": journey.customer,
            "history": journey.history,
            "attributes": journey.attributes,
            "priority": journey.priority,
            "intent": journey.intent,
            "sentiment": journey.sentiment,
            "input": journey.input,
            "clock": clock[0],
            "business_hours": clock[1],
            # Every purpose answers, so `consent.recording` needs no has() guard.
            "consent": {p: journey.consent.get(p, False) for p in PURPOSES},
        }

    def _value(self, journey: Journey, node_id: str, source: str, clock: tuple[dict[str, Any], bool]) -> Any:
        try:
            return evaluate(source, self.variables(journey, clock))
        except ExpressionError as error:
            self.stats.errors[node_id] += 1
            journey.errors.append({"node": node_id, "error": str(error)})
            return None

    def _condition(
        self, journey: Journey, node_id: str, source: str, clock: tuple[dict[str, Any], bool]
    ) -> bool:
        return self._value(journey, node_id, source, clock) is True

    def _run(self, journey: Journey, now: datetime, effects: list[Effect]) -> None:
        clock = self._clock(now)
        steps = 0
        while journey.status == "running":
            steps += 1
            if steps > self.max_steps:
                self.stats.errors[journey.node] += 1
                self._end(journey, {"kind": "error", "node": journey.node, "reason": "step limit reached"})
                effects.append(Ended(journey.node, "error"))
                return
            node_id = journey.node
            if journey.parallel_join and node_id == journey.parallel_join:
                if journey.parallel_pending:
                    journey.node = journey.parallel_pending.pop(0)
                    continue
                journey.parallel_join = ""
            self._apply_policies(journey, node_id, clock, effects)
            self._execute(journey, self.nodes[node_id], clock, effects)

    def _apply_policies(
        self, journey: Journey, node_id: str, clock: tuple[dict[str, Any], bool], effects: list[Effect]
    ) -> None:
        for policy in self.policies:
            if policy.name in journey.policies_applied or policy.spec.at not in (None, node_id):
                continue
            if not self._condition(journey, f"policy:{policy.name}", policy.spec.when, clock):
                continue
            journey.policies_applied.append(policy.name)
            for node in policy.spec.nodes:
                journey.path.append(f"policy:{policy.name}/{node.id}")
                if isinstance(node, MessageNode):
                    effects.append(SendPrompt(node.id, node.prompt))
                elif isinstance(node, SetAttributesNode):
                    self._set(journey, node, clock)
                elif isinstance(node, PriorityNode):
                    self._priority(journey, node, clock)

    def _set(self, journey: Journey, node: SetAttributesNode, clock: tuple[dict[str, Any], bool]) -> None:
        journey.attributes.update(node.attributes)
        for key, source in node.compute.items():
            value = self._value(journey, node.id, source, clock)
            if value is not None:
                journey.attributes[key] = value

    def _priority(self, journey: Journey, node: PriorityNode, clock: tuple[dict[str, Any], bool]) -> None:
        if node.priority is not None:
            journey.priority = node.priority
        elif node.delta is not None:
            journey.priority = journey.priority + node.delta
        elif node.expression is not None:
            value = self._value(journey, node.id, node.expression, clock)
            if isinstance(value, int) and not isinstance(value, bool):
                journey.priority = value
        journey.priority = max(0, min(100, journey.priority))

    def _execute(
        self, journey: Journey, node: Node, clock: tuple[dict[str, Any], bool], effects: list[Effect]
    ) -> None:
        journey.path.append(node.id)
        self.stats.executions[node.id] += 1
        if isinstance(node, ConditionNode):
            target = node.default
            for branch in node.branches:
                if self._condition(journey, node.id, branch.when, clock):
                    target = branch.next
                    break
            self._go(journey, target)
        elif isinstance(node, SetAttributesNode):
            self._set(journey, node, clock)
            self._go(journey, node.next)
        elif isinstance(node, MessageNode):
            effects.append(SendPrompt(node.id, node.prompt))
            self._go(journey, node.next)
        elif isinstance(node, PointNode):
            self._go(journey, node.next)
        elif isinstance(node, PriorityNode):
            self._priority(journey, node, clock)
            self._go(journey, node.next)
        elif isinstance(node, CollectNode):
            self._wait(journey, "input")
            effects.append(AwaitInput(node.id, node.prompt, node.mode, node.timeout_seconds, 0))
        elif isinstance(node, AiNode):
            self._wait(journey, "ai")
            effects.append(InvokeAi(node.id, node.component, node.task, node.timeout_seconds))
        elif isinstance(node, IntegrationNode):
            self._wait(journey, "integration")
            effects.append(CallIntegration(node.id, node.integration, node.timeout_seconds))
        elif isinstance(node, CallbackNode):
            self._wait(journey, "callback")
            effects.append(ScheduleCallback(node.id, node.queue, node.channel))
        elif isinstance(node, ParallelNode):
            journey.parallel_join = node.join
            journey.parallel_pending = list(node.branches[1:])
            self._go(journey, node.branches[0])
        elif isinstance(node, QueueNode):
            priority = journey.priority if node.priority is None else node.priority
            attributes = {**journey.attributes, **node.attributes}
            self._end(
                journey,
                {"kind": "queue", "queue": node.queue, "priority": priority, "attributes": attributes},
            )
            effects.append(HandOff(node.id, node.queue, priority, attributes))
        elif isinstance(node, TransferFlowNode):
            self._end(journey, {"kind": "flow", "flow": node.flow})
            effects.append(TransferFlow(node.id, node.flow))
        elif isinstance(node, EndNode):
            self._end(journey, {"kind": "end", "outcome": node.outcome})
            effects.append(Ended(node.id, node.outcome))


def _is_running(journey: Journey) -> bool:
    # A function, so type checkers do not keep the "waiting" narrowing from before the event.
    return journey.status == "running"
