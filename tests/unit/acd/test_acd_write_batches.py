"""Changes of one record that meet while its write is in flight share the next write: each
applied on what the ones before it left (as if made one after the other), a refusal left out
with its own error, and never more holds on an agent than its capacity."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ccmesh.channels import Channel
from routing.adapters.acd_write_batches import Change, Pending, WriteBatches
from routing.domain import reservations as ledger_rules
from routing.domain.agents import AgentProfile, AgentState
from routing.domain.reservations import AgentLedger, Held, ReservationError, ReservationState


class SlowStore:
    """One record whose every write takes a moment, counting the writes."""

    def __init__(self, value: object) -> None:
        self.value = value
        self.writes = 0

    async def write(self, batch: Sequence[Pending[object]], apply: Change[object]) -> None:
        new = apply(self.value)
        await asyncio.sleep(0.001)  # a write in flight: later changes gather meanwhile
        self.value = new
        self.writes += 1


def append(item: str) -> Callable[[object], object]:
    return lambda value: (*value, item)  # type: ignore[misc]


async def test_changes_arriving_during_a_write_share_the_next_one() -> None:
    store = SlowStore(())
    batches: WriteBatches[object] = WriteBatches()
    first = asyncio.create_task(batches.change("k", append("0"), store.write))
    await asyncio.sleep(0)  # its write is in flight now
    results = await asyncio.gather(*(batches.change("k", append(str(n)), store.write) for n in range(1, 10)))
    assert await first == ("0",)
    assert store.value == tuple(str(n) for n in range(10))
    # The first change was written alone; the nine that came while it was in flight, together.
    assert store.writes == 2
    # Each caller gets the record as its own change left it.
    assert results[2] == ("0", "1", "2", "3")


async def test_changes_made_together_are_one_write() -> None:
    store = SlowStore(())
    batches: WriteBatches[object] = WriteBatches()
    await asyncio.gather(*(batches.change("k", append(str(n)), store.write) for n in range(5)))
    assert store.writes == 1


async def test_other_keys_do_not_wait_for_each_other() -> None:
    stores = {key: SlowStore(()) for key in ("a", "b")}
    batches: WriteBatches[object] = WriteBatches()
    await asyncio.gather(*(batches.change(key, append(key), stores[key].write) for key in ("a", "b", "a")))
    assert stores["a"].value == ("a", "a") and stores["b"].value == ("b",)


async def test_a_refused_change_gets_its_error_and_the_others_are_written() -> None:
    store = SlowStore(())
    batches: WriteBatches[object] = WriteBatches()

    def refuse(_value: object) -> object:
        raise ValueError("not this one")

    outcomes = await asyncio.gather(
        batches.change("k", append("a"), store.write),
        batches.change("k", append("b"), store.write),
        batches.change("k", refuse, store.write),
        batches.change("k", append("c"), store.write),
        return_exceptions=True,
    )
    assert store.value == ("a", "b", "c")
    assert isinstance(outcomes[2], ValueError)
    assert outcomes[3] == ("a", "b", "c")


async def test_a_batch_of_refusals_writes_nothing() -> None:
    store = SlowStore(("x",))
    batches: WriteBatches[object] = WriteBatches()

    def refuse(_value: object) -> object:
        raise ValueError("no")

    with pytest.raises(ValueError):
        await batches.change("k", refuse, store.write)
    assert store.writes == 0


async def test_a_failed_write_fails_every_change_of_its_batch() -> None:
    batches: WriteBatches[object] = WriteBatches()

    async def broken(batch: Sequence[Pending[object]], apply: Change[object]) -> None:
        await asyncio.sleep(0.001)
        raise ConnectionError("store away")

    outcomes = await asyncio.gather(
        *(batches.change("k", append(str(n)), broken) for n in range(3)), return_exceptions=True
    )
    assert all(isinstance(o, ConnectionError) for o in outcomes)


def _ledger(capacity: int) -> AgentLedger:
    profile = AgentProfile("a1", capacity={Channel.WEBCHAT: capacity})
    return AgentLedger(profile, AgentState.AVAILABLE, (), 0.0, 0.0)


def _reserve(n: int) -> Change[AgentLedger]:
    held = Held(f"r{n}", f"c{n}", Channel.WEBCHAT, ReservationState.OFFERED, 100.0)
    return lambda ledger: ledger_rules.reserve(ledger, held)


def _release(n: int) -> Change[AgentLedger]:
    return lambda ledger: ledger_rules.release(ledger, f"r{n}", 1.0)


@settings(max_examples=60, deadline=None)
@given(
    capacity=st.integers(min_value=1, max_value=5),
    plan=st.lists(st.tuples(st.booleans(), st.integers(min_value=0, max_value=11)), max_size=30),
)
def test_batched_reservations_never_exceed_the_capacity(capacity: int, plan: list[tuple[bool, int]]) -> None:
    """Any mix of reservations and releases, batched as they meet in flight, leaves every written
    ledger within capacity, and each reservation either holds its slot or was refused."""

    async def run() -> None:
        written: list[AgentLedger] = []
        store = SlowStore(_ledger(capacity))

        async def write(batch: Sequence[Pending[AgentLedger]], apply: Change[AgentLedger]) -> None:
            await store.write(batch, apply)  # type: ignore[arg-type]
            written.append(store.value)  # type: ignore[arg-type]

        batches: WriteBatches[AgentLedger] = WriteBatches()
        changes = [_reserve(n) if reserve else _release(n) for reserve, n in plan]
        outcomes = await asyncio.gather(
            *(batches.change("agent", c, write) for c in changes), return_exceptions=True
        )
        for ledger in written:
            assert len(ledger.held) <= capacity
        for (reserve, n), outcome in zip(plan, outcomes, strict=True):
            if reserve and not isinstance(outcome, ReservationError):
                assert isinstance(outcome, AgentLedger)
                assert any(h.reservation_id == f"r{n}" for h in outcome.held)

    asyncio.run(run())
