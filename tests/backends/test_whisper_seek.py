"""A window's progress through the seek loop, with the real tiny.en tokenizer and features."""

from __future__ import annotations

import numpy as np
import pytest

from asr_interface.backends.faster_whisper_internals import WhisperInternals
from asr_interface.backends.registry import get_loader
from asr_interface.backends.whisper_seek import SeekWindow
from asr_interface.core.config import ASRConfig


@pytest.mark.model
def test_window_is_done_once_the_seek_passes_its_content() -> None:
    """Two seconds of audio are 200 content frames (the features' extra frame is not
    content); the window is done at its end, and a window that found no speech gives an
    empty result in its language."""
    processor, _ = get_loader("faster-whisper").load(ASRConfig())
    whisper = WhisperInternals(processor.asr.model)  # type: ignore[attr-defined]
    window = SeekWindow(
        features=whisper.features(np.zeros(2 * 16000, dtype=np.float32)),
        tokenizer=whisper.tokenizer("transcribe", "en"),
        prefix=None,
        language="en",
        language_probability=1.0,
        final=True,
    )
    assert window.content_frames == 200
    assert not window.done
    window.seek = 199
    assert not window.done
    window.seek = 200
    assert window.done
    result = window.result()
    assert (result.words, result.segment_ends, result.language) == ([], [], "en")
    assert not result.left_tail
