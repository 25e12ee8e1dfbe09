"""A durable consumer whose stream or consumer is electing a leader: the server refuses each fetch
at once; the consumer keeps asking (saying so in one warning line per outage, not one per try)
and goes on with the messages once a fetch works again."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from nats.js.errors import ServiceUnavailableError

from ccmesh.events import ConsumerSettings, DurableConsumer


class ElectingFeed:
    """Refuses `refusals` takes (no leader), then hands over `messages` and stops the consumer."""

    def __init__(self, consumer: DurableConsumer[Any], refusals: int, messages: list[Any]) -> None:
        self.consumer = consumer
        self.refusals = refusals
        self.messages = messages
        self.fetches = 0

    async def take(self, most: int, wait: float) -> list[Any]:
        self.fetches += 1
        if self.fetches <= self.refusals:
            raise ServiceUnavailableError(code=503, description="No Responders")
        self.consumer._stopping.set()
        return self.messages


async def handled(batch: Any) -> list[None]:
    return [None] * len(batch)


async def test_fetches_refused_during_an_election_are_retried_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    consumer: DurableConsumer[Any] = DurableConsumer(
        None,  # type: ignore[arg-type]  # never reached: the feed is the fake's
        "eu",
        ConsumerSettings(durable="routing-acd-queued", filter_subject="ccevt.eu.*.contact_queued.*"),
        batch_handler=handled,
    )
    feed = ElectingFeed(consumer, refusals=5, messages=[])
    consumer._feed = feed  # type: ignore[assignment]  # the takes are all it uses
    with caplog.at_level(logging.INFO, logger="ccmesh.events"):
        await asyncio.wait_for(consumer._run(), 30)
    assert feed.fetches == 6
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "routing-acd-queued" in warnings[0].getMessage()
    assert any("works again after 5 failures" in r.getMessage() for r in caplog.records)
