"""The inference pool's worker processes: pipelines really run there (with the tenant's current
intent model, stage durations coming back), a killed worker is replaced and its message tried
again, and a message that kills every worker it reaches fails clearly instead of hanging."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import threadpoolctl
from _platform import eventually

from ai.adapters.inference_processes import InferenceWorkerLost, ProcessInferencePool
from ai.adapters.multilingual_encoder import load_multilingual_encoder
from ai.adapters.registry import ComponentRegistry
from ai.domain.component import ComponentContext, Insights
from ai.domain.intent import IntentModel
from ai.domain.pipeline import DEFAULT_STEPS, Pipeline, Step, build_pipeline
from ccmesh import event_loop

pytestmark = pytest.mark.timeout(300)
#: A guard against hanging, not a timing assertion.
GUARD_SECONDS = 120.0


class TenantModels:
    def __init__(self) -> None:
        self.models: dict[str, IntentModel] = {}

    def current(self, tenant_id: str) -> IntentModel | None:
        return self.models.get(tenant_id)


def intent_model(prefix: str) -> IntentModel:
    examples = {
        f"{prefix}_{i}": [f"please help with w{i}a and w{i}b number {n}" for n in range(10)] for i in range(4)
    }
    return IntentModel.train(examples, threshold=-10.0)


def default_pipeline(models: TenantModels) -> Pipeline:
    steps = [Step(name, settings) for name, settings in DEFAULT_STEPS]
    return build_pipeline("default", steps, ComponentRegistry.discover().factories, ComponentContext(models))


def wait_on_first_attempt(marker: str) -> int:
    """Blocks the first time (so the test can kill its worker), returns at once when retried."""
    path = Path(marker)
    if not path.exists():
        path.touch()
        signal.pause()
    return os.getpid()


async def condition(check: Callable[[], bool]) -> bool:
    return check()


@pytest.fixture
async def models() -> TenantModels:
    return TenantModels()


@pytest.fixture
async def pool(models: TenantModels) -> AsyncIterator[ProcessInferencePool]:
    started = ProcessInferencePool(2, encoder_loader=None, intent_models=models)
    await started.start()
    await asyncio.wait_for(started.ready(), GUARD_SECONDS)
    yield started
    await started.stop()


async def test_no_worker_starts_before_the_first_call(models: TenantModels) -> None:
    before = set(multiprocessing.active_children())
    pool = ProcessInferencePool(2, encoder_loader=None, intent_models=models)
    await pool.start()
    try:
        await asyncio.sleep(0.5)  # a worker started by `start` would be spawning by now
        assert pool.pids == [] and set(multiprocessing.active_children()) == before
        assert await pool.run(os.getpid) == os.getpid()  # the first call, here; it starts them
        await asyncio.wait_for(pool.ready(), GUARD_SECONDS)
        assert len(pool.pids) == 2
    finally:
        await pool.stop()


async def test_until_the_first_worker_is_ready_calls_run_in_the_service_process(
    models: TenantModels,
) -> None:
    pool = ProcessInferencePool(1, encoder_loader=None, intent_models=models)
    await pool.start()
    try:
        assert await pool.run(os.getpid) == os.getpid()
        await asyncio.wait_for(pool.ready(), GUARD_SECONDS)
        assert await pool.run(os.getpid) == pool.pids[0] != os.getpid()
    finally:
        await pool.stop()


async def test_the_pipeline_runs_in_a_worker_process_with_the_tenants_current_model(
    pool: ProcessInferencePool, models: TenantModels
) -> None:
    assert len(pool.pids) == 2 and os.getpid() not in pool.pids
    assert await pool.run(os.getpid) in pool.pids
    pipeline = default_pipeline(models)
    models.models["acme"] = intent_model("topic")
    sent = Insights(tenant_id="acme", text="please help with w3a, call me at +44 20 7946 0958")

    first = await pool.analyse(pipeline, sent)
    assert first is not sent and not sent.intent  # a copy came back; the worker filled it in
    assert first.intent == "topic_3" and first.intent_model_version == models.models["acme"].version
    assert set(first.stage_seconds) == {"language", "intent", "sentiment", "pii", "escalation"}
    assert "+44 20 7946 0958" not in first.redacted_text

    # A new model reaches every worker with the tenant's next message (not only the first worker).
    models.models["acme"] = intent_model("subject")
    answers = await asyncio.gather(
        *(pool.analyse(pipeline, Insights(tenant_id="acme", text="help with w1b")) for _ in range(6))
    )
    assert {a.intent for a in answers} == {"subject_1"}
    # A tenant without a model gets the documented degraded answer.
    other = await pool.analyse(pipeline, Insights(tenant_id="globex", text="help with w1b"))
    assert other.intent == "out_of_scope" and other.out_of_scope


async def test_every_thread_pool_of_a_worker_keeps_to_the_bound_models_included(
    models: TenantModels,
) -> None:
    # One worker per core: a BLAS or OpenMP runtime starting a thread per core in each (the
    # encoder's tokenizer brings its own, loaded after the worker set its first bound) would
    # oversubscribe the cores and stretch the tail under concurrent streams.
    pool = ProcessInferencePool(1, encoder_loader=load_multilingual_encoder, intent_models=models)
    await pool.start()
    try:
        await asyncio.wait_for(pool.ready(), GUARD_SECONDS)
        pools = await pool.run(threadpoolctl.threadpool_info)
    finally:
        await pool.stop()
    assert {p["user_api"] for p in pools} >= {"blas", "openmp"}
    assert {(p["filepath"], p["num_threads"]) for p in pools} == {(p["filepath"], 1) for p in pools}


async def test_an_exception_in_the_worker_reaches_the_caller_and_the_worker_stays(
    pool: ProcessInferencePool,
) -> None:
    before = pool.pids
    with pytest.raises(ValueError, match="invalid literal"):
        await pool.run(int, "not a number")
    assert pool.pids == before and pool.replaced == 0


async def test_a_call_whose_caller_left_is_finished_by_its_worker_not_ended_with_it(
    models: TenantModels,
) -> None:
    pool = ProcessInferencePool(1, encoder_loader=None, intent_models=models)
    await pool.start()
    try:
        await asyncio.wait_for(pool.ready(), GUARD_SECONDS)
        (worker,) = pool.pids
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(pool.run(time.sleep, 1.0), 0.1)  # the caller's deadline passes
        # The same worker serves the next call once it has finished the one left (its late
        # answer, None, is not what this call gets), and none was replaced.
        assert await asyncio.wait_for(pool.run(os.getpid), GUARD_SECONDS) == worker
        assert await pool.run(os.getpid) == worker
        assert (pool.pids, pool.replaced) == ([worker], 0)
    finally:
        await pool.stop()


async def test_a_worker_killed_mid_call_is_replaced_and_the_message_retried(
    pool: ProcessInferencePool, tmp_path: Path
) -> None:
    marker = tmp_path / "started"
    call = asyncio.ensure_future(pool.run(wait_on_first_attempt, str(marker)))
    await eventually(lambda: condition(marker.exists), seconds=GUARD_SECONDS)
    first_pids = set(pool.pids)
    # One worker is blocked in the call; the other, idle one answers this.
    idle_pid = await pool.run(os.getpid)
    (victim,) = first_pids - {idle_pid}
    os.kill(victim, signal.SIGKILL)

    answered_by = await asyncio.wait_for(call, GUARD_SECONDS)
    assert answered_by != victim
    await eventually(
        lambda: condition(lambda: pool.replaced == 1 and len(pool.pids) == 2), seconds=GUARD_SECONDS
    )
    assert victim not in pool.pids and len(set(pool.pids) - first_pids) == 1


async def test_a_message_that_kills_every_worker_fails_clearly_and_the_pool_recovers(
    pool: ProcessInferencePool,
) -> None:
    with pytest.raises(InferenceWorkerLost, match=r"died running this message 2 times.*exit code 3"):
        await asyncio.wait_for(pool.run(os._exit, 3), GUARD_SECONDS)
    await eventually(
        lambda: condition(lambda: pool.replaced == 2 and len(pool.pids) == 2), seconds=GUARD_SECONDS
    )
    assert await asyncio.wait_for(pool.run(os.getpid), GUARD_SECONDS) in pool.pids


def reversed_bytes(data: bytes) -> bytes:
    return data[::-1]


def test_on_uvloop_messages_larger_than_a_pipe_buffer_go_both_ways() -> None:
    # libuv leaves a pipe it watched non-blocking: a message beyond the pipe's 64 KiB buffer
    # would fail to send, or arrive half, and its worker would be taken for dead.
    async def main() -> None:
        pool = ProcessInferencePool(1, encoder_loader=None, intent_models=TenantModels())
        await pool.start()
        await asyncio.wait_for(pool.ready(), GUARD_SECONDS)
        try:
            data = os.urandom(4_000_000)
            for _ in range(3):
                assert await asyncio.wait_for(pool.run(reversed_bytes, data), GUARD_SECONDS) == data[::-1]
            assert pool.replaced == 0
        finally:
            await pool.stop()

    event_loop.run(main(), "uvloop")
