"""Where a journey waits at an integration node, and when that wait times out.

A journey stored waiting at an integration node holds its deadline (`Journey.wait_until`); the
region keeps an index of such deadlines, and every routing instance a heap of them ordered by
due time (`DeadlineHeap`): a tick looks at the deadlines due, not at every journey stored.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from ccflow.journey import Journey


@dataclass(frozen=True)
class WaitPoint:
    """Where a journey waits: its node and how many nodes it had passed when it got there."""

    node: str
    step: int

    @classmethod
    def of(cls, journey: Journey) -> WaitPoint:
        return cls(journey.node, len(journey.path))

    def holds_for(self, journey: Journey) -> bool:
        """Whether `journey` still waits at an integration node here (not answered, not moved on)."""
        return (
            journey.status == "waiting"
            and journey.waiting_for == "integration"
            and WaitPoint.of(journey) == self
        )


@dataclass(frozen=True, order=True)
class WaitDeadline:
    due_at: float
    tenant: str
    journey_id: str
    node: str
    step: int

    @property
    def key(self) -> tuple[str, str]:
        return self.tenant, self.journey_id

    @property
    def point(self) -> WaitPoint:
        return WaitPoint(self.node, self.step)

    def to_dict(self) -> dict[str, str | float | int]:
        return {
            "due_at": self.due_at,
            "tenant": self.tenant,
            "journey_id": self.journey_id,
            "node": self.node,
            "step": self.step,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, object]) -> WaitDeadline:
        return cls(
            float(raw["due_at"]),  # type: ignore[arg-type]
            str(raw["tenant"]),
            str(raw["journey_id"]),
            str(raw["node"]),
            int(raw["step"]),  # type: ignore[call-overload]
        )


def deadline_of(tenant: str, journey: Journey) -> WaitDeadline | None:
    """The deadline the stored journey holds, if it waits with one."""
    if not journey.wait_until or not WaitPoint.of(journey).holds_for(journey):
        return None
    return WaitDeadline(journey.wait_until, tenant, journey.journey_id, journey.node, len(journey.path))


class DeadlineHeap:
    """Pending deadlines by due time; a re-armed or disarmed journey's old entry is skipped."""

    def __init__(self) -> None:
        self._heap: list[WaitDeadline] = []
        self._pending: dict[tuple[str, str], WaitDeadline] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def arm(self, deadline: WaitDeadline) -> None:
        if self._pending.get(deadline.key) == deadline:
            return
        self._pending[deadline.key] = deadline
        heapq.heappush(self._heap, deadline)
        if len(self._heap) > 2 * len(self._pending) + 64:
            # Entries left behind by re-armed journeys; rebuilt only when they dominate.
            self._heap = list(self._pending.values())
            heapq.heapify(self._heap)

    def disarm(self, tenant: str, journey_id: str) -> None:
        self._pending.pop((tenant, journey_id), None)

    def drop(self, deadline: WaitDeadline) -> None:
        """Disarm the journey if it still waits at the deadline's wait point."""
        current = self._pending.get(deadline.key)
        if current is not None and current.point == deadline.point:
            del self._pending[deadline.key]

    def next_due(self) -> float | None:
        while self._heap and self._pending.get(self._heap[0].key) != self._heap[0]:
            heapq.heappop(self._heap)
        return self._heap[0].due_at if self._heap else None

    def pop_due(self, now: float) -> list[WaitDeadline]:
        """The deadlines due at `now`, taken out of the heap."""
        due: list[WaitDeadline] = []
        while (first := self.next_due()) is not None and first <= now:
            deadline = heapq.heappop(self._heap)
            del self._pending[deadline.key]
            due.append(deadline)
        return due
