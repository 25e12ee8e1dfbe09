"""Intent training in a worker process: bounded threads, bounded memory, progress as it goes.

Training a large set is minutes of CPU and hundreds of MiB: inside the service process it
would compete with live inference for the interpreter and keep its peak memory for good. So
each training of `IN_PROCESS_BELOW` examples or more runs in a fresh process (spawned, so it
shares no locks or threads with the service) that:

- limits BLAS/OpenMP to `threads` threads;
- caps its address space at what it holds after start-up plus `memory_mb` (a set that needs
  more fails with a clear error instead of pushing the node into swap or the OOM killer);
- sends progress messages, then the trained model (without the sentence encoder, which it
  loads itself with the service's loader) and its peak resident memory;
- ends, which returns all of its memory to the system.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import pickle
import resource
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from threadpoolctl import threadpool_limits

from ai.domain.component import SentenceEncoder
from ai.domain.intent import DetachedModel, TrainingError, TrainingReport
from ai.domain.intent_calibration import ValidationReport, train_calibrated

MIB = 1024 * 1024
#: Sets smaller than this train on a thread of the service (the process-wide BLAS bound
#: applies): a few hundred examples take well under a second, less than starting a process.
IN_PROCESS_BELOW = 2000
EncoderLoader = Callable[[], SentenceEncoder]
ProgressSink = Callable[[str, int, int], Awaitable[None]]


@dataclass(frozen=True)
class TrainingJob:
    examples: dict[str, list[str]]
    #: None: choose it by validation for `target_recall`.
    threshold: float | None
    target_recall: float


@dataclass(frozen=True)
class TrainingOutcome:
    model: DetachedModel
    report: TrainingReport
    validation: ValidationReport
    peak_memory_bytes: int
    seconds: float


class TrainingFailed(RuntimeError):
    """The worker could not train (out of its memory budget, or it died); the message says why."""


def _address_space() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[0]) * resource.getpagesize()


def _run(
    out: Connection, job: TrainingJob, loader: EncoderLoader | None, threads: int, memory_mb: int
) -> None:
    started = time.perf_counter()
    threadpool_limits(limits=threads)
    try:
        encoder = loader() if loader is not None else None
        # Again: the encoder brings its own OpenMP runtime, which the first call did not see.
        threadpool_limits(limits=threads)
        if memory_mb > 0:
            limit = _address_space() + memory_mb * MIB
            resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))

        def progress(stage: str, done: int, total: int) -> None:
            out.send(("progress", stage, done, total))

        model, report, validation = train_calibrated(
            job.examples,
            encoder=encoder,
            target_recall=job.target_recall,
            threshold=job.threshold,
            progress=progress,
        )
        detached = model.detached()
        del model
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        outcome = TrainingOutcome(detached, report, validation, peak, time.perf_counter() - started)
        out.send(("done", pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)))
    except TrainingError as error:
        out.send(("refused", str(error)))
    except MemoryError:
        out.send(("failed", f"training needs more than its memory budget of {memory_mb} MiB"))
    except Exception as error:  # the service must learn why, not just that the pipe closed
        out.send(("failed", f"{type(error).__name__}: {error}"))
    finally:
        out.close()


def _train_here(
    job: TrainingJob, loader: EncoderLoader | None, progress: Callable[[str, int, int], None]
) -> TrainingOutcome:
    started = time.perf_counter()
    encoder = loader() if loader is not None else None
    model, report, validation = train_calibrated(
        job.examples,
        encoder=encoder,
        target_recall=job.target_recall,
        threshold=job.threshold,
        progress=progress,
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return TrainingOutcome(model.detached(), report, validation, peak, time.perf_counter() - started)


class TrainingWorker:
    def __init__(
        self, encoder_loader: EncoderLoader | None, *, threads: int = 1, memory_mb: int = 2048
    ) -> None:
        self._loader = encoder_loader
        self._threads = threads
        self._memory_mb = memory_mb
        self._context = multiprocessing.get_context("spawn")

    async def train(self, job: TrainingJob, progress: ProgressSink) -> TrainingOutcome:
        """Train `job` (in a new process unless it is small); `TrainingError` for a set that
        cannot train, `TrainingFailed` when the worker ran out of memory or died."""
        if sum(len(texts) for texts in job.examples.values()) < IN_PROCESS_BELOW:
            return await self._train_here(job, progress)
        return await self._train_in_process(job, progress)

    async def _train_here(self, job: TrainingJob, progress: ProgressSink) -> TrainingOutcome:
        loop = asyncio.get_running_loop()

        async def forward(stage: str, done: int, total: int) -> None:
            await progress(stage, done, total)

        def report(stage: str, done: int, total: int) -> None:
            asyncio.run_coroutine_threadsafe(forward(stage, done, total), loop)

        return await asyncio.to_thread(_train_here, job, self._loader, report)

    async def _train_in_process(self, job: TrainingJob, progress: ProgressSink) -> TrainingOutcome:
        receive, send = self._context.Pipe(duplex=False)
        process: Any = self._context.Process(
            target=_run,
            args=(send, job, self._loader, self._threads, self._memory_mb),
            name="ai-intent-training",
            daemon=True,
        )
        process.start()
        send.close()
        try:
            while True:
                try:
                    message = await asyncio.to_thread(receive.recv)
                except EOFError:
                    await asyncio.to_thread(process.join)
                    raise TrainingFailed(
                        f"the training process ended without a result (exit code {process.exitcode})"
                    ) from None
                kind = message[0]
                if kind == "progress":
                    await progress(message[1], message[2], message[3])
                elif kind == "done":
                    outcome: TrainingOutcome = pickle.loads(message[1])  # noqa: S301 - our own child's bytes
                    return outcome
                elif kind == "refused":
                    raise TrainingError(message[1])
                else:
                    raise TrainingFailed(message[1])
        finally:
            # Killing the worker (a cancelled call, a stopping service) also ends a pending recv.
            if process.is_alive():
                process.kill()
            with contextlib.suppress(Exception):
                await asyncio.to_thread(process.join, 5)
            receive.close()
