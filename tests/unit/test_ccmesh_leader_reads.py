"""A leader-only read asked again while unanswered: an ask dropped by a stream electing its leader
is followed by another that the new leader answers, and a slow first ask still counts."""

from __future__ import annotations

import asyncio

import pytest

from ccmesh import kv


class Asks:
    """Each ask waits for its own future; the test answers them (or never does: dropped)."""

    def __init__(self) -> None:
        self.pending: list[asyncio.Future[str]] = []
        self.asked = asyncio.Event()

    async def __call__(self) -> str:
        answer: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.pending.append(answer)
        self.asked.set()
        return await answer

    async def until_asked(self, times: int) -> None:
        while len(self.pending) < times:
            self.asked.clear()
            await self.asked.wait()


@pytest.fixture(autouse=True)
def ask_again_soon(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kv, "_LEADER_READ_AGAIN_SECONDS", 0.01)


async def test_an_ask_dropped_during_the_election_is_followed_by_one_the_new_leader_answers() -> None:
    asks = Asks()
    reading = asyncio.ensure_future(kv._first_answer(asks))
    await asks.until_asked(3)  # the first two were dropped: nothing answers them
    asks.pending[2].set_result("value")
    assert await reading == "value"
    assert all(ask.cancelled() for ask in asks.pending[:2])


async def test_a_slow_first_ask_still_answers_and_its_failure_is_reported() -> None:
    asks = Asks()
    reading = asyncio.ensure_future(kv._first_answer(asks))
    await asks.until_asked(2)
    asks.pending[0].set_result("slow")
    assert await reading == "slow"

    failing = Asks()
    reading = asyncio.ensure_future(kv._first_answer(failing))
    await failing.until_asked(1)
    failing.pending[0].set_exception(KeyError("gone"))
    with pytest.raises(KeyError):
        await reading
