"""The one model step, as the drop-in processor runs it: a whisper_streaming-style ASR object
may read the processor's state while it transcribes, as it may in whisper_streaming."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from asr_interface.audio import SAMPLING_RATE
from asr_interface.backends.whisper_loader import FasterWhisperASR
from asr_interface.core.decoding import TranscribeDecoder
from asr_interface.core.processor import OnlineASRProcessor
from asr_interface.core.protocols import TimedWord
from tests.speech import JFK, speech_audio
from tests.wording import heard

RATE = SAMPLING_RATE


class ProcessorReadingASR:
    """Transcribes with the real model and, on each call, reads the processor's public state."""

    sep = ""

    def __init__(self, model: FasterWhisperASR) -> None:
        self.model = model
        self.processor: OnlineASRProcessor | None = None
        self.seen: list[tuple[float, int, int]] = []

    def transcribe(self, audio: npt.NDArray[np.float32], init_prompt: str = "") -> Any:
        processor = self.processor
        assert processor is not None
        self.seen.append(
            (processor.buffer_time_offset, len(processor.audio_buffer), len(processor.commited))
        )
        return self.model.transcribe(audio, init_prompt)

    def ts_words(self, result: Any) -> list[TimedWord]:
        return self.model.ts_words(result)

    def segments_end_ts(self, result: Any) -> list[float]:
        return self.model.segments_end_ts(result)


@pytest.mark.model
def test_asr_may_read_the_processor_while_it_transcribes() -> None:
    """No borrow of the Rust core is held while Python code runs: an ASR reading
    `buffer_time_offset`, `audio_buffer` and `commited` from inside `transcribe` streams JFK."""
    asr = ProcessorReadingASR(FasterWhisperASR("en", "tiny.en"))
    processor = OnlineASRProcessor(asr)
    asr.processor = processor
    assert isinstance(processor.decoder, TranscribeDecoder)
    audio = speech_audio(JFK)
    text = ""
    for start in range(0, len(audio), RATE):
        processor.insert_audio_chunk(audio[start : start + RATE])
        text += processor.process_iter()[2]
    text += processor.finish()[2]
    assert len(asr.seen) == len(range(0, len(audio), RATE))
    assert [samples for _, samples, _ in asr.seen] == sorted(s for _, s, _ in asr.seen)
    assert heard("ask what you can do for your country", text)
