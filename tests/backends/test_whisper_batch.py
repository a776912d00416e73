"""The batched decoder on the real tiny.en model: faster-whisper's own words under
whisper_streaming's options, the committed words forced as the decoder's prefix, and the
range of the encoder input (its shortening: test_whisper_encoder.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from asr_interface.backends.registry import get_loader
from asr_interface.backends.whisper_batch import (
    WhisperBatchDecoder,
    speech_words,
)
from asr_interface.backends.whisper_loader import FasterWhisperASR
from asr_interface.core.config import ASRConfig
from asr_interface.errors import ConfigError
from asr_interface.evaluation import word_error_rate
from tests.backends.batch_decoding import (
    GREEDY,
    LONG,
    RATE,
    WHISPER_STREAMING_DECODING,
    decode,
    text,
)
from tests.speech import JFK, speech_audio

pytestmark = pytest.mark.model


@pytest.mark.parametrize(("seconds", "prompt"), [(2.0, ""), (5.0, "Good evening."), (11.0, "")])
def test_whisper_streaming_options_decode_exactly_as_faster_whisper(
    decoder: WhisperBatchDecoder, asr: FasterWhisperASR, seconds: float, prompt: str
) -> None:
    """With whisper_streaming's options (beam 5, a 30 s encoder input, nothing forced) a
    window decodes to faster-whisper's own words and times, prompt included."""
    audio = speech_audio(JFK)[: round(seconds * RATE)]
    expected = speech_words(asr.transcribe_recording(audio, prompt, "en"))
    assert expected
    assert decode(decoder, audio, WHISPER_STREAMING_DECODING, prompt=prompt).words == expected


def test_forced_prefix_ending_a_sentence_keeps_the_speech_after_it(
    decoder: WhisperBatchDecoder,
) -> None:
    """Committed text that ends a sentence, forced as the prefix, still lets the next
    sentence of the window be decoded, with the words the unforced decoding gives."""
    audio = speech_audio(LONG)[: 17 * RATE]  # a dozen words after the first sentence
    free = decode(decoder, audio, GREEDY)
    first_end = next(i for i, (_, _, word) in enumerate(free.words) if word.endswith("."))
    committed = "".join(word for _, _, word in free.words[: first_end + 1])
    rest = "".join(word for _, _, word in free.words[first_end + 1 :])
    assert rest.strip(), "the window must hold speech after its first sentence"
    forced = decode(decoder, audio, replace(GREEDY, force_committed=True), committed=committed)
    assert text(forced).startswith(committed)
    assert word_error_rate(rest, text(forced)[len(committed) :]) <= 0.2


@pytest.mark.parametrize("seconds", [0, -1, 31, 0.015])
def test_encoder_seconds_out_of_range_is_refused(seconds: float) -> None:
    """An encoder input that is empty, longer than Whisper's 30 s or off its 20 ms grid is
    a configuration error naming the option."""
    with pytest.raises((ValueError, ConfigError), match="encoder_seconds"):
        get_loader("faster-whisper").load(ASRConfig(encoder_seconds=seconds))
