"""End-to-end fixtures: the platform started as `ccctl up` starts it (see harness.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from ccsandbox.client import SandboxClient
from tests.e2e.harness import RunningRegion, running_region


@pytest.fixture(scope="module")
def e2e_region(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegion]:
    """The example region (eu) as `make run` brings it up, shared by one module's tests."""
    with running_region(tmp_path_factory.mktemp("platform")) as region:
        yield region


@pytest.fixture
async def sandbox(e2e_region: RunningRegion) -> AsyncIterator[SandboxClient]:
    """The provider sandbox `ccctl up` started, with no faults left from an earlier test."""
    assert e2e_region.platform.sandbox is not None, "ccctl up starts the provider sandbox"
    async with SandboxClient(e2e_region.platform.sandbox.url) as client:
        await client.clear_faults()
        yield client
