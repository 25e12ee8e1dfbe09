"""An in-memory publisher port: keeps the domain events a use case announced, in order."""

from __future__ import annotations

from typing import Generic, TypeVar

E = TypeVar("E")


class FakePublisher(Generic[E]):
    def __init__(self) -> None:
        self.published: list[E] = []

    async def publish(self, event: E) -> None:
        self.published.append(event)
