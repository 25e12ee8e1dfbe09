"""The one contract every AI component meets, shipped or third-party.

A component is built by a factory registered under the entry-point group
`contactcenter.ai.components`:

    [project.entry-points."contactcenter.ai.components"]
    shouting = "acme_ai:ShoutingDetector"

The factory is called as `factory(settings, context)` and returns an object with a `spec`
(`ComponentSpec`: what it consumes and produces, its languages, its resource needs) and
`analyse(insights)`, which reads the fields it consumes and fills the ones it produces.
Components are pure CPU work: no network, no model downloads.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from ai.domain.sentiment_model import SentimentModel
from ccpolicy.pii import Entity

ENTRY_POINT_GROUP = "contactcenter.ai.components"
#: Language code meaning "works on any language".
ANY_LANGUAGE = "*"


@dataclass(frozen=True)
class Resources:
    """What one replica needs to run the component (used to size the ai service)."""

    cpu_millis: int = 10
    memory_mb: int = 10


@dataclass(frozen=True)
class ComponentSpec:
    name: str
    #: Insight fields read (`text` is always there), e.g. {"language"}.
    consumes: frozenset[str]
    #: Insight fields written, e.g. {"sentiment"}.
    produces: frozenset[str]
    #: ISO 639-1 codes, or {"*"} for any language.
    languages: frozenset[str] = frozenset({ANY_LANGUAGE})
    resources: Resources = field(default_factory=Resources)
    version: str = "1"


@dataclass
class Insights:
    """What the pipeline knows about one message; each component adds its part."""

    tenant_id: str
    text: str
    language: str = ""
    language_confidence: float = 0.0
    intent: str = ""
    intent_confidence: float = 0.0
    out_of_scope: bool = False
    intent_model_version: str = ""
    #: -1 (very negative) .. 1 (very positive)
    sentiment: float = 0.0
    sentiment_label: str = ""
    entities: list[Entity] = field(default_factory=list)
    redacted_text: str = ""
    escalation_score: float = 0.0
    escalation_reasons: list[str] = field(default_factory=list)
    #: Conversation so far, provided by the caller: earlier sentiments, contacts, wait.
    previous_sentiments: list[float] = field(default_factory=list)
    repeat_contacts: int = 0
    wait_seconds: float = 0.0
    #: Outputs of components that produce something the contract has no field for.
    extras: dict[str, str] = field(default_factory=dict)
    #: Seconds each pipeline step took on this message, by component name (for the stage metric).
    stage_seconds: dict[str, float] = field(default_factory=dict)


#: Fields a component may name in consumes/produces; `extras.<key>` is also allowed.
INSIGHT_FIELDS = frozenset(
    {"text", "language", "intent", "sentiment", "entities", "redacted_text", "escalation", "history"}
)


class Component(Protocol):
    spec: ComponentSpec

    def analyse(self, insights: Insights) -> None: ...


class IntentModels(Protocol):
    """The tenant's current intent model, swapped when a new one is trained."""

    def current(self, tenant_id: str) -> Any: ...


class SentenceEncoder(Protocol):
    """Text -> fixed-size unit vectors (`ai.domain.minilm.MiniLMEncoder` is the shipped one)."""

    #: Part of every intent model version, so models built with another encoder never pass as equal.
    name: str

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...

    def encode_one(self, text: str) -> np.ndarray: ...


@dataclass(frozen=True)
class ComponentContext:
    """What a factory may use besides its settings."""

    intent_models: IntentModels | None = None
    #: None when the model package is not installed (or turned off): components needing it refuse.
    sentence_encoder: SentenceEncoder | None = None
    #: The trained sentiment classifier for `sentence_encoder` (`ai.domain.sentiment_model`);
    #: None: the sentiment component keeps to its lexicon.
    sentiment_model: SentimentModel | None = None


ComponentFactory = Callable[[Mapping[str, str], ComponentContext], Component]


class ComponentError(ValueError):
    """A component cannot be built from its settings; the message names the setting."""


def float_setting(settings: Mapping[str, str], name: str, default: float) -> float:
    raw = settings.get(name)
    if raw is None:
        return default
    try:
        return float(raw)
    except ValueError:
        raise ComponentError(f"setting {name!r} must be a number, got {raw!r}") from None
