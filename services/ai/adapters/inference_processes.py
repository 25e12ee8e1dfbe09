"""Model inference in worker processes, so messages never queue behind each other's interpreter.

Threads cannot run the pipelines in parallel: tokenising, TF-IDF features and the Python
between numpy calls hold the interpreter lock, so under a few concurrent streams messages
wait for each other and the tail latency grows with the load. Each worker here is a spawned
process (it shares no locks or threads with the service) that:

- limits BLAS/OpenMP to `blas_threads` threads (with one worker per core, more would
  oversubscribe the cores);
- loads the sentence encoder and the trained sentiment model once, at start, with the
  service's own loader, and discovers the installed components itself;
- builds each pipeline the first time it is asked to run it (from the pipeline's steps) and
  keeps it;
- receives a tenant's intent model (detached from the encoder, see `DetachedModel`) with the
  first message of that tenant after the model changed, never with every message;
- sends back the filled-in `Insights` (stage durations included), or the function's result.

Workers start in the background (loading the models takes seconds); until the first is ready,
calls run on a thread of the service process. A worker that dies (killed, out of memory) is
replaced; the message it was running is tried
once more on another worker, and if that one dies too the call fails with
`InferenceWorkerLost` instead of waiting for an answer that will never come. A caller that leaves
mid-call (its deadline passed) leaves the worker to finish: its late answer is read and dropped
before the worker serves anyone else. Ending it instead would have it load its models again,
seconds of CPU taken from the messages already late.

Trace context (contextvars) does not cross into the workers: spans of the stages are not
recorded there; the caller's span covers the whole call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import pickle
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any, Protocol, TypeVar

from threadpoolctl import threadpool_limits

from ai.adapters.registry import ComponentRegistry
from ai.adapters.sentiment_weights import load_sentiment_model
from ai.domain.component import ComponentContext, Insights, SentenceEncoder
from ai.domain.intent import DetachedModel, IntentModel
from ai.domain.pipeline import DEFAULT_STEPS, Pipeline, Step, build_pipeline

log = logging.getLogger(__name__)
T = TypeVar("T")
EncoderLoader = Callable[[], SentenceEncoder]
#: Seconds a worker may take to load its models before the pool gives up on it.
START_SECONDS = 120.0
#: Seconds a stopping worker gets to finish before it is killed.
STOP_SECONDS = 5.0
#: Run once through the default pipeline by each new worker before it takes messages.
WARM_UP_TEXTS = ("Hello, I need help with my order.", "Hola, necesito ayuda con mi pedido.")
#: Longest pause between attempts to start a worker that keeps failing to start.
MAX_RESTART_PAUSE_SECONDS = 60.0
#: How many workers may die running one message before its caller is told.
ATTEMPTS = 2
#: How long a worker whose caller left mid-call (a deadline) has to finish that call before it is
#: taken for stuck, ended and replaced.
DRAIN_SECONDS = 30.0


class InferenceWorkerLost(RuntimeError):
    """The worker running a call died, and so did the one it was retried on."""


class InferenceWorkerFailed(RuntimeError):
    """A worker could not start, or raised something that cannot travel back to the service."""


class IntentModelSource(Protocol):
    def current(self, tenant_id: str) -> IntentModel | None: ...


# ---- inside a worker process ------------------------------------------------------------


class _WorkerModels:
    """The tenants' intent models as this worker last received them."""

    def __init__(self, encoder: SentenceEncoder | None) -> None:
        self._encoder = encoder
        self._models: dict[str, IntentModel] = {}

    def current(self, tenant_id: str) -> IntentModel | None:
        return self._models.get(tenant_id)

    def update(self, tenant_id: str, detached: DetachedModel | None) -> None:
        if detached is None:
            self._models.pop(tenant_id, None)
        else:
            self._models[tenant_id] = detached.attach(self._encoder)


def _pipeline_key(name: str, steps: tuple[Step, ...]) -> Hashable:
    return name, tuple((step.component, tuple(sorted(step.settings.items()))) for step in steps)


