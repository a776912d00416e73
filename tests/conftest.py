"""Settings and fixtures shared by the whole suite."""

from __future__ import annotations

import os
from dataclasses import replace
from typing import TYPE_CHECKING

import pytest
from hypothesis import settings

from asr_interface.backends.whisper_decoding import WhisperDecoding
from asr_interface.backends.whisper_fallback import TemperatureFallback

if TYPE_CHECKING:
    from asr_interface.backends.decoding_options import DecodingOptions
    from asr_interface.backends.whisper_decoding import Attempt
    from asr_interface.backends.whisper_seek import SeekPass

# "ci" keeps the suite fast; HYPOTHESIS_PROFILE=deep runs many more and longer examples.
settings.register_profile("ci", max_examples=300, stateful_step_count=40, deadline=None)
settings.register_profile("deep", max_examples=5000, stateful_step_count=120, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def beam_search_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """For one test, the temperature fallback of every Whisper decoder in this process
    stops after beam search: a window whose beam search output looks like a failure keeps
    it, as a window keeps its likeliest attempt when every temperature fails.

    The higher temperatures sample with CTranslate2's random generator: one per thread,
    seeded once when the thread first samples, and never reseeded per call. A sampled
    window's words therefore depend on whatever that thread sampled before, in this test or
    an earlier one. Tests of properties other than the fallback (batched equals alone, where
    a cut lands, which words a translation holds) use this fixture so that they cannot pass
    or fail by chance.
    """
    decode = TemperatureFallback.decode

    def beam_search(
        fallback: TemperatureFallback, batch: SeekPass, options: DecodingOptions
    ) -> list[Attempt]:
        decoding = fallback.decoding
        defaults = replace(decoding.defaults, temperature=(0.0,))
        beam_only = TemperatureFallback(
            fallback.encoder, WhisperDecoding(decoding.whisper, defaults)
        )
        return decode(beam_only, batch, options)

    monkeypatch.setattr(TemperatureFallback, "decode", beam_search)
