"""Creating streams and buckets on a cluster still starting: transient failures are retried with
back-off, others are reported at once, and a cluster that never answers is reported in the end."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import nats.errors
import pytest
from nats.js.errors import APIError, ServiceUnavailableError

from ccmesh.creation import retry_creation

#: nats-server's "stream name already in use with a different configuration".
NAME_IN_USE = 10058
#: nats-server's "no suitable peers for placement".
NO_SUITABLE_PEERS = 10005


def failing_then_done(*failures: BaseException) -> tuple[list[int], Callable[[], Awaitable[str]]]:
    calls: list[int] = []
    pending = list(failures)

    async def operation() -> str:
        calls.append(1)
        if pending:
            raise pending.pop(0)
        return "created"

    return calls, operation


async def test_a_race_and_a_cluster_without_leader_are_tried_again() -> None:
    calls, operation = failing_then_done(
        APIError(code=400, err_code=NAME_IN_USE, description="stream name already in use"),
        ServiceUnavailableError(code=503, err_code=10008, description="JetStream temporarily unavailable"),
        nats.errors.TimeoutError(),
        nats.errors.NoRespondersError(),
    )
    assert await retry_creation("stream 'events-eu'", operation) == "created"
    assert len(calls) == 5


async def test_a_placement_no_server_can_take_is_reported_at_once() -> None:
    calls, operation = failing_then_done(
        APIError(code=400, err_code=NO_SUITABLE_PEERS, description="no suitable peers for placement")
    )
    with pytest.raises(APIError) as failure:
        await retry_creation("bucket 'data-eu'", operation)
    assert failure.value.err_code == NO_SUITABLE_PEERS
    assert len(calls) == 1


async def test_a_placement_refused_only_for_a_server_offline_is_tried_again() -> None:
    # A server restarting (or rejoining, not yet seen by the others) comes back: the placement
    # then fits.
    calls, operation = failing_then_done(
        APIError(
            code=400, err_code=NO_SUITABLE_PEERS, description="no suitable peers for placement, peer offline"
        )
    )
    assert await retry_creation("bucket 'data-eu'", operation) == "created"
    assert len(calls) == 2


async def test_a_placement_refused_for_tags_as_well_as_a_server_offline_is_reported_at_once() -> None:
    description = "no suitable peers for placement, peer offline, tags not matched ['region:xx']"
    calls, operation = failing_then_done(
        APIError(code=400, err_code=NO_SUITABLE_PEERS, description=description)
    )
    with pytest.raises(APIError) as failure:
        await retry_creation("bucket 'data-xx'", operation)
    assert failure.value.description == description
    assert len(calls) == 1


async def test_a_cluster_that_never_answers_is_reported_when_the_budget_is_spent() -> None:
    calls: list[int] = []

    async def never() -> None:
        calls.append(1)
        raise nats.errors.TimeoutError

    with pytest.raises(nats.errors.TimeoutError):
        await retry_creation("stream 'events-eu'", never, budget_seconds=0.3)
    assert len(calls) >= 2