def _serve(connection: Connection, loader: EncoderLoader | None, blas_threads: int) -> None:
    threadpool_limits(limits=blas_threads)
    try:
        encoder = loader() if loader is not None else None
        models = _WorkerModels(encoder)
        context = ComponentContext(
            intent_models=models, sentence_encoder=encoder, sentiment_model=load_sentiment_model(encoder)
        )
        factories = ComponentRegistry.discover().factories
        # What loads on first use (the language detector's models, the encoder's first call)
        # loads now, not inside the first caller's deadline.
        steps = tuple(Step(name, settings) for name, settings in DEFAULT_STEPS)
        default = build_pipeline("default", steps, factories, context)
        for text in WARM_UP_TEXTS:
            default.run(Insights(tenant_id="", text=text))
        # A limit holds only for the libraries loaded when it is set: the models bring their
        # own OpenMP runtime (sentencepiece's), which would otherwise start a thread per core.
        threadpool_limits(limits=blas_threads)
    except Exception as error:  # the service must learn why the worker could not start
        connection.send(("failed", f"{type(error).__name__}: {error}"))
        return
    pipelines: dict[Hashable, Pipeline] = {_pipeline_key("default", steps): default}
    connection.send(("ready", os.getpid()))
    while True:
        try:
            request = connection.recv()
        except (EOFError, OSError):  # the service closed its end: it is stopping or gone
            return
        if request is None:
            return
        try:
            if request[0] == "pipeline":
                _, name, steps, tenant_id, update, insights, start = request
                if update is not None:
                    models.update(tenant_id, update.detached)
                key = _pipeline_key(name, steps)
                pipeline = pipelines.get(key)
                if pipeline is None:
                    pipeline = pipelines[key] = build_pipeline(name, steps, factories, context)
                answer: Any = pipeline.run(insights, start)
            else:
                _, function, args = request
                answer = function(*args)
            reply: tuple[str, bytes | str] = ("ok", pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL))
        except Exception as error:
            try:
                reply = ("raised", pickle.dumps(error, protocol=pickle.HIGHEST_PROTOCOL))
            except Exception:
                reply = ("failed", f"{type(error).__name__}: {error}")
        try:
            connection.send(reply)
        except OSError:  # the service is gone: nobody is waiting for the answer
            return


@dataclass(frozen=True)
class _ModelUpdate:
    """A tenant's intent model changed (None: it has none any more); sent once per worker."""

    detached: DetachedModel | None


# ---- in the service ---------------------------------------------------------------------


@dataclass(eq=False)
class _Worker:
    process: Any
    connection: Connection
    pid: int = 0
    #: Intent model version per tenant as this worker has it (None: it has none).
    versions: dict[str, str | None] = field(default_factory=dict)


def _settle(readable: asyncio.Future[None]) -> None:
    if not readable.done():
        readable.set_result(None)


async def _receive(connection: Connection) -> Any:
    """The next message on `connection` without blocking the event loop; EOFError when the
    other end is gone (a dead worker's pipe becomes readable at end of file)."""
    loop = asyncio.get_running_loop()
    descriptor = connection.fileno()
    while not connection.poll():
        readable: asyncio.Future[None] = loop.create_future()
        loop.add_reader(descriptor, _settle, readable)
        try:
            await readable
        finally:
            loop.remove_reader(descriptor)
            # uvloop (libuv) leaves a descriptor it watched non-blocking: a message larger than
            # the pipe's buffer would then fail to send, or arrive half, as if the worker died.
            os.set_blocking(descriptor, True)
    return connection.recv()


