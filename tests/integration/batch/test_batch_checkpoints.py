"""Batch jobs' checkpoints in the ai bucket on a real nats-server: a job's progress survives a new
process, and two processes moving one job on at once cannot both save: the second stops."""

from __future__ import annotations

import pytest
from nats.aio.client import Client as NATS

from ai.adapters.batch_store import KvCheckpoints
from ai.domain.batch import Checkpoint, JobRunningElsewhereError

REGION = "eu"


async def test_checkpoints_survive_a_new_process_and_refuse_a_second_writer(nc: NATS) -> None:
    js = nc.jetstream()
    first = await KvCheckpoints.open(js, REGION, [])
    assert await first.load("acme", "job-1") is None
    await first.save("acme", "job-1", Checkpoint(total=7))
    await first.save("acme", "job-1", Checkpoint(total=7, cursor="p1", done_in_page=["c1"], processed=3))

    second = await KvCheckpoints.open(js, REGION, [])  # another process, after a kill
    loaded = await second.load("acme", "job-1")
    assert loaded == Checkpoint(total=7, cursor="p1", done_in_page=["c1"], processed=3)
    loaded.processed = 4
    await second.save("acme", "job-1", loaded)
    # The first process did not see that save: its next one would overwrite the job's progress.
    with pytest.raises(JobRunningElsewhereError, match="job-1"):
        await first.save("acme", "job-1", Checkpoint(total=7, processed=4))
    assert (await first.load("acme", "job-1")) == loaded  # reading again: it may go on from there

    racing = await KvCheckpoints.open(js, REGION, [])
    assert await racing.load("acme", "job-2") is None
    await first.load("acme", "job-2")
    await first.save("acme", "job-2", Checkpoint(total=1))
    with pytest.raises(JobRunningElsewhereError):
        await racing.save("acme", "job-2", Checkpoint(total=1))  # both started it: one wins
