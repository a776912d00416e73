"""Word times and where a pass resumes: a short tail is left to the next window while more
audio will come, on the real tiny.en model."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from asr_interface.backends.decoding_options import DecodingOptions
from asr_interface.backends.whisper_batch import WhisperBatchDecoder
from asr_interface.core.decoding import WindowResult
from tests.backends.batch_decoding import GREEDY, LONG, RATE, decode
from tests.speech import speech_audio

pytestmark = pytest.mark.model


@pytest.mark.parametrize("seconds", [11.0, 11.5, 12.0])
def test_short_tail_is_left_to_the_next_window_but_never_in_the_last(
    decoder: WhisperBatchDecoder, monkeypatch: pytest.MonkeyPatch, seconds: float
) -> None:
    """A window on a 10 s encoder input: a stream's last window decodes every tail, as
    `transcribe` would; with more audio to come, a tail shorter than `tail_seconds` after a
    pass is left for the next window, one pass sooner. (Whether a pass leaves such a tail
    depends on where the model ends it, which differs by CPU: here 11.5 s of the recording
    leaves one with AVX2 and AVX-512 kernels, none with the generic ones.)"""
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

    audio = speech_audio(LONG)[: round(seconds * RATE)]
    options = replace(GREEDY, encoder_seconds=10.0, tail_seconds=2.0)
    every_tail, every_tail_passes = decoded(replace(options, tail_seconds=0.0))
    final, final_passes = decoded(options)
    going_on, going_on_passes = decoded(options, final=False)
    assert every_tail.words and not every_tail.left_tail
    assert (final.words, final_passes, final.left_tail) == (
        every_tail.words,
        every_tail_passes,
        False,
    )
    assert going_on.words == every_tail.words[: len(going_on.words)]
    if going_on.left_tail:
        assert going_on_passes == every_tail_passes - 1
    else:
        assert (going_on.words, going_on_passes) == (every_tail.words, every_tail_passes)
