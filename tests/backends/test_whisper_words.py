"""Word times and where a pass resumes: a short tail is left to the next window while more
audio will come, on the real tiny.en model."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from asr_interface.backends.decoding_options import DecodingOptions
from asr_interface.backends.whisper_batch import WhisperBatchDecoder
from asr_interface.core.decoding import WindowResult
from tests.backends.batch_decoding import LONG, RATE, decode
from tests.speech import speech_audio

pytestmark = pytest.mark.model


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
    options = DecodingOptions(beam_size=1, encoder_seconds=10.0, tail_seconds=2.0)
    every_tail, every_tail_passes = decoded(replace(options, tail_seconds=0.0))
    final, final_passes = decoded(options)
    going_on, going_on_passes = decoded(options, final=False)
    assert (final.words, final_passes, final.left_tail) == (every_tail.words, 2, False)
    assert going_on.words
    assert going_on.words == every_tail.words[: len(going_on.words)]
    assert (going_on_passes, going_on.left_tail) == (1, True)
    assert every_tail_passes == 2
