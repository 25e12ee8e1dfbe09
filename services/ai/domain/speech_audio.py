"""Telephone audio to what a 16 kHz recogniser hears: G.711 μ-law decoding and resampling.

Twilio (and the telephone network behind it) carries 8 kHz mono μ-law, one byte a sample; the
shipped acoustic models are trained on 16 kHz 16-bit PCM. Decoding is a 256-entry table (the
ITU-T G.711 expansion), resampling a polyphase filter (its low-pass keeps the upsampling from
mirroring the 0-4 kHz band into 4-8 kHz, which a recogniser would hear as hiss).
"""

from __future__ import annotations

import io
import math
import wave

import numpy as np
from scipy.signal import resample_poly

TELEPHONE_RATE = 8000
RECOGNISER_RATE = 16000
#: One Twilio media frame: 20 ms of 8 kHz μ-law.
FRAME_BYTES = 160

_BIAS = 0x84
_CLIP = 32635


def _expansion_table() -> np.ndarray:
    codes = ~np.arange(256, dtype=np.int32) & 0xFF
    sign = codes & 0x80
    exponent = (codes >> 4) & 0x07
    mantissa = codes & 0x0F
    magnitude = ((mantissa << 3) + _BIAS) << exponent
    return np.where(sign != 0, _BIAS - magnitude, magnitude - _BIAS).astype(np.int16)


_ULAW_TO_PCM = _expansion_table()


def ulaw_to_pcm16(payload: bytes) -> np.ndarray:
    """μ-law bytes -> 16-bit linear samples (same rate)."""
    return _ULAW_TO_PCM[np.frombuffer(payload, dtype=np.uint8)]


def pcm16_to_ulaw(samples: np.ndarray) -> bytes:
    """16-bit linear samples -> μ-law bytes (what a telephone network sends; tests and benches
    make their calls with it)."""
    pcm = np.clip(samples.astype(np.int32), -_CLIP, _CLIP)
    sign = np.where(pcm < 0, 0x80, 0)
    magnitude = np.abs(pcm) + _BIAS
    exponent = np.clip(np.floor(np.log2(magnitude)).astype(np.int32) - 7, 0, 7)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    codes: np.ndarray = (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8)
    return codes.tobytes()


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """16-bit samples at `from_rate` -> 16-bit samples at `to_rate`."""
    if from_rate <= 0 or to_rate <= 0:
        raise ValueError(f"sample rates must be positive, got {from_rate} -> {to_rate}")
    if from_rate == to_rate or samples.size == 0:
        return samples.astype(np.int16)
    divisor = math.gcd(from_rate, to_rate)
    converted = resample_poly(samples.astype(np.float32), to_rate // divisor, from_rate // divisor)
    result: np.ndarray = np.clip(np.rint(converted), -32768, 32767).astype(np.int16)
    return result


def telephone_to_recogniser(payload: bytes) -> np.ndarray:
    """8 kHz μ-law bytes -> 16 kHz 16-bit samples."""
    return resample(ulaw_to_pcm16(payload), TELEPHONE_RATE, RECOGNISER_RATE)


class RecordingAudioError(ValueError):
    """A recording that is not 16-bit PCM WAV of one or two channels; the text names why."""


def recording_tracks(data: bytes) -> list[np.ndarray]:
    """A recording's channels (the caller first, then the agent) as 8 kHz 16-bit samples, the
    rate live call audio has, so both go through the same segmenter."""
    try:
        with wave.open(io.BytesIO(data)) as audio:
            width, channels, rate = audio.getsampwidth(), audio.getnchannels(), audio.getframerate()
            frames = audio.readframes(audio.getnframes())
    except (wave.Error, EOFError) as error:
        raise RecordingAudioError(f"recording is not a WAV file: {error}") from None
    if width != 2 or channels not in (1, 2) or rate < TELEPHONE_RATE:
        raise RecordingAudioError(
            f"recording must be 16-bit PCM, 1 or 2 channels, {TELEPHONE_RATE} Hz or more; got "
            f"{width * 8}-bit, {channels} channel(s), {rate} Hz"
        )
    interleaved = np.frombuffer(frames[: len(frames) - len(frames) % (2 * channels)], dtype="<i2")
    return [
        resample(interleaved[channel::channels].astype(np.int16), rate, TELEPHONE_RATE)
        for channel in range(channels)
    ]
