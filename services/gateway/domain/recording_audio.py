"""What a recording's audio must be to be kept and transcribed: a WAV file of 16-bit PCM,
one or two channels (the caller first, then the agent), 8 kHz or more."""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass

#: Two hours of two 16-bit channels at 16 kHz; a longer file is refused, not truncated.
MAX_RECORDING_BYTES = 2 * 3600 * 2 * 2 * 16000


class RecordingAudioError(ValueError):
    """The fetched audio cannot be kept as a recording; the text names why."""


@dataclass(frozen=True)
class RecordingFormat:
    channels: int
    sample_rate: int
    seconds: float


def recording_format(data: bytes) -> RecordingFormat:
    if len(data) > MAX_RECORDING_BYTES:
        raise RecordingAudioError(
            f"recording of {len(data)} bytes is over the {MAX_RECORDING_BYTES}-byte limit"
        )
    try:
        with wave.open(io.BytesIO(data)) as audio:
            width, channels, rate, frames = (
                audio.getsampwidth(),
                audio.getnchannels(),
                audio.getframerate(),
                audio.getnframes(),
            )
    except (wave.Error, EOFError) as error:
        raise RecordingAudioError(f"recording is not a WAV file: {error}") from None
    if width != 2 or channels not in (1, 2) or rate < 8000:
        raise RecordingAudioError(
            f"recording must be 16-bit PCM, 1 or 2 channels, 8 kHz or more; got {width * 8}-bit, "
            f"{channels} channel(s), {rate} Hz"
        )
    return RecordingFormat(channels=channels, sample_rate=rate, seconds=frames / rate)
