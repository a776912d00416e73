"""The language of each window of a batch, on the real tiny.en model (detection by the
multilingual base model: tests/core/test_language.py)."""

from __future__ import annotations

from typing import Any

import pytest

from asr_interface.backends.decoding_options import WHISPER_STREAMING
from asr_interface.backends.faster_whisper_internals import WhisperInternals
from asr_interface.backends.registry import get_loader
from asr_interface.backends.whisper_encoder import WhisperEncoder
from asr_interface.backends.whisper_language import window_languages
from asr_interface.core.config import ASRConfig
from asr_interface.core.decoding import WindowRequest
from tests.speech import JFK, speech_audio


@pytest.mark.model
def test_english_only_model_never_runs_detection(monkeypatch: pytest.MonkeyPatch) -> None:
    """On tiny.en a window without a language is English for sure and a given language is
    kept, with no encoder pass spent on detection."""
    processor, _ = get_loader("faster-whisper").load(ASRConfig())
    whisper = WhisperInternals(processor.asr.model)  # type: ignore[attr-defined]
    encoder = WhisperEncoder(whisper)
    encodes: list[Any] = []
    encode = encoder.encode

    def counted(*args: Any) -> Any:
        encodes.append(args)
        return encode(*args)

    monkeypatch.setattr(encoder, "encode", counted)
    audio = speech_audio(JFK)
    requests = [WindowRequest(audio), WindowRequest(audio, language="en")]
    features = [whisper.features(audio) for _ in requests]
    languages = window_languages(whisper, encoder, requests, features, WHISPER_STREAMING)
    assert languages == [("en", 1.0), ("en", 1.0)]
    assert encodes == []
