"""A custom speech model streamed by the standard `OnlineASRProcessor`.

Many engines report only when a segment starts and ends, not each word. This example adapts
such an engine, Whisper with word timestamps switched off: `SegmentTimedWhisperASR` spreads
each segment's time over its words in proportion to their length. LocalAgreement compares
texts, so streaming works unchanged; the rougher times make it drop a word now and then
where a later pass moves a word's start back before the last committed one. Any engine
that returns timed words fits the same way: subclass `ASRBase`, write a `ModelLoader`,
register it under a name.

    python examples/custom_asr_model.py ../shared/speech/misc/jfk.wav

Served, it is selected with the backend name `segment-timed-whisper` (docs/custom-backends.md):

    PYTHONPATH=examples asr-interface serve --plugin custom_asr_model
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from asr_interface.audio import load_audio
from asr_interface.backends.model_resolution import resolve_model_path
from asr_interface.backends.registry import get_loader, register_loader
from asr_interface.backends.shared_models import shared_whisper_model
from asr_interface.core.config import ASRConfig
from asr_interface.core.processor import OnlineASRProcessor
from asr_interface.core.protocols import ASRBase, TimedWord
from asr_interface.simulation import simulate

if TYPE_CHECKING:
    from faster_whisper import WhisperModel
    from faster_whisper.transcribe import Segment

BACKEND_NAME = "segment-timed-whisper"


class SegmentTimedWhisperASR(ASRBase):
    """Whisper segments whose words get times interpolated by character count."""

    sep = " "  # words come from splitting the segment text, so they carry no spaces

    def __init__(
        self,
        lan: str,
        modelsize: str | None = None,
        cache_dir: str | None = None,
        model_dir: str | None = None,
        **options: Any,
    ) -> None:
        self.vad = False
        super().__init__(lan, modelsize, cache_dir, model_dir, **options)

    def load_model(
        self,
        modelsize: str | None = None,
        cache_dir: str | None = None,
        model_dir: str | None = None,
    ) -> WhisperModel:
        path = resolve_model_path(modelsize, model_dir=model_dir, cache_dir=cache_dir)
        return shared_whisper_model(
            path,
            device=self.options.get("device", "cpu"),
            compute_type=self.options.get("compute_type", "int8"),
            cpu_threads=self.options.get("cpu_threads", 0),
        )

    def transcribe(self, audio: npt.NDArray[np.float32], init_prompt: str = "") -> list[Segment]:
        segments, _info = self.model.transcribe(
            audio,
            language=self.original_language,
            initial_prompt=init_prompt or None,
            beam_size=self.options.get("beam_size", 5),
            task=self.task,
            vad_filter=self.vad,
        )
        return list(segments)

    def ts_words(self, result: list[Segment]) -> list[TimedWord]:
        words: list[TimedWord] = []
        for segment in result:
            texts = segment.text.split()
            seconds_per_char = (segment.end - segment.start) / max(1, sum(map(len, texts)))
            start = segment.start
            for text in texts:
                end = start + len(text) * seconds_per_char
                words.append((start, end, text))
                start = end
        return words

    def segments_end_ts(self, result: list[Segment]) -> list[float]:
        return [segment.end for segment in result]

    def use_vad(self) -> None:
        self.vad = True


class SegmentTimedWhisperLoader:
    """One `OnlineASRProcessor` per stream over `SegmentTimedWhisperASR`."""

    def load(self, config: ASRConfig) -> tuple[OnlineASRProcessor, dict[str, Any]]:
        asr = SegmentTimedWhisperASR(
            config.lan,
            config.model,
            config.model_cache_dir,
            config.model_dir,
            device=config.device,
            compute_type=config.compute_type,
            cpu_threads=config.cpu_threads,
            beam_size=config.beam_size,
        )
        if config.task == "translate":
            asr.set_translate_task()
        if config.vad:
            asr.use_vad()
        processor = OnlineASRProcessor(
            asr,
            buffer_trimming=(config.buffer_trimming, config.buffer_trimming_sec),
            min_chunk_sec=config.min_chunk_size,
        )
        return processor, {"backend": config.backend, "model": config.model, "separator": asr.sep}


register_loader(BACKEND_NAME, SegmentTimedWhisperLoader())


def main(argv: list[str]) -> None:
    """Streams the audio file named on the command line and prints the transcript."""
    if len(argv) != 1:
        sys.exit(f"usage: python {sys.argv[0]} AUDIO_FILE")
    config = ASRConfig(backend=BACKEND_NAME)
    processor, _metadata = get_loader(config.backend).load(config)
    result = simulate(
        processor, load_audio(argv[0]), min_chunk_sec=config.min_chunk_size, compute_aware=False
    )
    print(result.text)


if __name__ == "__main__":
    main(sys.argv[1:])
