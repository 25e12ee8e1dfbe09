"""Is the region's mesh usable and its data where residency says? The `NatsHealthy` condition.

The data plane observes (can it connect, does JetStream answer, where does each stream live); this
module judges, without I/O, so every verdict has a unit test. A stream's placement tags are the
constraint NATS enforces when it picks servers, so a stream whose tags carry `region:<name>` holds
its replicas only on servers with that tag; one without the tag may sit anywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ccmesh import naming

if TYPE_CHECKING:  # only its shape: judging stays free of the NATS client
    from ccoperator.nats_placement import PlacementFound

CONDITION = "NatsHealthy"

HEALTHY = "Healthy"
UNREACHABLE = "Unreachable"
JETSTREAM_DISABLED = "JetStreamDisabled"
PLACEMENT_FAILED = "PlacementFailed"
STREAMS_MISPLACED = "StreamsMisplaced"
STREAMS_UNDER_REPLICATED = "StreamsUnderReplicated"
NOT_MANAGED = "NotManaged"
#: A NATS failure none of the above names (e.g. a request timing out mid-pass).
NATS_ERROR = "NatsError"


@dataclass(frozen=True)
class MeshHealth:
    #: None: not observed, so neither healthy nor not (condition status Unknown).
    healthy: bool | None
    reason: str
    message: str

    def as_condition(self, generation: int) -> dict[str, Any]:
        return {
            "type": CONDITION,
            "status": "Unknown" if self.healthy is None else str(self.healthy),
            "reason": self.reason,
            "message": self.message,
            "observedGeneration": generation,
        }


#: The operator does not manage NATS (CCOP_MANAGE_NATS=false): nothing was observed.
NOT_OBSERVED = MeshHealth(None, NOT_MANAGED, "NATS is not managed by this operator (CCOP_MANAGE_NATS=false)")


class MeshUnhealthyError(Exception):
    """The data plane stopped before placement could be judged: the reason says where."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message

    @property
    def health(self) -> MeshHealth:
        return MeshHealth(False, self.reason, self.message)


@dataclass(frozen=True)
class MeshObserved:
    """What one pass saw of the region's NATS: the `status.nats` stanza and the verdict on it."""

    stanza: dict[str, Any]
    health: MeshHealth


def _misplaced(placement: PlacementFound, tag: str) -> str:
    tags = ", ".join(placement.tags) or "none"
    where = f"cluster {placement.cluster}" if placement.cluster else "no cluster"
    servers = ", ".join(placement.servers) or "no servers"
    return f"{placement.name} (tags: {tags}; {where}: {servers})"


def _short(placement: PlacementFound, replicas: int) -> str:
    current = len(placement.servers) - len(placement.lagging)
    detail = f"{current}/{replicas} current replicas"
    if placement.replicas != replicas:
        detail += f", configured with {placement.replicas}"
    if placement.lagging:
        detail += f", lagging or offline: {', '.join(placement.lagging)}"
    return f"{placement.name} ({detail})"


def judge_placement(region: str, replicas: int, found: Sequence[PlacementFound]) -> MeshHealth:
    """Healthy when every region stream carries the region's tag and has `replicas` current copies."""
    tag = naming.placement_tag(region)
    if not found:
        return MeshHealth(False, PLACEMENT_FAILED, f"no stream or bucket of region {region} was found")
    misplaced = [_misplaced(p, tag) for p in found if tag not in p.tags]
    if misplaced:
        return MeshHealth(
            False,
            STREAMS_MISPLACED,
            f"not placed with tag {tag}: " + "; ".join(misplaced),
        )
    short = [
        _short(p, replicas)
        for p in found
        if p.replicas != replicas or len(p.servers) - len(p.lagging) < replicas
    ]
    if short:
        return MeshHealth(False, STREAMS_UNDER_REPLICATED, f"want {replicas} replicas: " + "; ".join(short))
    return MeshHealth(
        True,
        HEALTHY,
        f"JetStream on; {len(found)} streams and buckets on servers tagged {tag}, {replicas} replicas each",
    )
