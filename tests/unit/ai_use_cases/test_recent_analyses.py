"""A text analysed a moment ago is not run through the text-only steps again: the contact's
analysis of the message the gateway just asked about runs only the steps that read the
conversation, and finds what a full run would. Nothing is reused across tenants, pipelines or
texts, after `KEEP_SECONDS`, after a failed step, or after an erasure; the memory is bounded."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fakes.ai_fakes import TENANT, FakeConversations, InlineInference, OnePipeline

from ai.adapters.registry import ComponentRegistry
from ai.domain.component import ComponentContext, ComponentSpec, Insights
from ai.domain.pipeline import DEFAULT_STEPS, Pipeline, Step, build_pipeline
from ai.entrypoints.erasure_rpc import RecentTextsEndpoint
from ai.service_layer.analysis import Analyzer
from ai.service_layer.recent_analyses import KEEP_SECONDS, RecentAnalyses
from contactcenter.ai.v1 import ai_pb2

TEXT = "I want my money back, call me on +44 7700 900123, I am furious"


@dataclass
class Counted:
    """Counts the messages each step ran on (all steps of one pipeline share the counter)."""

    name: str
    consumes: frozenset[str]
    runs: dict[str, int]
    fail: bool = False
    #: Seconds each run takes (a heavy step).
    takes: float = 0.0
    spec: ComponentSpec = field(init=False)

    def __post_init__(self) -> None:
        self.spec = ComponentSpec(self.name, self.consumes, frozenset({f"extras.{self.name}"}))

    def analyse(self, insights: Insights) -> None:
        self.runs[self.name] = self.runs.get(self.name, 0) + 1
        time.sleep(self.takes)
        if self.fail:
            raise RuntimeError("a bug in a step")
        if self.name == "mood":
            insights.sentiment = -0.75
            insights.language = "en"
        else:  # the escalation-like step: reads the conversation so far
            history = len(insights.previous_sentiments)
            insights.escalation_score = 0.5 + 0.1 * history
            insights.escalation_reasons = [f"{history} earlier messages"]


def counted_pipeline(runs: dict[str, int], *, failing: bool = False, heavy: bool = False) -> Pipeline:
    def factory(name: str, consumes: set[str], fail: bool = False, takes: float = 0.0) -> object:
        def build(settings: Mapping[str, str], context: ComponentContext) -> Counted:
            return Counted(name, frozenset(consumes), runs, fail, takes)

        return build

    factories = {
        "mood": factory("mood", {"text"}, failing),
        "escalate": factory("escalate", {"text", "history"}, takes=0.005 if heavy else 0.0),
    }
    return build_pipeline("counted", [Step("mood"), Step("escalate")], factories, ComponentContext())  # type: ignore[arg-type]


def analyzer(pipeline: Pipeline, recent: RecentAnalyses | None = None) -> tuple[Analyzer, FakeConversations]:
    store = FakeConversations()
    return Analyzer(OnePipeline(pipeline), store, InlineInference(), recent=recent), store  # type: ignore[arg-type]


async def test_the_contacts_analysis_of_a_text_just_asked_about_runs_only_the_conversation_steps() -> None:
    runs: dict[str, int] = {}
    ours, store = analyzer(counted_pipeline(runs))
    asked = await ours.analyze(TENANT, "brand", TEXT)  # the gateway's language ask: text alone
    await store.append_turn(
        TENANT, "c1", {"message_id": "m0", "speaker": "customer", "text": "hi", "sentiment": 0.2}
    )
    analysed = await ours.analyze(TENANT, "brand", TEXT, contact_id="c1", message_id="m1")
    assert runs == {"mood": 1, "escalate": 2}
    # What a full run on the same conversation finds.
    fresh_runs: dict[str, int] = {}
    fresh, fresh_store = analyzer(counted_pipeline(fresh_runs))
    fresh_store.conversations = {key: dict(value) for key, value in store.conversations.items()}
    fresh_store.conversations[(TENANT, "c1")]["turns"] = store.conversations[(TENANT, "c1")]["turns"][:1]
    full = await fresh.analyze(TENANT, "brand", TEXT, contact_id="c1", message_id="m1")
    for name in (
        "language",
        "sentiment",
        "redacted_text",
        "escalation_score",
        "escalation_reasons",
        "extras",
    ):
        assert getattr(analysed.insights, name) == getattr(full.insights, name), name
    assert analysed.insights.escalation_reasons == ["1 earlier messages"]
    assert asked.insights.escalation_reasons == ["0 earlier messages"]
    # Only the step that ran for this message is timed as its stage.
    assert set(analysed.insights.stage_seconds) == {"escalate"}
    # The turn stored for the contact is the one a full run stores.
    assert (
        store.conversations[(TENANT, "c1")]["turns"][-1]
        == fresh_store.conversations[(TENANT, "c1")]["turns"][-1]
    )


async def test_another_tenant_text_or_pipeline_is_analysed_in_full() -> None:
    runs: dict[str, int] = {}
    pipeline = counted_pipeline(runs)
    recent = RecentAnalyses()
    ours, _ = analyzer(pipeline, recent)
    await ours.analyze(TENANT, "", TEXT)
    await ours.analyze("globex", "", TEXT, contact_id="c1")
    await ours.analyze(TENANT, "", TEXT + "!", contact_id="c2")
    assert runs == {"mood": 3, "escalate": 3}
    # The region's pipelines were rebuilt: an equal pipeline, but not the one that found it.
    rebuilt, _ = analyzer(counted_pipeline(runs), recent)
    await rebuilt.analyze(TENANT, "", TEXT, contact_id="c3")
    assert runs == {"mood": 4, "escalate": 4}


async def test_a_finding_is_reused_for_a_while_then_the_text_is_analysed_again() -> None:
    now = [0.0]
    runs: dict[str, int] = {}
    ours, _ = analyzer(counted_pipeline(runs), RecentAnalyses(clock=lambda: now[0]))
    await ours.analyze(TENANT, "", TEXT)
    now[0] = KEEP_SECONDS - 1
    await ours.analyze(TENANT, "", TEXT, contact_id="c1")
    assert runs["mood"] == 1
    now[0] = KEEP_SECONDS + 1
    await ours.analyze(TENANT, "", TEXT, contact_id="c2")
    assert runs["mood"] == 2


async def test_a_run_with_a_failed_step_is_not_kept() -> None:
    runs: dict[str, int] = {}
    ours, _ = analyzer(counted_pipeline(runs, failing=True))
    first = await ours.analyze(TENANT, "", TEXT)
    assert "mood" in first.insights.extras["errors"]
    await ours.analyze(TENANT, "", TEXT, contact_id="c1")
    assert runs == {"mood": 2, "escalate": 2}


async def test_an_erasure_drops_every_text_kept_and_the_next_analysis_runs_in_full() -> None:
    runs: dict[str, int] = {}
    ours, _ = analyzer(counted_pipeline(runs))
    await ours.analyze(TENANT, "", TEXT)
    await ours.analyze(TENANT, "", "where is my parcel")

    class NoWorkers:
        async def run_everywhere(self, function: object) -> int:
            return 0

    class Allowed:
        async def require(self, context: object, tenant_id: str, roles: object) -> None:
            return None

    endpoint = RecentTextsEndpoint(Allowed(), NoWorkers(), "eu", here=(ours.forget_recent_texts,))  # type: ignore[arg-type]
    answer = await endpoint.forget(ai_pb2.ForgetRecentTextsRequest(tenant_id=TENANT), None)
    assert dict(answer.removed) == {"ai-caches-eu": 2}
    assert ours.forget_recent_texts() == 0
    await ours.analyze(TENANT, "", TEXT, contact_id="c1")
    assert runs == {"mood": 3, "escalate": 3}


async def test_the_oldest_texts_go_first_beyond_the_bound() -> None:
    runs: dict[str, int] = {}
    ours, _ = analyzer(counted_pipeline(runs), RecentAnalyses(max_texts=2))
    for text in ("one", "two", "three"):
        await ours.analyze(TENANT, "", text)
    for text in ("two", "three", "one"):
        await ours.analyze(TENANT, "", text, contact_id="c1")
    # "one" went with the third text, and was analysed again.
    assert runs == {"mood": 4, "escalate": 6}


class GatedInference(InlineInference):
    """Holds every full run until the test opens the gate."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.waiting = 0

    async def analyse(self, pipeline: Any, insights: Insights, start: int = 0) -> Insights:
        if not start:
            self.waiting += 1
            await self.gate.wait()
        return await super().analyse(pipeline, insights, start)


