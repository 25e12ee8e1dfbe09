"""How a journey ended, as the analytics store keeps it: the nodes it visited and its outcome.

The journey's own record says how it ended (`Journey.outcome`: a queue, an end node, a transfer
to another flow, an error); this names that in the few outcomes reports count by. An end node's
outcome name counts as itself when it is one of them (a flow may end a customer who left with
`outcome: abandoned`), and as `completed` otherwise (the name is kept as the detail).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

HANDED_OFF = "handed_off"
COMPLETED = "completed"
FAILED = "failed"
ABANDONED = "abandoned"
TIMED_OUT = "timed_out"
OUTCOMES = (HANDED_OFF, COMPLETED, FAILED, ABANDONED, TIMED_OUT)
#: End node outcome names read as one of the outcomes (besides the outcomes' own names).
_END_NAMES = {"abandon": ABANDONED, "timeout": TIMED_OUT, "error": FAILED}
#: Nodes of a path kept in the event; a longer path (a loop) keeps its first ones, flagged.
MAX_PATH = 64


@dataclass(frozen=True)
class JourneyEnd:
    path: tuple[str, ...]
    truncated: bool
    end_node: str
    outcome: str
    queue: str
    detail: str
    duration_seconds: float


def journey_end(
    path: list[str], node: str, outcome: dict[str, Any], started_at: float, ended_at: float
) -> JourneyEnd:
    """The end of a journey that visited `path` and stopped at `node` with `outcome` (its record's)."""
    kind = outcome.get("kind", "")
    queue = ""
    if kind == "queue":
        name, queue, detail = HANDED_OFF, str(outcome.get("queue", "")), ""
    elif kind == "end":
        detail = str(outcome.get("outcome", "")) or COMPLETED
        name = detail if detail in OUTCOMES else _END_NAMES.get(detail, COMPLETED)
    elif kind == "flow":
        # Still a transfer when the journey ended: the flow could not be followed.
        name, detail = FAILED, f"transfer to flow {outcome.get('flow', '')!r} not followed"
    else:
        name, detail = FAILED, str(outcome.get("reason", "")) or "error"
    return JourneyEnd(
        path=tuple(path[:MAX_PATH]),
        truncated=len(path) > MAX_PATH,
        end_node=node,
        outcome=name,
        queue=queue,
        detail=detail,
        duration_seconds=max(0.0, ended_at - started_at) if started_at > 0 else 0.0,
    )
