"""`CC_INTENT_RERANK`: on by default; off, the service's encoder has no second one beside it, so a
sparse training set (where re-ranking would be trained) trains and answers with two stages."""

from __future__ import annotations

import pickle

import pytest

from ai.adapters.minilm_weights import ModelUnavailable
from ai.adapters.multilingual_encoder import sentence_encoder_loader
from ai.config import AiConfig
from ai.domain.component import SentenceEncoder
from ai.domain.encoder_pair import second_encoder
from ai.domain.intent import RERANK_MAX_EXAMPLES, IntentModel
from ccmesh.config import ConfigError, load_config

SECRET = "s" * 32
#: Three intents with `RERANK_MAX_EXAMPLES` examples each: a set that re-ranks when it can.
SPARSE = {
    "billing": [f"question {n} about the invoice charge on my bill" for n in range(RERANK_MAX_EXAMPLES)],
    "delivery": [f"question {n} about where my parcel and courier are" for n in range(RERANK_MAX_EXAMPLES)],
    "account": [f"question {n} about my password and login" for n in range(RERANK_MAX_EXAMPLES)],
}
#: Messages the accurate stage is unsure about, which a re-ranking model would re-rank.
MESSAGES = ["hello", "question", "my thing", "about it", "number 3", "the one about my stuff"]


def load(rerank: bool) -> SentenceEncoder:
    try:
        return sentence_encoder_loader(rerank)()
    except ModelUnavailable as why:
        pytest.fail(f"{why} (make install puts it in the virtualenv)")


def test_the_setting_is_on_by_default_and_read_from_its_variable() -> None:
    assert load_config(AiConfig, environ={"CC_AUTH_SECRET": SECRET}).intent_rerank is True
    off = load_config(AiConfig, environ={"CC_AUTH_SECRET": SECRET, "CC_INTENT_RERANK": "false"})
    assert off.intent_rerank is False
    with pytest.raises(ConfigError, match="CC_INTENT_RERANK"):
        load_config(AiConfig, environ={"CC_AUTH_SECRET": SECRET, "CC_INTENT_RERANK": "sometimes"})


def test_the_loader_travels_to_worker_processes() -> None:
    assert pickle.loads(pickle.dumps(sentence_encoder_loader(True))) is sentence_encoder_loader(True)
    off = pickle.loads(pickle.dumps(sentence_encoder_loader(False)))
    assert second_encoder(off()) is None


def test_on_a_sparse_set_re_ranks_its_unsure_answers() -> None:
    encoder = load(rerank=True)
    assert second_encoder(encoder) is not None
    model = IntentModel.train(SPARSE, encoder=encoder)
    assert model.reranks
    assert "rerank" in {p.stage for p in model.predict_batch(MESSAGES)}


def test_off_a_sparse_set_never_re_ranks() -> None:
    encoder = load(rerank=False)
    assert second_encoder(encoder) is None
    model = IntentModel.train(SPARSE, encoder=encoder)
    assert not model.reranks
    assert model.kind == load(rerank=True).name.join(("tfidf-", "-svm"))  # same kind: models swap freely
    stages = {p.stage for p in model.predict_batch(MESSAGES)} | {model.predict(m).stage for m in MESSAGES}
    assert "rerank" not in stages
    assert "accurate" in stages
    # A re-ranking model stored while the setting was on is served with two stages once it is off.
    stored = IntentModel.train(SPARSE, encoder=load(rerank=True)).detached()
    assert not stored.attach(encoder).reranks
