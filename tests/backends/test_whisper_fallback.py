"""The temperature fallback generates within the token budget of its windows, on the real
tiny.en model."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import pytest

from asr_interface.backends.whisper_batch import TOKEN_ALLOWANCE, WhisperBatchDecoder
from tests.backends.batch_decoding import GREEDY, RATE, decode
from tests.speech import JFK, speech_audio

pytestmark = pytest.mark.model


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
