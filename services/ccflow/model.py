"""The flow documents: a base `Flow`, `FlowOverlay`s that vary it, and the `FlowCatalog` of names.

Field names are camelCase in YAML/JSON (Kubernetes style) and snake_case in Python. Nodes
refer to queues, prompts, AI components, integrations and other flows by logical name only;
the catalog says which names exist, so a flow moves between environments unchanged.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from ccmesh.channels import Channel, ChannelField

API_VERSION = "contactcenter.dev/v1alpha1"

NodeId = Annotated[
    str,
    Field(
        pattern=r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?|\$continue)$",
        description="Node id, unique in the flow (`$continue` only inside an overlay's insert).",
    ),
]
LogicalName = Annotated[
    str,
    Field(pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", description="Logical name from the catalog."),
]
#: A CEL expression, compiled and type-checked on load.
Cel = Annotated[str, Field(min_length=1, description="CEL expression.")]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, alias_generator=to_camel, frozen=True)


class Metadata(Model):
    name: LogicalName
    labels: dict[str, str] = Field(default_factory=dict)


class _Node(Model):
    id: NodeId
    description: str = ""


class Branch(Model):
    when: Cel
    next: NodeId


class ConditionNode(_Node):
    """Takes the first branch whose `when` is true, else `default`."""

    kind: Literal["condition"]
    branches: list[Branch] = Field(min_length=1)
    default: NodeId


class SetAttributesNode(_Node):
    """Sets journey attributes: `attributes` literally, `compute` from CEL expressions."""

    kind: Literal["set"]
    attributes: dict[str, Any] = Field(default_factory=dict)
    compute: dict[str, Cel] = Field(default_factory=dict)
    next: NodeId


class MessageNode(_Node):
    """Sends a message (text channels) or plays a prompt (voice)."""

    kind: Literal["message"]
    prompt: LogicalName
    next: NodeId


class CollectNode(_Node):
    """Asks for input (DTMF or text); retries on timeout or invalid input, then gives up."""

    kind: Literal["collect"]
    prompt: LogicalName
    mode: Literal["dtmf", "text"] = "text"
    timeout_seconds: float = Field(default=30.0, gt=0)
    retries: int = Field(default=2, ge=0, le=10)
    #: Attribute that receives the input.
    store: str = Field(pattern=r"^[a-z_][a-z0-9_]*$")
    #: CEL over `input` that accepts the input; absent accepts anything.
    valid: Cel | None = None
    next: NodeId
    on_failure: NodeId


class AiNode(_Node):
    """Asks an AI component; language/intent/sentiment also set the journey's own fields."""

    kind: Literal["ai"]
    component: LogicalName
    task: Literal["language", "intent", "sentiment", "summary", "classify"]
    #: How long the step waits for the AI service; no answer by then takes `onFailure`.
    timeout_seconds: float = Field(default=3.0, gt=0, le=30)
    store: str = Field(default="", pattern=r"^([a-z_][a-z0-9_]*)?$")
    next: NodeId
    on_failure: NodeId


class IntegrationNode(_Node):
    """Calls an external system; a failure or timeout takes `onFailure`."""

    kind: Literal["integration"]
    integration: LogicalName
    timeout_seconds: float = Field(default=5.0, gt=0)
    store: str = Field(pattern=r"^[a-z_][a-z0-9_]*$")
    next: NodeId
    on_failure: NodeId


class ParallelNode(_Node):
    """Runs each branch until it reaches `join`, then continues at `join`."""

    kind: Literal["parallel"]
    branches: list[NodeId] = Field(min_length=2)
    join: NodeId


class PriorityNode(_Node):
    """Sets the priority (`priority`), or changes it by `delta`, or computes it (`expression`)."""

    kind: Literal["priority"]
    priority: int | None = Field(default=None, ge=0, le=100)
    delta: int | None = Field(default=None, ge=-100, le=100)
    expression: Cel | None = None
    next: NodeId


class QueueNode(_Node):
    """Ends the journey with a hand-off to a queue (the routing queues take it from there)."""

    kind: Literal["queue"]
    queue: LogicalName
    priority: int | None = Field(default=None, ge=0, le=100)
    attributes: dict[str, Any] = Field(default_factory=dict)


