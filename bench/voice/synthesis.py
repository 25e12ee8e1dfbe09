"""Offline test speech: Debian's espeak-ng (installed by tools/install_espeak.sh) speaking a
sentence, turned into what a telephone network carries (8 kHz μ-law)."""

from __future__ import annotations

import functools
import io
import shutil
import subprocess
import wave

import numpy as np

from ai.domain.speech_audio import TELEPHONE_RATE, pcm16_to_ulaw, resample

ESPEAK = "espeak-ng"


def espeak_available() -> bool:
    return shutil.which(ESPEAK) is not None


def speak(text: str, voice: str = "en-us", words_per_minute: int = 150) -> tuple[int, np.ndarray]:
    """(sample rate, 16-bit mono samples) of espeak-ng saying `text`."""
    result = subprocess.run(
        [ESPEAK, "--stdout", "-v", voice, "-s", str(words_per_minute), text],
        capture_output=True,
        check=True,
        timeout=30,
    )
    with wave.open(io.BytesIO(result.stdout)) as audio:
        if audio.getsampwidth() != 2 or audio.getnchannels() != 1:
            raise RuntimeError(f"espeak-ng wrote {audio.getsampwidth() * 8}-bit, {audio.getnchannels()} ch")
        rate = audio.getframerate()
        samples = np.frombuffer(audio.readframes(audio.getnframes()), dtype=np.int16)
    return rate, samples


@functools.lru_cache(maxsize=256)
def telephone_speech(text: str, voice: str = "en-us") -> bytes:
    """8 kHz μ-law bytes of `text` spoken: the payload of a call's media frames."""
    rate, samples = speak(text, voice)
    return pcm16_to_ulaw(resample(samples, rate, TELEPHONE_RATE))


def silence(seconds: float) -> bytes:
    """μ-law silence (0xFF is linear zero)."""
    return b"\xff" * int(seconds * TELEPHONE_RATE)
