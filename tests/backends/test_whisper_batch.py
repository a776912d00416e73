"""The batched decoder's cheaper decoding options on the real tiny.en model: a shortened
encoder input and the committed words forced as the decoder's prefix."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from asr_interface.audio import SAMPLING_RATE
from asr_interface.backends.decoding_options import WHISPER_STREAMING, DecodingOptions
from asr_interface.backends.registry import get_loader
from asr_interface.backends.whisper_batch import (
    TOKEN_ALLOWANCE,
    WhisperBatchDecoder,
    speech_words,
)
from asr_interface.backends.whisper_loader import FasterWhisperASR
from asr_interface.core.config import ASRConfig
from asr_interface.core.decoding import WindowRequest, WindowResult
from asr_interface.errors import ConfigError
from asr_interface.evaluation import word_error_rate, word_errors
from tests.speech import JFK, speech_audio

pytestmark = pytest.mark.model

RATE = SAMPLING_RATE
LONG = "long/ljspeech_LJ001-0001_to_0032.wav"
GREEDY = replace(WHISPER_STREAMING, beam_size=1)


WHISPER_STREAMING = ASRConfig(
    beam_size=5, encoder_seconds=None, tail_seconds=0.0, max_tokens_per_second=None
)
"""whisper_streaming's decoding: beam 5, a 30 s encoder input, every tail, no budget."""


@pytest.fixture(scope="module")
def asr() -> FasterWhisperASR:
    """tiny.en decoding as whisper_streaming does (`transcribe_recording` follows it)."""
    processor, _ = get_loader("faster-whisper").load(WHISPER_STREAMING)
    loaded = processor.asr  # type: ignore[attr-defined]
    assert isinstance(loaded, FasterWhisperASR)
    return loaded


@pytest.fixture(scope="module")
def decoder(asr: FasterWhisperASR) -> WhisperBatchDecoder:
    bound = asr.window_decoder()
    assert bound is not None
    return bound.decoder


def decode(
    decoder: WhisperBatchDecoder,
    audio: npt.NDArray[np.float32],
    options: DecodingOptions,
    **request: Any,
) -> WindowResult:
    (result,) = decoder.decode([WindowRequest(audio, language="en", **request)], options)
    return result


def text(result: WindowResult) -> str:
    return "".join(word for _, _, word in result.words)


@pytest.mark.parametrize(("seconds", "prompt"), [(2.0, ""), (5.0, "Good evening."), (11.0, "")])
def test_whisper_streaming_options_decode_exactly_as_faster_whisper(
    decoder: WhisperBatchDecoder, asr: FasterWhisperASR, seconds: float, prompt: str
) -> None:
    """With whisper_streaming's options (beam 5, a 30 s encoder input, nothing forced) a
    window decodes to faster-whisper's own words and times, prompt included."""
    audio = speech_audio(JFK)[: round(seconds * RATE)]
    expected = speech_words(asr.transcribe_recording(audio, prompt, "en"))
    assert expected
    assert decode(decoder, audio, WHISPER_STREAMING, prompt=prompt).words == expected


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


def test_short_tail_is_left_to_the_next_window_but_never_in_the_last(
    decoder: WhisperBatchDecoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A window whose 10 s encoder input leaves a short tail: with more audio to come the
    tail is left for the next window without another pass, while a stream's last window
    decodes it as `transcribe` would."""
    passes = 0
    generate = decoder.fallback.generate

    def counted(*args: Any, **settings: Any) -> list[Any]:
        nonlocal passes
        passes += 1
        return generate(*args, **settings)

    monkeypatch.setattr(decoder.fallback, "generate", counted)

    def decoded(options: DecodingOptions, final: bool = True) -> tuple[WindowResult, int]:
        nonlocal passes
        passes = 0
        return decode(decoder, audio, options, final=final), passes

    audio = speech_audio(LONG)[: round(11.5 * RATE)]
    options = replace(GREEDY, encoder_seconds=10.0, tail_seconds=2.0)
    every_tail, every_tail_passes = decoded(replace(options, tail_seconds=0.0))
    final, final_passes = decoded(options)
    going_on, going_on_passes = decoded(options, final=False)
    assert (final.words, final_passes, final.left_tail) == (every_tail.words, 2, False)
    assert going_on.words
    assert going_on.words == every_tail.words[: len(going_on.words)]
    assert (going_on_passes, going_on.left_tail) == (1, True)
    assert every_tail_passes == 2


def test_token_budget_stops_output_longer_than_the_audio_allows(
    decoder: WhisperBatchDecoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every pass stops at the budget of tokens per second of audio, which the speech of a
    normal window never reaches (a model repeating itself does at once)."""
    lengths: list[int] = []
    generate = decoder.fallback.generate

    def measured(*args: Any, **settings: Any) -> list[Any]:
        results = generate(*args, **settings)
        lengths.extend(len(result.sequences_ids[0]) for result in results)
        return results

    monkeypatch.setattr(decoder.fallback, "generate", measured)
    audio = speech_audio(JFK)
    unlimited = decode(decoder, audio, GREEDY)
    longest = max(lengths)
    budgeted = decode(decoder, audio, replace(GREEDY, max_tokens_per_second=12.0))
    assert budgeted.words == unlimited.words
    lengths.clear()
    decode(decoder, audio, replace(GREEDY, max_tokens_per_second=0.5))
    assert max(lengths) <= TOKEN_ALLOWANCE + math.ceil(0.5 * len(audio) / RATE) < longest