async def test_the_streams_copy_arriving_mid_ask_waits_for_its_findings_and_a_left_ask_finds_none() -> None:
    runs: dict[str, int] = {}
    inference = GatedInference()
    ours = Analyzer(OnePipeline(counted_pipeline(runs)), FakeConversations(), inference)  # type: ignore[arg-type]
    asked = asyncio.create_task(ours.analyze(TENANT, "", TEXT))
    await asyncio.sleep(0)
    assert inference.waiting == 1
    streamed = asyncio.create_task(ours.analyze(TENANT, "", TEXT, contact_id="c1"))
    await asyncio.sleep(0)
    inference.gate.set()
    await asyncio.gather(asked, streamed)
    assert runs == {"mood": 1, "escalate": 2}
    assert streamed.result().insights.sentiment == -0.75

    # The ask's caller leaves mid-run (its deadline): the copy waiting on it runs in full.
    inference.gate.clear()
    other = TEXT + " again"
    asked = asyncio.create_task(ours.analyze(TENANT, "", other))
    await asyncio.sleep(0)
    streamed = asyncio.create_task(ours.analyze(TENANT, "", other, contact_id="c2"))
    await asyncio.sleep(0)
    asked.cancel()
    await asyncio.sleep(0)
    inference.gate.set()
    analysed = await streamed
    assert asked.cancelled()
    assert analysed.insights.sentiment == -0.75
    assert runs == {"mood": 2, "escalate": 3}


