"""The decoder interface: a whisper_streaming-style ASR without a decoder of its own is
called as whisper_streaming calls it, with only the keywords its `transcribe` declares."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from asr_interface.backends.whisper_loader import FasterWhisperASR
from asr_interface.core.decoding import TimedWord, TranscribeDecoder, WindowRequest, decoder_for
from tests.speech import JFK, speech_audio
from tests.wording import heard


class PlainASR:
    """The real model behind the two-argument `transcribe` of whisper_streaming."""

    sep = ""

    def __init__(self, model: FasterWhisperASR) -> None:
        self.model = model

    def transcribe(self, audio: npt.NDArray[np.float32], init_prompt: str = "") -> Any:
        return self.model.transcribe(audio, init_prompt)

    def ts_words(self, result: Any) -> list[TimedWord]:
        return self.model.ts_words(result)

    def segments_end_ts(self, result: Any) -> list[float]:
        return self.model.segments_end_ts(result)


@pytest.mark.model
def test_plain_asr_gets_only_what_its_transcribe_takes() -> None:
    """A request with a language and committed text decodes through a `transcribe` that takes
    neither (passing them would raise), and the result carries no detected language."""
    decoder = decoder_for(PlainASR(FasterWhisperASR("en", "tiny.en")))
    assert isinstance(decoder, TranscribeDecoder)
    request = WindowRequest(speech_audio(JFK), language="en", committed="And so", final=True)
    (result,) = decoder.decode([request])
    assert heard("ask not what your country", "".join(word for _, _, word in result.words))
    assert (result.language, result.language_probability) == (None, 1.0)
    assert result.segment_ends
