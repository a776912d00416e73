"""The encoder input shortened to the audio, on the real tiny.en model."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from asr_interface.backends.whisper_batch import WhisperBatchDecoder
from asr_interface.evaluation import word_errors
from tests.backends.batch_decoding import GREEDY, RATE, decode, text
from tests.speech import JFK, speech_audio

pytestmark = pytest.mark.model


@pytest.mark.parametrize("seconds", [3.0, 9.0, 10.0, 11.0])
def test_shortened_encoder_input_keeps_the_words_of_the_full_one(
    decoder: WhisperBatchDecoder, seconds: float
) -> None:
    """Windows shorter than, filling and passing a 10 s encoder input decode to the words
    the full 30 s input gives (tiny.en differs by a word or two either way), timed inside
    the window."""
    audio = speech_audio(JFK)[: round(seconds * RATE)]
    full = decode(decoder, audio, GREEDY)
    short = decode(decoder, audio, replace(GREEDY, encoder_seconds=10.0))
    assert text(full).strip()
    assert word_errors(text(full), text(short)).errors <= 2
    assert all(0 <= start <= end <= seconds + 0.05 for start, end, _ in short.words)


def test_speech_filling_a_shortened_input_decodes_in_one_pass(
    decoder: WhisperBatchDecoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Exactly 10 s of speech on a 10 s input gets headroom, so Whisper ends its output
    instead of running on to the length limit and through every fallback temperature."""
    temperatures: list[float] = []
    generate = decoder.fallback.generate

    def counted(*args: Any, **settings: Any) -> list[Any]:
        temperatures.append(settings.get("sampling_temperature", 0.0))
        return generate(*args, **settings)

    monkeypatch.setattr(decoder.fallback, "generate", counted)
    audio = speech_audio(JFK)[: 10 * RATE]
    result = decode(decoder, audio, replace(GREEDY, encoder_seconds=10.0))
    assert temperatures == [0.0]
    assert "country" in text(result)
