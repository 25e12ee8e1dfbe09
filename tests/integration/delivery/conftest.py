"""Fixtures of the delivery tests: the eu ContactCenter applied, receivers and the service cleaned up."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from nats.aio.client import Client as NATS

from delivery._harness import InProcessService, Receiver, apply_contact_center, service_config


@pytest.fixture
async def receivers() -> AsyncIterator[list[Receiver]]:
    """Receivers started by a test go in here and are closed after it."""
    started: list[Receiver] = []
    yield started
    for receiver in started:
        await receiver.close()


@pytest.fixture
async def service(nc: NATS, nats_url: str) -> AsyncIterator[InProcessService]:
    """The integration service in local mode, with the eu ContactCenter applied first."""
    await apply_contact_center(nc)
    running = InProcessService(service_config(nats_url))
    await running.wait_ready(nc)
    yield running
    await running.stop()
