"""What this process keeps in memory of the texts it analysed, dropped on erasure.

The sentence encoders remember recent texts and words to answer faster (the multilingual
encoder's last texts with their vectors, the MiniLM tokenizer's words). They are bounded, but a
person's message or name may sit there after their data was erased everywhere else. Only the
encoders this process has loaded are asked: loading one to clear it would cost seconds.
"""

from __future__ import annotations

from ai.adapters.minilm_weights import load_encoder
from ai.adapters.multilingual_encoder import load_multilingual_encoder


def forget_recent_texts() -> int:
    """Clear the loaded encoders' remembered texts and words; how many entries went."""
    dropped = 0
    if load_multilingual_encoder.cache_info().currsize:
        dropped += load_multilingual_encoder().forget_recent_texts()
    if load_encoder.cache_info().currsize:
        dropped += load_encoder().forget_recent_texts()
    return dropped
