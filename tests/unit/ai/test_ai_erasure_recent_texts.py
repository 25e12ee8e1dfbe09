"""Erasure reaches what the AI service remembers in memory: the tokenizer's words and the
multilingual encoder's recent texts are dropped (and counted), the loaded encoders of the process
are all asked, and what is dropped is computed again on the next call, unchanged."""

from __future__ import annotations

import numpy as np

from ai.adapters.inference_pool import InferencePool
from ai.adapters.minilm_weights import load_encoder
from ai.adapters.multilingual_encoder import load_multilingual_encoder
from ai.adapters.recent_texts import forget_recent_texts
from ai.domain.minilm import MiniLMEncoder
from ai.domain.wordpiece import WordPiece

MESSAGE = "Hello, this is Jolanda Przybylska about order 5521"


def test_the_tokenizer_forgets_every_word_it_remembered_and_tokenizes_them_again_the_same() -> None:
    tokenizer = WordPiece(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "hello", "jo", "##landa"])
    first = tokenizer.encode("hello jolanda", 16)
    assert tokenizer.forget_words() == 2
    assert tokenizer.forget_words() == 0
    assert tokenizer.encode("hello jolanda", 16) == first


def test_the_loaded_encoders_drop_their_recent_texts(encoder: MiniLMEncoder) -> None:
    multilingual = load_multilingual_encoder()
    remembered = multilingual.encode_one(MESSAGE).copy()
    encoder.encode_one(MESSAGE)
    assert forget_recent_texts() >= 2  # at least the message and a word of it
    assert forget_recent_texts() == 0
    assert load_encoder() is encoder
    assert np.allclose(multilingual.encode_one(MESSAGE), remembered, atol=1e-6)


async def test_a_thread_pool_clears_its_one_process_once(encoder: MiniLMEncoder) -> None:
    encoder.encode_one(MESSAGE)
    pool = InferencePool(1)
    try:
        assert await pool.run_everywhere(forget_recent_texts) >= 1
        assert await pool.run_everywhere(forget_recent_texts) == 0
    finally:
        await pool.stop()
