"""The work a journey's `ai` and `integration` nodes ask for, done inside the step that reaches them.

Routing runs journeys, so it carries out what their waiting nodes ask, and the journey goes on
in the same step (its later prompts and its hand-off reach the caller with the first ones):

ai
    The AI service analyses the customer's text (the message that opened the contact, or the
    last input). `language`, `intent`/`classify` and `sentiment` read the analysis; `summary`
    asks for the conversation's summary. No text, no answer within the node's `timeoutSeconds`,
    an error, or an undetermined language: the journey takes the node's `onFailure`. So does a
    step a compliance rule refuses (e.g. AI analysis without the customer's consent, as the
    journey carries it): the failure names the rule and a PolicyViolation is published.

integration
    `queue-status` and `wait-time-estimate` are the platform's own: routing answers them from the
    queue the journey is heading to (`{waiting, longest_wait_seconds, staffed_agents,
    expected_wait_seconds}` / `{seconds, queue}`; -1 / `onFailure` when the queue has no
    estimate). Any other name is an external system. When a connector of the tenant answers it
    (the integration service's InvokeConnector), the step calls it within the node's
    `timeoutSeconds` and continues with the fields it maps from the system's answer (an error or
    no answer in time: `onFailure`). Otherwise the step
    waits up to the node's `timeoutSeconds` for that system's SendFlowEvent naming the
    integration (or the node), and stores its data; nothing in time takes `onFailure`. A wait
    longer than the caller's deadline leaves (a payment, a sign-off) is not held in the call:
    the journey is stored waiting at the node, the system's event continues it (the actions
    consumer), and at its deadline (kept in KV) whichever routing instance is alive resumes it
    with a timeout (`journey_deadlines`).

Every wait is also bounded by the caller's own deadline, so a slow AI service or a silent system
costs the customer one branch, never the contact.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import time
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from ccflow.effects import (
    AiResult,
    CallIntegration,
    Event,
    Failure,
    IntegrationReply,
    InvokeAi,
    Timeout,
)
from ccflow.journey import Journey
from ccflow.model import Flow, IntegrationNode
from ccflow.paths import queue_ahead
from ccmesh.policy_violations import PolicyCheck
from ccmesh.rpc_context import current_deadline
from ccpolicy import Action, Situation
from routing.domain.journey_facts import Analysis, QueueLoad, WorkFailed
from routing.service_layer.flow_event_relay import FlowEventRelay

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Integrations routing answers itself (from its own queues).
QUEUE_STATUS = "queue-status"
WAIT_TIME_ESTIMATE = "wait-time-estimate"
PLATFORM_INTEGRATIONS = frozenset({QUEUE_STATUS, WAIT_TIME_ESTIMATE})
#: Left of the caller's deadline for the rest of the step (saving, answering).
DEADLINE_MARGIN_SECONDS = 0.5
#: The language analysis asked for before a hand-off that does not know the language yet.
HAND_OFF_ANALYSIS_SECONDS = 2.0
UNDETERMINED = frozenset({"", "und"})


class AiPort(Protocol):
    async def analyze(self, tenant: str, brand: str, text: str, timeout: float) -> Analysis: ...

    async def summarize(self, tenant: str, contact_id: str, timeout: float) -> str: ...


class QueueLoadPort(Protocol):
    async def load(self, tenant: str, queue: str) -> QueueLoad: ...


class ConnectorPort(Protocol):
    async def invoke(
        self,
        tenant: str,
        brand: str,
        contact_id: str,
        integration: str,
        inputs: Mapping[str, str],
        timeout: float,
    ) -> dict[str, str] | None:
        """The fields the tenant's connector for `integration` answers ({} when the system has
        no such record); None when no connector answers it; WorkFailed when the call fails."""
        ...


class FlowEventWaits:
    """Steps of this process waiting at an integration node for an external system's event."""

    def __init__(self, relay: FlowEventRelay | None = None) -> None:
        self._waits: dict[tuple[str, str], tuple[IntegrationNode, asyncio.Future[dict[str, str]]]] = {}
        #: Lets an event taken by another routing instance reach a step waiting here, and back.
        self.relay = relay

    async def wait(
        self, tenant: str, contact_id: str, node: IntegrationNode, timeout: float
    ) -> dict[str, str] | None:
        """The event's data, or None when none came within `timeout` seconds."""
        future: asyncio.Future[dict[str, str]] = asyncio.get_running_loop().create_future()
        key = (tenant, contact_id)
        self._waits[key] = (node, future)
        take = functools.partial(self.deliver, tenant, contact_id)
        stop = await self.relay.listen(tenant, contact_id, take) if self.relay is not None else None
        try:
            return await asyncio.wait_for(future, max(0.0, timeout))
        except TimeoutError:
            return None
        finally:
            if stop is not None:
                await stop()
            if self._waits.get(key, (None, None))[1] is future:
                del self._waits[key]

    def deliver(self, tenant: str, contact_id: str, event_name: str, data: Mapping[str, str]) -> str:
        """Hand an event to the step waiting for it; the node id it went to, "" when none waits."""
        found = self._waits.get((tenant, contact_id))
        if found is None:
            return ""
        node, future = found
        if future.done() or not names_node(event_name, node):
            return ""
        future.set_result(dict(data))
        return node.id

    async def deliver_anywhere(
        self, tenant: str, contact_id: str, event_name: str, data: Mapping[str, str]
    ) -> str:
        """`deliver`, or else to a step waiting for it in another instance's call."""
        taken = self.deliver(tenant, contact_id, event_name, data)
        if not taken and self.relay is not None:
            taken = await self.relay.offer(tenant, contact_id, event_name, data)
        return taken


