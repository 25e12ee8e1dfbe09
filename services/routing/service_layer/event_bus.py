"""The ACD's one event sink: every domain event goes to each subscriber, in subscription order.

Bootstrap subscribes the metrics (which count outcomes) and the publisher (which puts the event
on the region's stream); the use cases know neither.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from routing.domain.events import RoutingEvent

Subscriber = Callable[[RoutingEvent], Awaitable[None] | None]


class EventBus:
    def __init__(self, *subscribers: Subscriber) -> None:
        self._subscribers: list[Subscriber] = list(subscribers)

    def subscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.append(subscriber)

    async def __call__(self, event: RoutingEvent) -> None:
        for subscriber in self._subscribers:
            result = subscriber(event)
            if result is not None:
                await result
