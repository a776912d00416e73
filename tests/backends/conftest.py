"""The batched decoder of tiny.en, loaded once per test module that asks for it."""

from __future__ import annotations

import pytest

from asr_interface.backends.registry import get_loader
from asr_interface.backends.whisper_batch import WhisperBatchDecoder
from asr_interface.backends.whisper_loader import FasterWhisperASR
from tests.backends.batch_decoding import WHISPER_STREAMING


@pytest.fixture(scope="module")
def asr() -> FasterWhisperASR:
    """tiny.en decoding as whisper_streaming does (`transcribe_recording` follows it)."""
    processor, _ = get_loader("faster-whisper").load(WHISPER_STREAMING)
    loaded = processor.asr  # type: ignore[attr-defined]
    assert isinstance(loaded, FasterWhisperASR)
    return loaded


@pytest.fixture(scope="module")
def decoder(asr: FasterWhisperASR) -> WhisperBatchDecoder:
    """The batched decoder behind `asr`."""
    bound = asr.window_decoder()
    assert bound is not None
    return bound.decoder