class TransferFlowNode(_Node):
    """Ends this flow and continues the contact in another flow (by name; its live alias decides)."""

    kind: Literal["transfer-flow"]
    flow: LogicalName


class CallbackNode(_Node):
    """Offers a callback on `channel`; the journey waits and continues there at `next`."""

    kind: Literal["callback"]
    queue: LogicalName
    channel: ChannelField = Channel.VOICE
    next: NodeId


class EndNode(_Node):
    kind: Literal["end"]
    outcome: str = Field(default="completed", min_length=1)


class PointNode(_Node):
    """A named point where overlays and policies insert steps; does nothing itself."""

    kind: Literal["point"]
    next: NodeId


Node = Annotated[
    ConditionNode
    | SetAttributesNode
    | MessageNode
    | CollectNode
    | AiNode
    | IntegrationNode
    | ParallelNode
    | PriorityNode
    | QueueNode
    | TransferFlowNode
    | CallbackNode
    | EndNode
    | PointNode,
    Field(discriminator="kind"),
]

TERMINAL_KINDS = frozenset({"queue", "transfer-flow", "end"})


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def _weekdays() -> list[Weekday]:
    return ["mon", "tue", "wed", "thu", "fri"]


class BusinessHours(Model):
    days: list[Weekday] = Field(default_factory=_weekdays)
    open: str = Field(default="09:00", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
    close: str = Field(default="17:00", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$")


class FlowSpec(Model):
    start: NodeId
    #: The queues' time zone: `clock` and `businessHours` in conditions are read in it.
    time_zone: str = "UTC"
    business_hours: BusinessHours = Field(default_factory=BusinessHours)
    nodes: list[Node] = Field(min_length=1)


class Flow(Model):
    api_version: Literal["contactcenter.dev/v1alpha1"]
    kind: Literal["Flow"]
    metadata: Metadata
    spec: FlowSpec


class Selector(Model):
    """Which contexts an overlay applies to; every key given must match."""

    region: str | None = None
    brand: str | None = None
    channel: ChannelField | None = None
    language: str | None = None


class Insert(Model):
    """Chains `nodes` in after the point `at`; a node with `next: $continue` rejoins the flow."""

    at: NodeId
    nodes: list[Node] = Field(min_length=1)


class OverlaySpec(Model):
    flow: LogicalName
    match: Selector = Field(default_factory=Selector)
    #: Nodes that replace the base node with the same id.
    replace: list[Node] = Field(default_factory=list)
    insert: list[Insert] = Field(default_factory=list)
    time_zone: str | None = None
    business_hours: BusinessHours | None = None


class FlowOverlay(Model):
    api_version: Literal["contactcenter.dev/v1alpha1"]
    kind: Literal["FlowOverlay"]
    metadata: Metadata
    spec: OverlaySpec


class CatalogSpec(Model):
    queues: list[LogicalName] = Field(default_factory=list)
    prompts: list[LogicalName] = Field(default_factory=list)
    ai_components: list[LogicalName] = Field(default_factory=list)
    integrations: list[LogicalName] = Field(default_factory=list)
    flows: list[LogicalName] = Field(default_factory=list)


class FlowCatalog(Model):
    api_version: Literal["contactcenter.dev/v1alpha1"]
    kind: Literal["FlowCatalog"]
    metadata: Metadata
    spec: CatalogSpec


class PolicySpec(Model):
    """Inserts `nodes` (message/set/priority only) into running journeys that match `when`."""

    when: Cel
    #: Insert when the journey reaches this node; absent: at the journey's next step.
    at: NodeId | None = None
    nodes: list[Node] = Field(min_length=1)


class FlowPolicy(Model):
    api_version: Literal["contactcenter.dev/v1alpha1"]
    kind: Literal["FlowPolicy"]
    metadata: Metadata
    spec: PolicySpec


Document = Flow | FlowOverlay | FlowCatalog | FlowPolicy
DOCUMENT_KINDS: dict[str, type[Flow] | type[FlowOverlay] | type[FlowCatalog] | type[FlowPolicy]] = {
    "Flow": Flow,
    "FlowOverlay": FlowOverlay,
    "FlowCatalog": FlowCatalog,
    "FlowPolicy": FlowPolicy,
}

#: The value of `next` in an inserted node that continues where the insertion point led.
CONTINUE = "$continue"
