"""A loaded configuration opens one engine per stream, over the model it loaded once."""

from __future__ import annotations

import pytest

from asr_interface.backends.loaded import load_model
from asr_interface.core.config import ASRConfig
from asr_interface.core.processor import AgreementEngine
from asr_interface.evaluation import normalize
from tests.speech import JFK, speech_audio
from tests.wording import heard


@pytest.mark.model
def test_each_stream_gets_its_own_engine_over_the_shared_model() -> None:
    """Two streams opened from one load share the Whisper model but not their state: what
    one stream commits, the other never sees."""
    loaded = load_model(ASRConfig())
    assert loaded.metadata["backend"] == "faster-whisper"
    first, second = loaded.open_stream(), loaded.open_stream()
    assert isinstance(first, AgreementEngine) and isinstance(second, AgreementEngine)
    assert first.processor is not second.processor
    assert first.processor.asr.model is second.processor.asr.model  # type: ignore[attr-defined]
    committed = first.step(speech_audio(JFK), final=True).committed
    assert heard("ask not what your country", normalize(" ".join(w for _, _, w in committed)))
    assert second.step(speech_audio(JFK)[:0], final=True).committed == []
