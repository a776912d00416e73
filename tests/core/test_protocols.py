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


class Preloaded(ASRBase):
    """The integration guide's model: it sets `self.model` itself, then calls the base
    constructor, and writes no `load_model`."""

    def __init__(self, model_size: str, language: str) -> None:
        self.model = f"weights of {model_size}"
        super().__init__(language, model_size)

    def transcribe(self, audio: object, init_prompt: str = "") -> dict[str, object]:
        return {"segments": []}

    def ts_words(self, result: object) -> list[tuple[float, float, str]]:
        return [(0.0, 0.5, "word")]

    def segments_end_ts(self, result: object) -> list[float]:
        return []

    def use_vad(self) -> None:
        pass


class Unloaded(Preloaded):
    """A model that neither sets `self.model` nor says how to load it."""

    def __init__(self, model_size: str, language: str) -> None:
        ASRBase.__init__(self, language, model_size)


def test_model_set_before_the_base_constructor_needs_no_load_model() -> None:
    """A subclass that sets `self.model` keeps it and needs no `load_model`; one that does
    neither is told which of the two to write."""
    asr = Preloaded("tiny", "en")
    assert asr.model == "weights of tiny"
    assert (asr.lan, asr.modelsize, asr.original_language) == ("en", "tiny", "en")
    with pytest.raises(NotImplementedError, match=r"set self.model .* or override load_model"):
        Unloaded("tiny", "en")
