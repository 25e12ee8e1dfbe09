"""End-to-end fixtures: the platform started as `ccctl up` starts it (see harness.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.harness import RunningRegion, running_region


@pytest.fixture(scope="module")
def e2e_region(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegion]:
    """The example region (eu) as `make run` brings it up, shared by one module's tests."""
    with running_region(tmp_path_factory.mktemp("platform")) as region:
        yield region
