"""The interfaces a backend meets: the registered loader, the processor it builds and the
ASR object behind it are what `core.protocols` describes."""

from __future__ import annotations

import pytest

from asr_interface.backends.registry import get_loader
from asr_interface.core.config import ASRConfig
from asr_interface.core.processor import OnlineASRProcessor
from asr_interface.core.protocols import ASRBase, ASRProcessor, ModelLoader


class Unfinished:
    """A processor missing `finish`, which a stream cannot end with."""

    def init(self, offset: float | None = None) -> None: ...

    def insert_audio_chunk(self, audio: object) -> None: ...

    def process_iter(self) -> tuple[float | None, float | None, str]:
        return (None, None, "")


@pytest.mark.model
def test_built_in_backend_meets_the_protocols() -> None:
    """The default backend's loader, processor and ASR match the protocols; a processor
    without `finish` does not."""
    loader = get_loader(ASRConfig().backend)
    assert isinstance(loader, ModelLoader)
    processor, _ = loader.load(ASRConfig(model="tiny.en"))
    assert isinstance(processor, ASRProcessor)
    assert isinstance(processor, OnlineASRProcessor)
    asr = processor.asr
    assert isinstance(asr, ASRBase)
    assert asr.task == "transcribe"
    assert not isinstance(Unfinished(), ASRProcessor)
