"""What a Realtime `session.update` may set: the voice activity settings announced are the
detector's own."""

from __future__ import annotations

from asr_interface.backends.silero_vad import VoiceActivityDetector
from asr_interface.server.realtime_settings import (
    VAD_PREFIX_PADDING_MS,
    VAD_SILENCE_DURATION_MS,
    VAD_THRESHOLD,
)


def test_server_vad_settings_are_the_detectors() -> None:
    """The `server_vad` settings announced are those our detector really runs with."""
    detector = VoiceActivityDetector()
    assert detector.threshold == VAD_THRESHOLD
    assert detector.min_silence_ms == VAD_SILENCE_DURATION_MS
    assert detector.speech_pad_ms == VAD_PREFIX_PADDING_MS