def test_the_default_pipeline_keeps_all_but_its_escalation_step_per_text() -> None:
    class NoModels:
        def current(self, tenant_id: str) -> None:
            return None

    factories = ComponentRegistry.discover().factories
    context = ComponentContext(intent_models=NoModels())
    pipeline = build_pipeline("default", [Step(n, s) for n, s in DEFAULT_STEPS], factories, context)
    assert pipeline.component_names[pipeline.text_steps :] == ["escalation"]


async def test_a_model_trained_meanwhile_answers_the_text_anew() -> None:
    runs: dict[str, int] = {}
    version = ["v1"]
    recent = RecentAnalyses(model_version=lambda tenant_id: version[0] if tenant_id == TENANT else "")
    ours, _ = analyzer(counted_pipeline(runs), recent)
    await ours.analyze(TENANT, "", TEXT)
    await ours.analyze(TENANT, "", TEXT, contact_id="c1")
    assert runs["mood"] == 1
    version[0] = "v2"
    await ours.analyze(TENANT, "", TEXT, contact_id="c2")
    assert runs["mood"] == 2


class RecordedInference(InlineInference):
    def __init__(self) -> None:
        self.starts: list[int] = []

    async def analyse(self, pipeline: Any, insights: Insights, start: int = 0) -> Insights:
        self.starts.append(start)
        return await super().analyse(pipeline, insights, start)


async def test_the_steps_left_run_here_when_they_were_quick_and_on_a_worker_when_not() -> None:
    for heavy, starts in ((False, [0]), (True, [0, 1])):
        runs: dict[str, int] = {}
        inference = RecordedInference()
        ours = Analyzer(OnePipeline(counted_pipeline(runs, heavy=heavy)), FakeConversations(), inference)  # type: ignore[arg-type]
        await ours.analyze(TENANT, "", TEXT)
        analysed = await ours.analyze(TENANT, "", TEXT, contact_id="c1")
        assert inference.starts == starts
        assert runs == {"mood": 1, "escalate": 2}
        assert analysed.insights.escalation_reasons == ["0 earlier messages"]
