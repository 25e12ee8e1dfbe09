"""Re-run the tenant's AI pipeline over a period's finished contacts, resumably.

Each call works on the job for at most a slice of contacts and returns its progress; the caller
calls again until the job is done. Every finished contact moves the checkpoint before the next
result can be lost, so a job killed anywhere resumes with the first contact not yet done. A
contact whose result was published but not yet checkpointed is processed again after a kill; its
result carries the same stable event id, so the stream and the analytics store keep it once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ai.domain.batch import BatchJob, Checkpoint, Reanalysis, Turn
from ai.service_layer.batch_ports import (
    AnalysisPermission,
    BatchCheckpoints,
    BatchContacts,
    ContactTurns,
    ReanalysisSink,
)
from ai.service_layer.batch_throttle import Throttle

#: Contacts listed per page (the analytics store allows at most 10,000).
PAGE_SIZE = 500
#: Contacts counted per page when a job starts (its total, for the progress bar).
COUNT_PAGE_SIZE = 10_000

AnalyseContact = Callable[[BatchJob, str, list[Turn]], Awaitable[Reanalysis]]


@dataclass(frozen=True)
class BatchProgress:
    job_id: str
    processed: int
    total: int
    processed_now: int
    done: bool
    without_messages: int
    refused: int = 0


class ContactReanalysis:
    def __init__(
        self,
        turns: ContactTurns,
        checkpoints: BatchCheckpoints,
        sink: ReanalysisSink,
        analyse: AnalyseContact,
        throttle: Throttle,
        *,
        permission: AnalysisPermission | None = None,
        page_size: int = PAGE_SIZE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._permission = permission
        self._clock = clock
        self._turns = turns
        self._checkpoints = checkpoints
        self._sink = sink
        self._analyse = analyse
        self._throttle = throttle
        self._page_size = page_size
        # One call per job at a time in this process: two would checkpoint over each other. A
        # call that finds its job running (a client killed mid-slice left it going) waits for it.
        self._running: dict[tuple[str, str], asyncio.Lock] = {}

    async def run(
        self, job: BatchJob, max_contacts: int, contacts: BatchContacts, budget_seconds: float | None = None
    ) -> BatchProgress:
        """Process up to `max_contacts` more contacts of `job`, listed by `contacts` (which lists
        them on behalf of the job's caller), starting none after `budget_seconds`: a call ends in
        its deadline with what it did rather than cancelled halfway through a contact."""
        key = (job.tenant_id, job.job_id)
        lock = self._running.setdefault(key, asyncio.Lock())
        stop_at = None if budget_seconds is None else self._clock() + budget_seconds
        try:
            async with lock:
                return await self._run(job, max_contacts, contacts, stop_at)
        finally:
            if not lock.locked() and self._running.get(key) is lock:
                del self._running[key]

    def _out_of_time(self, stop_at: float | None) -> bool:
        return stop_at is not None and self._clock() >= stop_at

    async def _run(
        self, job: BatchJob, max_contacts: int, contacts: BatchContacts, stop_at: float | None
    ) -> BatchProgress:
        checkpoint = await self._checkpoints.load(job.tenant_id, job.job_id)
        if checkpoint is None:
            checkpoint = Checkpoint(total=await self._count(job, contacts))
            await self._checkpoints.save(job.tenant_id, job.job_id, checkpoint)
        now = 0
        while not checkpoint.finished and now < max_contacts and not self._out_of_time(stop_at):
            ids, following = await contacts.page(
                job.tenant_id, job.start, job.end, job.time_zone, checkpoint.cursor, self._page_size
            )
            done = set(checkpoint.done_in_page)
            todo = [c for c in ids if c not in done][: max_contacts - now]
            now += await self._process(job, checkpoint, todo, stop_at)
            if set(ids) <= set(checkpoint.done_in_page):
                checkpoint.cursor, checkpoint.done_in_page = following, []
                checkpoint.finished = not following
                await self._checkpoints.save(job.tenant_id, job.job_id, checkpoint)
        return BatchProgress(
            job.job_id,
            checkpoint.processed,
            max(checkpoint.total, checkpoint.processed),
            now,
            checkpoint.finished,
            checkpoint.without_messages,
            checkpoint.refused,
        )

    async def _count(self, job: BatchJob, contacts: BatchContacts) -> int:
        total, token = 0, ""
        while True:
            ids, token = await contacts.page(
                job.tenant_id, job.start, job.end, job.time_zone, token, COUNT_PAGE_SIZE
            )
            total += len(ids)
            if not token:
                return total

    async def _allowed(self, job: BatchJob, contact_id: str, turns: list[Turn]) -> bool:
        customer = next((t for t in turns if t.speaker == "customer"), None)
        if self._permission is None or customer is None:
            return True  # no customer message: nothing of theirs is analysed
        return await self._permission.permits(
            job.tenant_id, customer.brand_id, customer.customer_id, contact_id
        )

    async def _process(
        self, job: BatchJob, checkpoint: Checkpoint, contact_ids: list[str], stop_at: float | None
    ) -> int:
        saving = asyncio.Lock()
        failed = False
        processed = 0

        async def one(contact_id: str) -> None:
            nonlocal failed, processed
            async with self._throttle.slot():
                if failed or self._out_of_time(stop_at):
                    return
                try:
                    turns = await self._turns.turns(job.tenant_id, contact_id)
                    allowed = await self._allowed(job, contact_id, turns)
                    result = await self._analyse(job, contact_id, turns if allowed else [])
                    if failed:
                        return  # a sibling failed meanwhile: publish nothing the checkpoint misses
                    if allowed:
                        await self._sink.publish([result])
                except BaseException:
                    failed = True
                    raise
                async with saving:
                    checkpoint.done_in_page.append(contact_id)
                    checkpoint.processed += 1
                    checkpoint.without_messages += allowed and result.messages == 0
                    checkpoint.refused += not allowed
                    processed += 1
                    try:
                        await self._checkpoints.save(job.tenant_id, job.job_id, checkpoint)
                    except BaseException:
                        failed = True
                        raise

        tasks = [asyncio.create_task(one(c)) for c in contact_ids]
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            # One failed (or the call was cancelled): the others stop too, so nothing runs on
            # after the call returned, past a checkpoint the next call already read.
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        return processed
