"""A complete custom streaming engine, registered as a backend.

`WholeUtteranceEngine` implements the `ASRProcessor` protocol itself instead of using
`OnlineASRProcessor`: it keeps every chunk of an utterance and transcribes them in one pass
when the utterance ends. Nothing is final before `finish()`, so latency is the utterance
length, but Whisper sees the whole context at once, which suits short commands and
push-to-talk clients. The model is the shared Whisper model the standard backend uses.

    python examples/custom_processor_engine.py ../shared/speech/misc/jfk.wav

Served, it is selected with the backend name `whole-utterance` (docs/custom-backends.md):

    PYTHONPATH=examples asr-interface serve --plugin custom_processor_engine
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from asr_interface.audio import SAMPLING_RATE, load_audio
from asr_interface.backends.model_resolution import resolve_model_path
from asr_interface.backends.registry import get_loader, register_loader
from asr_interface.backends.shared_models import shared_whisper_model
from asr_interface.core.config import ASRConfig
from asr_interface.core.protocols import TimedText
from asr_interface.simulation import simulate

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

BACKEND_NAME = "whole-utterance"


class WholeUtteranceEngine:
    """Transcribes each utterance once, at its end."""

    def __init__(self, model: WhisperModel, *, language: str | None, beam_size: int) -> None:
        self.model = model
        self.language = language
        self.beam_size = beam_size
        self.init()

    def init(self, offset: float | None = None) -> None:
        self._chunks: list[npt.NDArray[np.float32]] = []
        self._offset = offset or 0.0

    def insert_audio_chunk(self, audio: npt.NDArray[Any]) -> None:
        samples = np.asarray(audio)
        if samples.ndim != 1:
            raise ValueError(f"expected 1-D audio, got shape {samples.shape}")
        if samples.dtype == np.int16:
            samples = samples / 32768.0
        self._chunks.append(samples.astype(np.float32))

    def process_iter(self) -> TimedText | None:
        return None  # nothing is final before the utterance ends

    def finish(self) -> TimedText | None:
        audio = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.float32)
        offset = self._offset
        self.init(offset + len(audio) / SAMPLING_RATE)
        if len(audio) == 0:
            return None
        segments, _info = self.model.transcribe(
            audio, language=self.language, beam_size=self.beam_size
        )
        segments = list(segments)
        text = "".join(segment.text for segment in segments).strip()
        if not text:
            return None
        return offset + segments[0].start, offset + segments[-1].end, text


class WholeUtteranceLoader:
    """One `WholeUtteranceEngine` per stream over the shared Whisper model."""

    def load(self, config: ASRConfig) -> tuple[WholeUtteranceEngine, dict[str, Any]]:
        path = resolve_model_path(
            config.model, model_dir=config.model_dir, cache_dir=config.model_cache_dir
        )
        model = shared_whisper_model(
            path,
            device=config.device,
            compute_type=config.compute_type,
            cpu_threads=config.cpu_threads,
            num_workers=config.num_workers,
        )
        language = None if config.lan == "auto" else config.lan
        engine = WholeUtteranceEngine(model, language=language, beam_size=config.beam_size)
        return engine, {"backend": config.backend, "model": config.model, "path": str(path)}


register_loader(BACKEND_NAME, WholeUtteranceLoader())


def main(argv: list[str]) -> None:
    """Streams the audio file named on the command line and prints the transcript."""
    if len(argv) != 1:
        sys.exit(f"usage: python {sys.argv[0]} AUDIO_FILE")
    config = ASRConfig(backend=BACKEND_NAME)
    engine, _metadata = get_loader(config.backend).load(config)
    result = simulate(
        engine, load_audio(argv[0]), min_chunk_sec=config.min_chunk_size, compute_aware=False
    )
    print(result.text)


if __name__ == "__main__":
    main(sys.argv[1:])
