"""Telephone audio decoding: G.711 μ-law and resampling to the recogniser's 16 kHz."""

from __future__ import annotations

import numpy as np
import pytest

from ai.domain.speech_audio import (
    RECOGNISER_RATE,
    TELEPHONE_RATE,
    pcm16_to_ulaw,
    resample,
    telephone_to_recogniser,
    ulaw_to_pcm16,
)


def tone(frequency: float, seconds: float, rate: int, amplitude: float = 8000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.int16)


def test_ulaw_decoding_follows_g711() -> None:
    # Reference points of the ITU-T G.711 μ-law expansion.
    decoded = ulaw_to_pcm16(bytes([0xFF, 0x7F, 0x00, 0x80, 0xFE, 0x7E, 0xEF]))
    assert decoded.tolist() == [0, 0, -32124, 32124, 8, -8, 132]


def test_ulaw_round_trip_keeps_every_sample_within_its_quantisation_step() -> None:
    samples = np.linspace(-32000, 32000, 4001).astype(np.int16)
    restored = ulaw_to_pcm16(pcm16_to_ulaw(samples)).astype(np.int32)
    error = np.abs(restored - samples.astype(np.int32))
    # μ-law steps grow with the magnitude: 1/16 of a segment, at most 1024 at full scale.
    assert (error <= np.maximum(8, np.abs(samples.astype(np.int32)) // 16 + 8)).all()
    assert len(pcm16_to_ulaw(samples)) == samples.size


def test_upsampling_keeps_the_tone_and_doubles_the_samples() -> None:
    upsampled = telephone_to_recogniser(pcm16_to_ulaw(tone(1000, 0.5, TELEPHONE_RATE)))
    assert upsampled.size == RECOGNISER_RATE // 2
    spectrum = np.abs(np.fft.rfft(upsampled.astype(np.float64)))
    peak_hz = np.argmax(spectrum) * RECOGNISER_RATE / upsampled.size
    assert peak_hz == pytest.approx(1000, abs=4)
    # Nothing mirrored above the telephone band (an unfiltered upsampler puts 7 kHz there).
    above = spectrum[int(4200 * upsampled.size / RECOGNISER_RATE) :].max()
    assert above < spectrum.max() / 100


def test_resampling_rejects_impossible_rates() -> None:
    with pytest.raises(ValueError, match="sample rates must be positive"):
        resample(np.zeros(10, dtype=np.int16), 0, 16000)
    assert resample(np.zeros(0, dtype=np.int16), 8000, 16000).size == 0
