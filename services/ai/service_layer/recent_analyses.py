"""What the text-only steps of a pipeline found in a message, kept for a few seconds.

A new contact's first message is analysed twice: the gateway asks for its language before the
contact is queued (the text alone), then the stream's copy of the message is analysed for the
contact's conversation. Between the two nothing about the text has changed, so the second
analysis takes the first one's findings for the steps that read only the text (language,
intent, sentiment, personal data: `Pipeline.text_steps`) and runs only the steps that read the
conversation (escalation). That halves the model work of every new contact.

Kept per tenant and intent model version (a newly trained model answers anew at once), briefly
(`KEEP_SECONDS`: the second analysis follows within moments) and boundedly (`MAX_TEXTS`, oldest
dropped first);
the texts are customers' words, so erasure empties it (`forget`) with the encoders' caches.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ai.domain.component import Insights
from ai.domain.pipeline import Pipeline

#: Seconds a finding is reused: long enough for the stream to deliver the message under load.
KEEP_SECONDS = 15.0
MAX_TEXTS = 4096

#: The findings of the text-only steps. Not the conversation's fields (the caller's), nor the
#: stage durations: only the steps that run for this message count as its stages.
TEXT_FIELDS = (
    "language",
    "language_confidence",
    "intent",
    "intent_confidence",
    "out_of_scope",
    "intent_model_version",
    "sentiment",
    "sentiment_label",
    "entities",
    "redacted_text",
    "extras",
)


@dataclass(frozen=True, slots=True)
class Recalled:
    #: The step to run from: the ones before it are known.
    start: int
    #: Seconds the steps from `start` on took on this text the first time.
    rest_seconds: float


@dataclass(frozen=True, slots=True)
class _Found:
    pipeline: Pipeline
    #: The run's findings once it ends (None: it failed, or a step of it did).
    insights: asyncio.Future[Insights | None]
    at: float


class RecentAnalyses:
    """Texts analysed a moment ago, per tenant, with what the text-only steps found. A run
    still going counts: the stream's copy of a message often arrives while the gateway's ask
    about it is being answered, and waits for that answer rather than running the models too."""

    def __init__(
        self,
        keep_seconds: float = KEEP_SECONDS,
        max_texts: int = MAX_TEXTS,
        clock: Callable[[], float] = time.monotonic,
        model_version: Callable[[str], str] = lambda tenant_id: "",
    ) -> None:
        #: The tenant's current intent model version: a model trained meanwhile answers anew.
        self._model_version = model_version
        self._keep = keep_seconds
        self._max = max_texts
        self._clock = clock
        self._found: OrderedDict[tuple[str, str, str], _Found] = OrderedDict()

    async def recall(self, pipeline: Pipeline, insights: Insights) -> Recalled | None:
        """Fill `insights` with what the same pipeline's text-only steps found (or are finding)
        in the same text of the same tenant; where to go on from (None: nothing known)."""
        self._expire()
        found = self._found.get(self._key(insights))
        # The same pipeline object: a region change rebuilds pipelines, and then nothing is reused.
        if found is None or found.pipeline is not pipeline:
            return None
        # Shielded: this caller leaving must not end the wait of the others.
        earlier = await asyncio.shield(found.insights)
        if earlier is None:
            return None
        for name in TEXT_FIELDS:
            setattr(insights, name, copy.deepcopy(getattr(earlier, name)))
        start = pipeline.text_steps
        rest = pipeline.component_names[start:]
        return Recalled(start, sum(earlier.stage_seconds.get(name, 0.0) for name in rest))

    @contextlib.contextmanager
    def analysing(self, pipeline: Pipeline, insights: Insights) -> Iterator[Callable[[Insights], None]]:
        """Around a full run of `pipeline` on `insights`: others analysing the same text meanwhile
        wait for its findings. Call the function given with the run's result; a run that ends
        otherwise (an error, its caller leaving) or with a failed step leaves nothing to reuse."""
        if not pipeline.text_steps:
            yield lambda analysed: None
            return
        key = self._key(insights)
        found = _Found(pipeline, asyncio.get_running_loop().create_future(), self._clock())
        self._found.pop(key, None)
        self._found[key] = found
        while len(self._found) > self._max:
            self._found.popitem(last=False)

        def finished(analysed: Insights) -> None:
            if not found.insights.done():
                ok = "errors" not in analysed.extras
                found.insights.set_result(copy.deepcopy(analysed) if ok else None)

        try:
            yield finished
        finally:
            if not found.insights.done():
                found.insights.set_result(None)
            if found.insights.result() is None and self._found.get(key) is found:
                del self._found[key]

    def _key(self, insights: Insights) -> tuple[str, str, str]:
        return insights.tenant_id, self._model_version(insights.tenant_id), insights.text

    def forget(self) -> int:
        """Drop everything kept (erasure); how many texts."""
        count = len(self._found)
        self._found.clear()
        return count

    def _expire(self) -> None:
        oldest = self._clock() - self._keep
        while self._found:
            first = next(iter(self._found.values()))
            if first.at >= oldest:
                return
            self._found.popitem(last=False)
