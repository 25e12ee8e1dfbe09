"""The shipped sentiment model: trained on UMSAB's train split over the multilingual encoder.

`models/sentiment-umsab.npz` (about 2 MB) is rebuilt by `python -m bench.ai.umsab --save`; the
data's source and licence are in `models/README.md`. The model is usable only with the encoder
it was trained on: with any other (or none) the sentiment component keeps to its lexicon.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ai.domain.component import SentenceEncoder
from ai.domain.sentiment_model import SentimentModel, SentimentModelError

MODEL_PATH = Path(__file__).parent / "models" / "sentiment-umsab.npz"
log = logging.getLogger(__name__)


def load_sentiment_model(encoder: SentenceEncoder | None, path: Path = MODEL_PATH) -> SentimentModel | None:
    """The trained model for `encoder`, or None (logged) when it cannot be used with it."""
    if encoder is None:
        return None
    try:
        model = SentimentModel.from_bytes(path.read_bytes())
    except (OSError, SentimentModelError) as why:
        log.warning("trained sentiment model unavailable (%s): sentiment uses the lexicon", why)
        return None
    dimensions = len(encoder.encode_one(""))
    if model.encoder != encoder.name or model.embedding_weights.shape[1] != dimensions:
        log.warning(
            "the sentiment model was trained on %s (%d dimensions), this replica encodes with %s (%d): "
            "sentiment uses the lexicon",
            model.encoder,
            model.embedding_weights.shape[1],
            encoder.name,
            dimensions,
        )
        return None
    return model
