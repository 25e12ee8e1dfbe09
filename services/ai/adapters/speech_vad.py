"""Voice activity detection for the segmenter: the WebRTC-style detector inside the recogniser
package (`pocketsphinx.Vad`), on 30 ms frames of 8 kHz audio."""

from __future__ import annotations

import numpy as np
import pocketsphinx

from ai.domain.speech_audio import TELEPHONE_RATE
from ai.domain.speech_segmenter import FRAME_SECONDS, IsSpeech

#: 0 (loose: keeps more, misses fewer word edges) .. 3 (strict: ignores more line noise).
DEFAULT_MODE = 1


def voice_activity(mode: int = DEFAULT_MODE) -> IsSpeech:
    if not 0 <= mode <= 3:
        raise ValueError(f"voice activity mode must be 0..3, got {mode}")
    detector = pocketsphinx.Vad(mode, TELEPHONE_RATE, FRAME_SECONDS)

    def is_speech(frame: np.ndarray) -> bool:
        return bool(detector.is_speech(frame.astype(np.int16, copy=False).tobytes()))

    return is_speech
