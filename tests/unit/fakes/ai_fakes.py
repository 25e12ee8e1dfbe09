"""In-memory fakes of the ai use cases' ports (`ai.service_layer.ports`) and a fixed pipeline.

The conversation store keeps turns per contact as `TenantStore` does (a turn with a message id
already stored is not added again); inference runs inline, since no event loop is to be spared.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ai.domain.component import Insights
from ccpolicy.pii import Entity

T = TypeVar("T")
TENANT = "acme"
REGION = "eu"


class FakeConversations:
    def __init__(self) -> None:
        self.conversations: dict[tuple[str, str], dict[str, Any]] = {}

    async def conversation(self, tenant_id: str, contact_id: str) -> dict[str, Any] | None:
        found = self.conversations.get((tenant_id, contact_id))
        return copy.deepcopy(found) if found is not None else None

    async def append_turn(self, tenant_id: str, contact_id: str, turn: dict[str, Any]) -> dict[str, Any]:
        conversation = self.conversations.setdefault((tenant_id, contact_id), {"turns": []})
        if not any(
            t["message_id"] == turn["message_id"] for t in conversation["turns"] if turn["message_id"]
        ):
            conversation["turns"].append(dict(turn))
        return copy.deepcopy(conversation)

    async def forget_conversation(self, tenant_id: str, contact_id: str) -> None:
        self.conversations.pop((tenant_id, contact_id), None)


class InlineInference:
    async def run(self, function: Callable[..., T], *args: Any) -> T:
        return function(*args)

    async def analyse(self, pipeline: Any, insights: Insights, start: int = 0) -> Insights:
        pipeline.run(insights, start)
        return insights


@dataclass
class FixedPipeline:
    """Finds the same things in every message: what a real pipeline would, without its models."""

    language: str = "en"
    language_confidence: float = 0.9
    intent: str = "refund"
    sentiment: float = -0.5
    entities: list[Entity] = field(default_factory=list)
    name: str = "fixed"
    component_names: list[str] = field(default_factory=lambda: ["fixed"])
    components: list[Any] = field(default_factory=list)
    #: Its one step reads the conversation too (it scores escalation): nothing to keep per text.
    text_steps: int = 0

    def run(self, insights: Insights, start: int = 0) -> None:
        insights.language = self.language
        insights.language_confidence = self.language_confidence
        insights.intent = self.intent
        insights.intent_confidence = 0.8
        insights.sentiment = self.sentiment
        insights.entities = list(self.entities)
        insights.escalation_score = 0.4
        insights.escalation_reasons = ["negative sentiment"]


class OnePipeline:
    def __init__(self, pipeline: FixedPipeline) -> None:
        self.pipeline = pipeline

    def select(self, tenant_id: str, brand_id: str) -> FixedPipeline:
        return self.pipeline