class ProcessInferencePool:
    def __init__(
        self,
        workers: int,
        *,
        encoder_loader: EncoderLoader | None,
        intent_models: IntentModelSource | None = None,
        blas_threads: int = 1,
    ) -> None:
        self.workers = workers
        self._loader = encoder_loader
        self._intent_models = intent_models
        self._blas_threads = blas_threads
        self._context = multiprocessing.get_context("spawn")
        self._idle: asyncio.Queue[_Worker] = asyncio.Queue()
        self._all: set[_Worker] = set()
        self._starting: set[asyncio.Task[None]] = set()
        #: Workers finishing a call whose caller left, until their answer is read.
        self._draining: set[asyncio.Task[None]] = set()
        self._initial: list[asyncio.Task[None]] = []
        #: Until a worker is ready, calls run on a thread here (never again after that: a
        #: message that kills workers must not reach the service process).
        self._ever_ready = False
        self._stopping = False
        #: Workers started to replace dead ones since the pool started.
        self.replaced = 0
        # The service process itself (knowledge queries, small trainings) keeps the same bound.
        self._limits = threadpool_limits(limits=blas_threads)

    async def start(self) -> None:
        """Workers start in the background with the first call (or `ready`), not here: a
        service that never analyses a message (a region's idle replica, a short test run)
        spends no memory or CPU on them. Loading their models takes seconds (tens on a busy
        node); until the first worker is ready, calls run on a thread of this process, as a
        thread pool would."""

    def _start_workers(self) -> None:
        if not self._initial and not self._stopping:
            self._initial = [self._add_worker(replacement=False) for _ in range(self.workers)]

    async def ready(self) -> None:
        """Start the workers if no call has yet, and wait until each has loaded its models."""
        self._start_workers()
        await asyncio.gather(*self._initial)

    async def _start_worker(self) -> _Worker:
        ours, theirs = self._context.Pipe(duplex=True)
        process: Any = self._context.Process(
            target=_serve,
            args=(theirs, self._loader, self._blas_threads),
            name="ai-inference",
            daemon=True,
        )
        process.start()
        theirs.close()
        worker = _Worker(process, ours)
        try:
            message = await asyncio.wait_for(_receive(ours), START_SECONDS)
        except (EOFError, TimeoutError):
            self._end(worker)
            raise InferenceWorkerFailed(
                f"an inference worker did not start (exit code {process.exitcode})"
            ) from None
        except BaseException:  # the pool stops while this worker starts
            self._end(worker)
            raise
        if message[0] != "ready":
            self._end(worker)
            raise InferenceWorkerFailed(f"an inference worker could not load its models: {message[1]}")
        worker.pid = message[1]
        self._all.add(worker)
        return worker

    @property
    def pids(self) -> list[int]:
        """Process ids of the live workers (busy or idle)."""
        return sorted(w.pid for w in self._all)

    async def analyse(self, pipeline: Pipeline, insights: Insights, start: int = 0) -> Insights:
        """`pipeline.run(insights, start)` in a worker; the returned `Insights` is the filled-in one."""
        steps = pipeline.steps

        def request(worker: _Worker) -> tuple[Any, Callable[[], None]]:
            versions = worker.versions
            model = self._intent_models.current(insights.tenant_id) if self._intent_models else None
            version = model.version if model is not None else None
            update = None
            if insights.tenant_id not in versions or versions[insights.tenant_id] != version:
                update = _ModelUpdate(model.detached() if model is not None else None)

            def delivered() -> None:
                versions[insights.tenant_id] = version

            return ("pipeline", pipeline.name, steps, insights.tenant_id, update, insights, start), delivered

        def here() -> Insights:
            pipeline.run(insights, start)
            return insights

        result: Insights = await self._call(request, here)
        return result

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """`function(*args)` in a worker: the function must be importable by name (module level)."""
        result: T = await self._call(
            lambda worker: (("call", function, args), lambda: None), lambda: function(*args)
        )
        return result

    async def _call(
        self,
        request: Callable[[_Worker], tuple[Any, Callable[[], None]]],
        here: Callable[[], Any],
    ) -> Any:
        if not self._ever_ready:
            self._start_workers()
            return await asyncio.to_thread(here)
        lost: list[str] = []
        while len(lost) < ATTEMPTS:
            if self._stopping:
                raise InferenceWorkerFailed("the inference pool is stopping")
            worker = await self._idle.get()
            message, delivered = request(worker)
            try:
                worker.connection.send(message)
                reply = await _receive(worker.connection)
            except (EOFError, OSError):
                lost.append(self._lose(worker, "died"))
                continue
            except BaseException:
                # Cancelled mid-call: the worker's late answer must not reach the next caller.
                self._drain(worker)
                raise
            self._idle.put_nowait(worker)
            kind, body = reply
            if kind == "ok":
                delivered()
                return pickle.loads(body)  # noqa: S301 - our own worker's bytes
            if kind == "raised":
                raise pickle.loads(body)  # noqa: S301 - our own worker's bytes
            raise InferenceWorkerFailed(body)
        raise InferenceWorkerLost(
            f"inference workers died running this message {len(lost)} times ({'; '.join(lost)})"
        )

    async def run_everywhere(self, function: Callable[[], int]) -> int:
        """`function()` here and once in every live worker (per-process state, such as caches
        of recent texts); the sum of the answers. Each worker is taken while idle; one that
        dies meanwhile held nothing any more."""
        total = await asyncio.to_thread(function)
        taken: list[_Worker] = []
        try:
            for _ in range(len(self._all)):
                taken.append(await self._idle.get())
            for worker in list(taken):
                try:
                    worker.connection.send(("call", function, ()))
                    kind, body = await _receive(worker.connection)
                except (EOFError, OSError):
                    taken.remove(worker)
                    self._lose(worker, "died")
                    continue
                except BaseException:
                    # Cancelled mid-call: the worker's late answer must not reach the next caller.
                    taken.remove(worker)
                    self._drain(worker)
                    raise
                if kind == "raised":
                    raise pickle.loads(body)  # noqa: S301 - our own worker's bytes
                if kind != "ok":
                    raise InferenceWorkerFailed(body)
                total += pickle.loads(body)  # noqa: S301 - our own worker's bytes
        finally:
            for worker in taken:
                self._idle.put_nowait(worker)
        return int(total)

    def _drain(self, worker: _Worker) -> None:
        """Read and drop the answer of the call its caller left, then idle the worker again."""
        task = asyncio.get_running_loop().create_task(self._drained(worker))
        self._draining.add(task)
        task.add_done_callback(self._draining.discard)

    async def _drained(self, worker: _Worker) -> None:
        try:
            await asyncio.wait_for(_receive(worker.connection), DRAIN_SECONDS)
        except (EOFError, OSError):
            self._lose(worker, "died")
            return
        except TimeoutError:
            self._lose(worker, f"still busy {DRAIN_SECONDS:.0f} s after its caller left")
            return
        if not self._stopping:
            self._idle.put_nowait(worker)

    def _lose(self, worker: _Worker, how: str) -> str:
        """Drop a dead (or now unusable) worker and start its replacement in the background."""
        self._all.discard(worker)
        self._end(worker)
        why = f"worker {worker.pid} {how} (exit code {worker.process.exitcode})"
        log.error("inference %s; starting another", why)
        if not self._stopping:
            self._add_worker(replacement=True)
        return why

    def _add_worker(self, *, replacement: bool) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(self._keep_starting(replacement))
        self._starting.add(task)
        task.add_done_callback(self._starting.discard)
        return task

    async def _keep_starting(self, replacement: bool) -> None:
        pause = 1.0
        while not self._stopping:
            try:
                worker = await self._start_worker()
            except InferenceWorkerFailed as error:
                log.error("%s; trying again in %.0f s", error, pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, MAX_RESTART_PAUSE_SECONDS)
                continue
            self.replaced += replacement
            self._ever_ready = True
            self._idle.put_nowait(worker)
            return

    def _end(self, worker: _Worker) -> None:
        if worker.process.is_alive():
            worker.process.kill()
        worker.process.join(STOP_SECONDS)
        with contextlib.suppress(OSError):
            worker.connection.close()

    async def stop(self) -> None:
        """Let the workers finish what they run, then end them."""
        self._stopping = True
        for task in list(self._starting) + list(self._draining):
            task.cancel()
        workers = list(self._all)
        self._all.clear()
        for worker in workers:
            with contextlib.suppress(OSError):
                worker.connection.send(None)

        def join_all() -> None:
            for worker in workers:
                worker.process.join(STOP_SECONDS)
                self._end(worker)

        await asyncio.to_thread(join_all)
        self._limits.restore_original_limits()
