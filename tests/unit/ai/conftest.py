"""Shared fixtures of the ai unit tests: the CLINC150 data set and a model trained once per session.

This folder has no `__init__.py` on purpose: as a package it would be named `ai` and shadow
the ai service's own package.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ai_fixtures import CLINC150, grouped

from ai.adapters.minilm_weights import ModelUnavailable, load_encoder
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


@pytest.fixture(scope="session")
def clinc_model(clinc150: dict[str, Any], encoder: MiniLMEncoder) -> IntentModel:
    """The two-stage model (TF-IDF, then TF-IDF + embedding when unsure): the service's default."""
    return IntentModel.train(grouped(clinc150["train"]), encoder=encoder)


@pytest.fixture(scope="session")
def clinc_tfidf_model(clinc150: dict[str, Any]) -> IntentModel:
    """The fast stage alone: what a replica without the model package serves."""
    return IntentModel.train(grouped(clinc150["train"]))
