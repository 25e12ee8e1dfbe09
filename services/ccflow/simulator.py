"""Run scenario contacts through the effective flow and check their paths and outcomes.

A scenario file (kind `FlowScenarios`) names the flow and lists contacts: their context
(region, brand, channel, language), customer profile, history, clock, the inputs they type
(`{timeout: true}` for silence), the AI results and integration replies they get, and what
must happen (`expect`: nodes on the path in order, nodes never visited, outcome, priority,
attributes, prompts sent). Deterministic: no wall clock, no randomness, no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError

from ccflow.effects import (
    AiResult,
    AwaitInput,
    CallbackAnswered,
    CallIntegration,
    Effect,
    Event,
    Failure,
    Input,
    IntegrationReply,
    InvokeAi,
    ScheduleCallback,
    SendPrompt,
    Timeout,
)
from ccflow.errors import FlowError, Problem, fail
from ccflow.executor import Executor, NodeStats, Policy
from ccflow.journey import Journey
from ccflow.loader import Bundle
from ccflow.model import Flow, Model
from ccflow.overlays import render
from ccmesh.channels import Channel, ChannelField


class Expectation(Model):
    #: Nodes that must be visited, in this order (others may come between).
    path: list[str] = Field(default_factory=list)
    #: Nodes that must never be visited.
    avoid: list[str] = Field(default_factory=list)
    outcome: dict[str, Any] = Field(default_factory=dict)
    priority: int | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)
    prompts: list[str] = Field(default_factory=list)
    status: Literal["ended", "waiting"] = "ended"


class Scenario(Model):
    name: str = Field(min_length=1)
    region: str = ""
    brand: str = ""
    channel: ChannelField = Channel.WEBCHAT
    language: str = ""
    customer: dict[str, Any] = Field(default_factory=dict)
    history: dict[str, Any] = Field(default_factory=dict)
    attributes: dict[str, Any] = Field(default_factory=dict)
    clock: datetime = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)
    inputs: list[str | dict[str, bool]] = Field(default_factory=list)
    #: AI results by task (`intent`) or component name; `{fail: true}` fails the call.
    ai: dict[str, Any] = Field(default_factory=dict)
    integrations: dict[str, Any] = Field(default_factory=dict)
    #: Channel the customer answers a callback on; absent: the callback is never answered.
    callback: ChannelField | None = None
    expect: Expectation = Field(default_factory=Expectation)


class ScenarioFile(Model):
    api_version: Literal["contactcenter.dev/v1alpha1"]
    kind: Literal["FlowScenarios"]
    flow: str
    scenarios: list[Scenario] = Field(min_length=1)


@dataclass
class ScenarioResult:
    name: str
    failures: list[str]
    journey: Journey
    prompts: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


def load_scenarios(text: str, file: str) -> ScenarioFile:
    try:
        return ScenarioFile.model_validate(yaml.safe_load(text))
    except yaml.YAMLError as error:
        raise fail(file, "", f"not valid YAML: {error}") from None
    except ValidationError as error:
        problems = [
            Problem(file, "", f"{'.'.join(str(p) for p in item['loc'])}: {item['msg']}")
            for item in error.errors()
        ]
        raise FlowError(problems) from None


def _is_failure(reply: Any) -> bool:
    return isinstance(reply, dict) and bool(reply.get("fail"))


def _answer(effect: Effect, scenario: Scenario, inputs: list[str | dict[str, bool]]) -> Event | None:
    if isinstance(effect, AwaitInput):
        if not inputs:
            return Timeout()
        given = inputs.pop(0)
        return Timeout() if isinstance(given, dict) else Input(str(given))
    if isinstance(effect, InvokeAi):
        reply = scenario.ai.get(effect.component, scenario.ai.get(effect.task))
        if reply is None or _is_failure(reply):
            return Failure("no AI result in the scenario" if reply is None else "AI failure")
        return AiResult(reply)
    if isinstance(effect, CallIntegration):
        reply = scenario.integrations.get(effect.integration)
        if reply is None or _is_failure(reply):
            return Failure("no reply in the scenario" if reply is None else "integration failure")
        return IntegrationReply(reply)
    if isinstance(effect, ScheduleCallback):
        return CallbackAnswered(scenario.callback) if scenario.callback else None
    return None


def run_scenario(executor: Executor, scenario: Scenario, flow_name: str) -> ScenarioResult:
    journey = Journey(
        journey_id=scenario.name,
        flow=flow_name,
        region=scenario.region,
        channel=scenario.channel,
        brand=scenario.brand,
        language=scenario.language,
        customer=dict(scenario.customer),
        history=dict(scenario.history),
        attributes=dict(scenario.attributes),
    )
    inputs = list(scenario.inputs)
    prompts: list[str] = []
    effects = executor.start(journey, scenario.clock)
    while True:
        event: Event | None = None
        for effect in effects:
            if isinstance(effect, SendPrompt | AwaitInput):
                prompts.append(effect.prompt)
            event = _answer(effect, scenario, inputs) or event
        if event is None or journey.status != "waiting":
            break
        effects = executor.resume(journey, event, scenario.clock)
    return ScenarioResult(scenario.name, check(journey, prompts, scenario.expect), journey, prompts)


def _in_order(wanted: Sequence[str], path: Sequence[str]) -> str | None:
    position = 0
    for node in wanted:
        try:
            position = path.index(node, position) + 1
        except ValueError:
            return node
    return None


def check(journey: Journey, prompts: list[str], expect: Expectation) -> list[str]:
    failures = []
    if journey.status != expect.status:
        failures.append(f"journey is {journey.status} at {journey.node!r}, expected {expect.status}")
    missing = _in_order(expect.path, journey.path)
    if missing is not None:
        failures.append(f"path does not visit {missing!r} in order; path: {' > '.join(journey.path)}")
    for node in expect.avoid:
        if node in journey.path:
            failures.append(f"path visits {node!r}, which it must avoid; path: {' > '.join(journey.path)}")
    for key, wanted in expect.outcome.items():
        if journey.outcome.get(key) != wanted:
            failures.append(f"outcome.{key} is {journey.outcome.get(key)!r}, expected {wanted!r}")
    if expect.priority is not None and journey.priority != expect.priority:
        failures.append(f"priority is {journey.priority}, expected {expect.priority}")
    for key, wanted in expect.attributes.items():
        if journey.attributes.get(key) != wanted:
            failures.append(f"attribute {key!r} is {journey.attributes.get(key)!r}, expected {wanted!r}")
    missing_prompt = _in_order(expect.prompts, prompts)
    if missing_prompt is not None:
        failures.append(f"prompt {missing_prompt!r} not sent in order; sent: {prompts}")
    return failures


class Simulator:
    """Renders (and caches) the effective flow per context and runs scenarios through it."""

    def __init__(self, bundle: Bundle, policies: Sequence[Policy] = ()) -> None:
        self.bundle = bundle
        # Policies published with the flows apply as they do in the routing service.
        self.policies = [Policy(p.metadata.name, p.spec) for p in bundle.policy_documents()] + list(policies)
        self.stats = NodeStats()
        self._executors: dict[tuple[str, ...], Executor] = {}

    def executor_for(self, flow_name: str, scenario: Scenario) -> Executor:
        key = (flow_name, scenario.region, scenario.brand, scenario.channel, scenario.language)
        executor = self._executors.get(key)
        if executor is None:
            context = {"region": scenario.region, "brand": scenario.brand, "channel": scenario.channel}
            context["language"] = scenario.language
            flow: Flow = render(self.bundle, flow_name, context)[0]
            executor = Executor(flow, self.policies, stats=self.stats)
            self._executors[key] = executor
        return executor

    def run(self, scenarios: ScenarioFile) -> list[ScenarioResult]:
        return [
            run_scenario(self.executor_for(scenarios.flow, s), s, scenarios.flow) for s in scenarios.scenarios
        ]
