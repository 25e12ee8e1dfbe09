"""all-MiniLM-L6-v2 sentence embeddings computed with numpy alone (no torch at run time).

The model is a 6-layer BERT encoder (hidden 384, 12 heads, feed-forward 1536); its sentence
embedding is the mean of the last layer over the real tokens, L2-normalised (the package's
`1_Pooling` and `Normalize` modules). Weights arrive as arrays named as in the model's
safetensors file; the adapter that reads them from the installed package lives in
`ai.adapters.minilm_weights`. Query, key and value projections are fused into one matrix
so a layer is four matrix products.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from scipy.special import erf

from ai.domain.wordpiece import WordPiece

HIDDEN = 384
HEADS = 12
LAYERS = 6
#: Longer input is cut to this many word pieces, as sentence-transformers does for this model.
MAX_TOKENS = 256
LAYER_NORM_EPS = 1e-12


class WeightsError(ValueError):
    """The weights given are not all-MiniLM-L6-v2's; the message names what is missing or wrong."""


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    variance = (centred * centred).mean(axis=-1, keepdims=True)
    normed: np.ndarray = centred / np.sqrt(variance + LAYER_NORM_EPS) * weight + bias
    return normed


def _gelu(x: np.ndarray) -> np.ndarray:
    # BERT's exact GELU (erf), not the tanh approximation: keeps embeddings equal to upstream.
    out: np.ndarray = 0.5 * x * (1.0 + erf(x / np.float32(np.sqrt(2.0))))
    return out.astype(np.float32, copy=False)


class _Layer:
    def __init__(self, weights: Mapping[str, np.ndarray], prefix: str) -> None:
        def get(name: str) -> np.ndarray:
            return np.asarray(weights[f"{prefix}.{name}"], dtype=np.float32)

        self.qkv = np.ascontiguousarray(
            np.concatenate([get(f"attention.self.{p}.weight") for p in ("query", "key", "value")], axis=0).T
        )
        self.qkv_bias = np.concatenate([get(f"attention.self.{p}.bias") for p in ("query", "key", "value")])
        self.attention_out = np.ascontiguousarray(get("attention.output.dense.weight").T)
        self.attention_out_bias = get("attention.output.dense.bias")
        self.attention_norm = (
            get("attention.output.LayerNorm.weight"),
            get("attention.output.LayerNorm.bias"),
        )
        self.up = np.ascontiguousarray(get("intermediate.dense.weight").T)
        self.up_bias = get("intermediate.dense.bias")
        self.down = np.ascontiguousarray(get("output.dense.weight").T)
        self.down_bias = get("output.dense.bias")
        self.output_norm = (get("output.LayerNorm.weight"), get("output.LayerNorm.bias"))

    def __call__(self, x: np.ndarray, batch: int, mask_bias: np.ndarray) -> np.ndarray:
        """`x` is (batch x length, HIDDEN): dense products stay 2-D, where numpy calls BLAS
        (a 3-D @ 2-D product goes through numpy's own loop, ~15x slower)."""
        length = x.shape[0] // batch
        head = HIDDEN // HEADS
        qkv = (x @ self.qkv + self.qkv_bias).reshape(batch, length, 3, HEADS, head)
        q, k, v = (np.ascontiguousarray(qkv[:, :, i].transpose(0, 2, 1, 3)) for i in range(3))
        scores = q @ k.transpose(0, 1, 3, 2) * np.float32(1.0 / np.sqrt(head)) + mask_bias
        scores -= scores.max(axis=-1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=-1, keepdims=True)
        context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch * length, HIDDEN)
        x = _layer_norm(context @ self.attention_out + self.attention_out_bias + x, *self.attention_norm)
        hidden = _gelu(x @ self.up + self.up_bias)
        return _layer_norm(hidden @ self.down + self.down_bias + x, *self.output_norm)


class MiniLMEncoder:
    """Text -> 384-dimension unit vectors, equal (to float32 rounding) to sentence-transformers'."""

    dimension = HIDDEN
    name = "all-minilm-l6-v2"

    def __init__(self, weights: Mapping[str, np.ndarray], vocabulary: Sequence[str]) -> None:
        try:
            self._words = np.asarray(weights["embeddings.word_embeddings.weight"], dtype=np.float32)
            self._positions = np.asarray(weights["embeddings.position_embeddings.weight"], dtype=np.float32)
            # Single-segment input: the type-0 row is simply added to every position.
            self._positions = (
                self._positions
                + np.asarray(weights["embeddings.token_type_embeddings.weight"], dtype=np.float32)[0]
            )
            self._norm = (
                np.asarray(weights["embeddings.LayerNorm.weight"], dtype=np.float32),
                np.asarray(weights["embeddings.LayerNorm.bias"], dtype=np.float32),
            )
            self._layers = [_Layer(weights, f"encoder.layer.{i}") for i in range(LAYERS)]
        except KeyError as missing:
            raise WeightsError(f"weight {missing} is missing: not all-MiniLM-L6-v2") from None
        if self._words.shape != (len(vocabulary), HIDDEN):
            raise WeightsError(
                f"word embeddings are {self._words.shape}, the vocabulary has {len(vocabulary)} entries"
            )
        self._tokenizer = WordPiece(vocabulary)

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """One unit-length float32 row per text (an empty text gives [CLS] [SEP]'s embedding)."""
        ids = [self._tokenizer.encode(text, MAX_TOKENS) for text in texts]
        out = np.empty((len(texts), HIDDEN), dtype=np.float32)
        # Similar lengths together: less padding to compute.
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        for begin in range(0, len(order), batch_size):
            chunk = order[begin : begin + batch_size]
            out[chunk] = self._forward([ids[i] for i in chunk])
        return out

    def encode_one(self, text: str) -> np.ndarray:
        vector: np.ndarray = self._forward([self._tokenizer.encode(text, MAX_TOKENS)])[0]
        return vector

    def forget_recent_texts(self) -> int:
        """Drop the words the tokenizer remembers (erasure); how many."""
        return self._tokenizer.forget_words()

    def _forward(self, batch: list[list[int]]) -> np.ndarray:
        length = max(len(ids) for ids in batch)
        tokens = np.zeros((len(batch), length), dtype=np.int64)
        mask = np.zeros((len(batch), length), dtype=np.float32)
        for row, ids in enumerate(batch):
            tokens[row, : len(ids)] = ids
            mask[row, : len(ids)] = 1.0
        x = _layer_norm(self._words[tokens] + self._positions[:length], *self._norm)
        x = x.reshape(len(batch) * length, HIDDEN)
        # Padding gets a large negative score so no real token attends to it.
        mask_bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        for layer in self._layers:
            x = layer(x, len(batch), mask_bias)
        summed = (x.reshape(len(batch), length, HIDDEN) * mask[:, :, None]).sum(axis=1)
        pooled = summed / mask.sum(axis=1, keepdims=True)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        unit: np.ndarray = pooled / np.maximum(norms, 1e-12)
        return unit.astype(np.float32, copy=False)
