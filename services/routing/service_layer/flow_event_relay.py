"""Flow events for steps that wait inside another routing instance's call.

A step that waits a short while at an integration node (within its caller's deadline) waits in
the memory of the instance running it. The external system's SendFlowEvent reaches the region's
actions consumer, which any instance may run: the instance that takes the event offers it to the
others, and the one whose step waits for it takes it there. Without that, an event landing on
another replica would find the journey not yet stored at the node, and the customer's step would
time out although the system answered.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

#: Takes an event (name, data) for a waiting step: the node id it went to, "" when not taken.
Take = Callable[[str, Mapping[str, str]], str]


class FlowEventRelay(Protocol):
    async def listen(self, tenant: str, contact_id: str, take: Take) -> Callable[[], Awaitable[None]]:
        """While a step of this instance waits for the contact, events other instances offer
        reach `take`. Returns what stops listening."""
        ...

    async def offer(self, tenant: str, contact_id: str, event_name: str, data: Mapping[str, str]) -> str:
        """Hand the event to a step of another instance waiting for it: the node id it went to,
        "" when no step takes it."""
        ...