def names_node(event_name: str, node: IntegrationNode) -> bool:
    """A flow event names the node by its id or its integration (`_` may stand for `-`)."""
    return event_name in (node.id, node.integration) or event_name.replace("_", "-") == node.integration


@dataclass
class StepWork:
    """Carries out one step's AI and integration requests; one analysis per text per step."""

    ai: AiPort | None
    queues: QueueLoadPort | None
    waits: FlowEventWaits
    connectors: ConnectorPort | None = None
    #: The region's compliance rules (AI analysis may need the customer's consent).
    policy: PolicyCheck | None = None
    _analyses: dict[str, Analysis] = field(default_factory=dict)
    #: The rules' refusal of AI analysis in this step, once judged ("" allowed).
    _analysis_refusal: str | None = None

    async def perform(
        self, tenant: str, journey: Journey, flow: Flow, effect: InvokeAi | CallIntegration
    ) -> Event | None:
        """The event that continues the journey; None: it waits longer than this step can, so
        it is stored waiting at the node (its deadline ends the wait, see `journey_deadlines`)."""
        try:
            if isinstance(effect, InvokeAi):
                return AiResult(await self._ai_value(tenant, journey, effect))
            return await self._integration(tenant, journey, flow, effect)
        except WorkFailed as error:
            log.info("journey %s: node %s failed: %s", journey.journey_id, effect.node, error)
            journey.errors.append({"node": effect.node, "error": str(error)})
            return Failure(str(error))

    async def analysis(self, tenant: str, journey: Journey, timeout: float, text: str = "") -> Analysis:
        """The analysis of `text`, by default the customer's last words (the opening message
        until the journey asked for input)."""
        if self.ai is None:
            raise WorkFailed("no AI service is configured")
        text = (text or journey.input).strip()
        if not text:
            raise WorkFailed("there is no customer text to analyse yet")
        await self._may_analyse(tenant, journey)
        found = self._analyses.get(text)
        if found is None:
            found = await _within(self.ai.analyze(tenant, journey.brand, text, _bounded(timeout)), timeout)
            self._analyses[text] = found
        if not journey.language and found.language not in UNDETERMINED and found.language_reliable:
            # What the platform learns about the contact travels with the journey to the queue.
            journey.language = found.language
        return found

    async def learn_before_hand_off(self, tenant: str, journey: Journey) -> None:
        """A journey that reaches its queue without a language gets the detected one, if any."""
        # The opening message says more about the language than a menu choice ("2", "yes").
        text = journey.text.strip() or journey.input.strip()
        if journey.language or not text or self.ai is None:
            return
        try:
            found = await self.analysis(tenant, journey, HAND_OFF_ANALYSIS_SECONDS, text)
        except WorkFailed as error:
            log.info("journey %s: queued without a language: %s", journey.journey_id, error)
            return
        if not journey.intent and found.intent:
            journey.intent = found.intent

    async def _ai_value(self, tenant: str, journey: Journey, effect: InvokeAi) -> Any:
        if effect.task == "summary":
            if self.ai is None:
                raise WorkFailed("no AI service is configured")
            await self._may_analyse(tenant, journey)
            summary = self.ai.summarize(tenant, journey.journey_id, _bounded(effect.timeout_seconds))
            return await _within(summary, effect.timeout_seconds)
        found = await self.analysis(tenant, journey, effect.timeout_seconds)
        if effect.task == "language":
            if found.language in UNDETERMINED or not found.language_reliable:
                raise WorkFailed("the language could not be told reliably from the text")
            return found.language
        if effect.task == "sentiment":
            return found.sentiment
        return found.intent  # intent, classify

    async def _may_analyse(self, tenant: str, journey: Journey) -> None:
        """WorkFailed naming the rule when the region's rules refuse AI analysis of this
        customer's words (judged once per step; the refusal is published)."""
        if self.policy is None:
            return
        if self._analysis_refusal is None:
            decision = await self.policy.judge(
                Action.ANALYSE,
                Situation(region=self.policy.region, consents=journey.consent),
                tenant_id=tenant,
                brand_id=journey.brand,
                contact_id=journey.journey_id,
                actor="routing",
            )
            self._analysis_refusal = decision.message()
        if self._analysis_refusal:
            raise WorkFailed(self._analysis_refusal)

    async def _integration(
        self, tenant: str, journey: Journey, flow: Flow, effect: CallIntegration
    ) -> Event | None:
        if effect.integration in PLATFORM_INTEGRATIONS:
            return IntegrationReply(await self._queue_answer(tenant, flow, effect))
        node = next((n for n in flow.spec.nodes if n.id == effect.node), None)
        if not isinstance(node, IntegrationNode):
            raise WorkFailed(f"node {effect.node!r} is not an integration node of the flow")
        if self.connectors is not None:
            call = self.connectors.invoke(
                tenant,
                journey.brand,
                journey.journey_id,
                effect.integration,
                journey_inputs(journey),
                _bounded(effect.timeout_seconds),
            )
            fields = await _within(call, effect.timeout_seconds)
            if fields is not None:
                return IntegrationReply(fields)
        budget = _bounded(effect.timeout_seconds)
        if budget < effect.timeout_seconds:
            return None  # a long wait (a payment, a sign-off): the journey waits stored, not in a call
        data = await self.waits.wait(tenant, journey.journey_id, node, budget)
        if data is None:
            return Timeout()
        return IntegrationReply(data)

    async def _queue_answer(self, tenant: str, flow: Flow, effect: CallIntegration) -> dict[str, Any]:
        if self.queues is None:
            raise WorkFailed("no queues to ask")
        queue = queue_ahead(flow, effect.node)
        if not queue:
            raise WorkFailed(f"no queue lies ahead of node {effect.node!r}")
        load = await _within(self.queues.load(tenant, queue), effect.timeout_seconds)
        known = math.isfinite(load.expected_wait_seconds)
        if effect.integration == WAIT_TIME_ESTIMATE:
            if not known:
                raise WorkFailed(f"queue {queue!r} has no wait estimate (unstaffed or overloaded)")
            return {"seconds": round(load.expected_wait_seconds), "queue": queue}
        return {
            "queue": queue,
            "waiting": load.waiting,
            "longest_wait_seconds": round(load.longest_wait_seconds),
            "staffed_agents": load.staffed_agents,
            # -1: no estimate (nobody staffed, or more arrivals than the agents can take).
            "expected_wait_seconds": round(load.expected_wait_seconds) if known else -1,
        }


def journey_inputs(journey: Journey) -> dict[str, str]:
    """What a journey hands a connector: what it learned and its plain (non-nested) attributes."""
    inputs = {
        name: str(value)
        for name, value in journey.attributes.items()
        if isinstance(value, str | int | float | bool)
    }
    learned = {
        "intent": journey.intent,
        "language": journey.language,
        "channel": journey.channel,
        "brand": journey.brand,
    }
    inputs.update({name: value for name, value in learned.items() if value})
    return inputs


async def _within(call: Awaitable[T], timeout: float) -> T:
    """The call's answer, or WorkFailed once `timeout` (cut to the caller's deadline) has passed:
    a port that ignores its own timeout cannot hold the step."""
    limit = _bounded(timeout)
    try:
        return await asyncio.wait_for(call, limit)
    except TimeoutError:
        raise WorkFailed(f"no answer within {limit:.1f}s") from None


def _bounded(timeout: float) -> float:
    """`timeout`, cut to what the caller's deadline leaves (less a margin for the rest of the step)."""
    deadline = current_deadline.get()
    if deadline is None:
        return timeout
    return max(0.0, min(timeout, deadline - time.monotonic() - DEADLINE_MARGIN_SECONDS))
