"""Shared fixtures of the ai unit tests: the CLINC150 data set and a model trained once per session.

The CLINC150 models use the service's own sentence encoder (the multilingual one), through a
wrapper that embeds each text once per session: training, and then every test that asks the
model about CLINC150's test messages, would otherwise embed the same texts again and again.

This folder has no `__init__.py` on purpose: as a package it would be named `ai` and shadow
the ai service's own package.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ai_fixtures import CLINC150, grouped

from ai.adapters.minilm_weights import ModelUnavailable, load_encoder
from ai.adapters.multilingual_encoder import load_sentence_encoder
from ai.domain.component import SentenceEncoder
from ai.domain.encoder_pair import EncoderPair
from ai.domain.intent import IntentModel
from ai.domain.minilm import MiniLMEncoder


@pytest.fixture(scope="session")
def clinc150() -> dict[str, Any]:
    if not CLINC150.exists():
        pytest.skip(f"CLINC150 data set not found at {CLINC150} (../shared/datasets relative to the repo)")
    data: dict[str, Any] = json.loads(CLINC150.read_text())
    return data


@pytest.fixture(scope="session")
def encoder() -> MiniLMEncoder:
    # `make install` installs the model package, so its absence is a broken install, not a skip.
    try:
        return load_encoder()
    except ModelUnavailable as why:
        pytest.fail(f"{why} (make install puts it in the virtualenv)")


class RememberingEncoder:
    """The wrapped encoder's vectors, each text embedded once (same name, so models built with
    it are of the same kind as the service's)."""

    def __init__(self, encoder: SentenceEncoder) -> None:
        self._encoder = encoder
        self.name = encoder.name
        self._vectors: dict[str, np.ndarray] = {}

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if missing:
            self._vectors.update(zip(missing, np.asarray(self._encoder.encode(missing)), strict=True))
        if not texts:
            return np.asarray(self._encoder.encode([]))
        return np.vstack([self._vectors[t] for t in texts])

    def encode_one(self, text: str) -> np.ndarray:
        vector: np.ndarray = self.encode([text])[0]
        return vector


def remembering(encoder: SentenceEncoder) -> SentenceEncoder:
    """`encoder` remembering its vectors; a pair stays a pair, each half remembering its own."""
    if isinstance(encoder, EncoderPair):
        second = encoder.second
        return EncoderPair(RememberingEncoder(encoder.primary), lambda: second and RememberingEncoder(second))
    return RememberingEncoder(encoder)


@pytest.fixture(scope="session")
def service_encoder() -> SentenceEncoder:
    """The sentence encoder the service loads (multilingual paired with all-MiniLM-L6-v2 for
    few-shot re-ranking; else one of them)."""
    try:
        return remembering(load_sentence_encoder())
    except ModelUnavailable as why:
        pytest.fail(f"{why} (make install puts it in the virtualenv)")


@pytest.fixture(scope="session")
def clinc_model(clinc150: dict[str, Any], service_encoder: SentenceEncoder) -> IntentModel:
    """The two-stage model (TF-IDF, then TF-IDF + embedding when unsure): the service's default."""
    return IntentModel.train(grouped(clinc150["train"]), encoder=service_encoder)


@pytest.fixture(scope="session")
def clinc_tfidf_model(clinc150: dict[str, Any]) -> IntentModel:
    """The fast stage alone: what a replica without the model package serves."""
    return IntentModel.train(grouped(clinc150["train"]))
