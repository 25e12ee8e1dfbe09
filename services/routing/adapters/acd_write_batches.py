"""Changes to one record made by one write: concurrent callers of a key share its next write.

An agent's ledger is written by every offer, accept, complete and heartbeat of that agent; a
routing pass offering several contacts to one agent and the agent answering them at once would
each read, change and compare-and-set the same key, losing the race to each other and trying
again. Here a change that arrives while a write of its key is in flight waits for that write and
then goes with every other change that arrived meanwhile, applied in arrival order in ONE
revision-checked write (a group commit). Each change still sees the record exactly as the
changes before it left it, so the outcome is that of the changes made one after the other; one
that refuses (raises) is left out and its caller gets its error, the others are written.

A key with no write in flight is written at once: nothing waits to gather a batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")

#: One change of a record: the record before it -> the record after it (raises to refuse).
Change = Callable[[T], T]


@dataclass
class Pending(Generic[T]):
    """A change waiting for its write, and what its caller awaits."""

    change: Change[T]
    #: What announces the change, given the record before and after it (see `acd_store`).
    announce: Callable[[T | None, T], Sequence[Any]] | None = None
    #: (record before, record after) once applied, or the change's own refusal.
    outcome: tuple[T, T] | BaseException | None = None
    done: asyncio.Future[T] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class AllRefused(Exception):
    """Every change of a batch refused: nothing is written."""


#: Writes a batch: called with a function applying every pending change to the stored record
#: (it records each change's outcome), as a store's revision-checked update calls its change.
WriteBatch = Callable[[Sequence[Pending[T]], Callable[[T], T]], Awaitable[object]]


class WriteBatches(Generic[T]):
    """Per key: at most one write in flight; the changes arriving meanwhile share the next one."""

    def __init__(self) -> None:
        self._gathering: dict[str, list[Pending[T]]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def change(
        self,
        key: str,
        change: Change[T],
        write: WriteBatch[T],
        announce: Callable[[T | None, T], Sequence[Any]] | None = None,
    ) -> T:
        """Apply `change` to the record at `key` with the next write; the record after it."""
        pending = Pending(change, announce)
        batch = self._gathering.setdefault(key, [])
        batch.append(pending)
        if len(batch) == 1:
            # The first change of a batch writes it, in a task of its own: a caller cancelled
            # while waiting must not strand the changes that joined its batch.
            task = asyncio.create_task(self._write(key, batch, write))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await pending.done

    async def _write(self, key: str, batch: list[Pending[T]], write: WriteBatch[T]) -> None:
        lock = self._locks.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                # The batch closes: changes arriving from now on gather for the next write.
                if self._gathering.get(key) is batch:
                    del self._gathering[key]
                await write(batch, lambda record: apply_all(batch, record))
        except AllRefused:
            pass  # each change's own refusal is its outcome
        except Exception as error:
            for pending in batch:
                if not pending.done.done():
                    pending.done.set_exception(error)
            return
        except BaseException:
            for pending in batch:
                pending.done.cancel()
            raise
        for pending in batch:
            if pending.done.done():
                continue
            outcome = pending.outcome
            if isinstance(outcome, tuple):
                pending.done.set_result(outcome[1])
            else:
                pending.done.set_exception(outcome or RuntimeError("a batched change was never applied"))


def apply_all(batch: Sequence[Pending[T]], record: T) -> T:
    """Every change of `batch` in order, each on what the ones before it left; refusals are left
    out (recorded as their outcome). Raises `AllRefused` when none applies: nothing to write."""
    applied = False
    for pending in batch:
        try:
            after = pending.change(record)
        except Exception as refusal:
            pending.outcome = refusal
            continue
        pending.outcome = (record, after)
        record = after
        applied = True
    if not applied:
        raise AllRefused
    return record
