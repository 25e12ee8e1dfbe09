"""Speech recognition in worker processes, sized by config (CC_SPEECH_WORKERS).

Decoding is CPU work in C that holds the interpreter lock for a whole utterance, so it runs in
spawned worker processes, each with its own recogniser (built once from the registry by name;
a decoder loads its models in a few seconds). Each call carries the tenant's vocabulary with a
version; a worker rebuilds its language model for that tenant only when the version changed,
so any worker can serve any tenant and a vocabulary change reaches every worker.

A worker that dies breaks the pool: the pool is replaced and the utterance tried once more;
if that fails too, the caller gets `SpeechWorkerLost` (an utterance is reported, never dropped
silently). `workers=0` decodes on a thread of the calling process (tests, small regions).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field

import numpy as np

from ai.adapters.registry import ComponentRegistry, Registered
from ai.domain.component import ComponentContext
from ai.domain.speech import Recogniser, Transcript, is_recogniser

log = logging.getLogger(__name__)


class SpeechWorkerLost(RuntimeError):
    """The worker decoding an utterance died, and so did the one it was retried on."""


class RecogniserUnavailable(LookupError):
    """The configured recogniser is not installed or is not a recogniser."""


def _registered(name: str, registry: ComponentRegistry) -> Registered:
    registered = registry.registered.get(name)
    if registered is None:
        broken = registry.broken.get(name)
        detail = (
            f" (it failed to load: {broken})" if broken else f"; installed: {sorted(registry.registered)}"
        )
        raise RecogniserUnavailable(f"speech recogniser {name!r} is not installed{detail}")
    return registered


def build_recogniser(
    name: str, settings: Mapping[str, str], registry: ComponentRegistry | None = None
) -> Recogniser:
    registered = _registered(name, registry or ComponentRegistry.discover())
    component = registered.factory(dict(settings), ComponentContext())
    if not is_recogniser(component):
        raise RecogniserUnavailable(
            f"component {name!r} is not a speech recogniser (it does not consume audio)"
        )
    return component  # type: ignore[return-value]


@dataclass
class _Loaded:
    recogniser: Recogniser
    #: Vocabulary version this recogniser holds, by tenant.
    versions: dict[str, int] = field(default_factory=dict)


_worker: _Loaded | None = None
_worker_lock = threading.Lock()


def _load_worker(name: str, settings: Mapping[str, str]) -> None:
    global _worker
    _worker = _Loaded(build_recogniser(name, settings))


def _transcribe_in_worker(
    tenant_id: str, language: str, samples: np.ndarray, vocabulary: tuple[int, Sequence[str]]
) -> Transcript:
    with _worker_lock:
        if _worker is None:
            raise RecogniserUnavailable("speech worker started without a recogniser")
        version, sentences = vocabulary
        if _worker.versions.get(tenant_id, 0) != version:
            _worker.recogniser.set_vocabulary(tenant_id, sentences)
            _worker.versions[tenant_id] = version
        return _worker.recogniser.transcribe(tenant_id, language, samples)


class SpeechPool:
    def __init__(self, recogniser: str, settings: Mapping[str, str] | None = None, workers: int = 1) -> None:
        if workers < 0:
            raise ValueError(f"speech workers must be 0 or more, got {workers}")
        self.recogniser = recogniser
        self._settings = dict(settings or {})
        self.workers = workers
        self._vocabularies: dict[str, tuple[int, tuple[str, ...]]] = {}
        self._executor: Executor | None = None

    def _new_executor(self) -> Executor:
        if self.workers == 0:
            _load_worker(self.recogniser, self._settings)
            return ThreadPoolExecutor(max_workers=1, thread_name_prefix="speech")
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_load_worker,
            initargs=(self.recogniser, self._settings),
        )

    def start(self) -> None:
        """Fails with `RecogniserUnavailable` when the recogniser is not installed."""
        _registered(self.recogniser, ComponentRegistry.discover())
        self._executor = self._new_executor()

    def set_vocabulary(self, tenant_id: str, sentences: Sequence[str]) -> None:
        version, held = self._vocabularies.get(tenant_id, (0, ()))
        if tuple(sentences) != held:
            self._vocabularies[tenant_id] = (version + 1, tuple(sentences))

    async def transcribe(self, tenant_id: str, language: str, samples: np.ndarray) -> Transcript:
        if self._executor is None:
            self.start()
        vocabulary = self._vocabularies.get(tenant_id, (0, ()))
        loop = asyncio.get_running_loop()
        for attempt in (1, 2):
            executor = self._executor
            assert executor is not None
            try:
                return await loop.run_in_executor(
                    executor, _transcribe_in_worker, tenant_id, language, samples, vocabulary
                )
            except BrokenProcessPool:
                log.error("a speech worker died (attempt %d); replacing the pool", attempt)
                if self._executor is executor:
                    executor.shutdown(wait=False, cancel_futures=False)
                    self._executor = self._new_executor()
        raise SpeechWorkerLost("speech workers died twice decoding one utterance")

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
