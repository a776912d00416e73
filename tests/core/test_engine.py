"""Engines over processors: the package's processors offer their own engine, and any other
whisper_streaming-style processor is driven through its `process_iter` and `finish`."""

from __future__ import annotations

import numpy as np
import pytest

from asr_interface.backends.whisper_loader import FasterWhisperASR
from asr_interface.core.engine import ProcessorEngine, engine_of
from asr_interface.core.processor import OnlineASRProcessor
from asr_interface.evaluation import normalize
from tests.oracle import OracleASRProcessor
from tests.speech import JFK, speech_audio
from tests.wording import heard


@pytest.mark.model
def test_plain_processor_is_driven_through_process_iter() -> None:
    """A processor with no `engine()` gets a `ProcessorEngine`, whose final step commits the
    whole recording with its times; the package's processor keeps its own engine."""
    asr = FasterWhisperASR("en", "tiny.en")
    engine = engine_of(OracleASRProcessor(asr))
    assert isinstance(engine, ProcessorEngine)
    assert not isinstance(engine_of(OnlineASRProcessor(asr)), ProcessorEngine)
    committed = engine.step(speech_audio(JFK), final=True).committed
    text = normalize(" ".join(text for _, _, text in committed))
    assert heard("ask not what your country can do for you", text)
    assert all(begin <= end for begin, end, _ in committed)


class Sparse:
    """A custom processor that, as the integration guide's engine does, returns None
    when nothing became final and its text when a segment did."""

    def __init__(self) -> None:
        self.samples = 0

    def init(self, offset: float | None = None) -> None:
        self.samples = 0

    def insert_audio_chunk(self, audio: object) -> None:
        self.samples += len(audio)  # type: ignore[arg-type]

    def process_iter(self) -> tuple[float, float, str] | None:
        return (0.0, 1.0, " one") if self.samples >= 16000 else None

    def finish(self) -> tuple[float, float, str] | None:
        return None


def test_none_from_a_custom_processor_is_nothing_final() -> None:
    """None from `process_iter` or `finish` commits nothing; a segment is committed."""
    engine = engine_of(Sparse())
    assert engine.step(np.zeros(8000, np.float32), final=False).committed == []
    assert engine.step(np.zeros(0, np.float32), final=True).committed == []
    assert engine.step(np.zeros(8000, np.float32), final=True).committed == [(0.0, 1.0, "one")]
