"""The faster-whisper backend: Whisper on CTranslate2 with word timestamps, streamed by
the standard `OnlineASRProcessor`, or by `VACOnlineASRProcessor` with `vac`."""

from __future__ import annotations

import sys
import threading
import weakref
from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TextIO

import numpy as np
import numpy.typing as npt

from asr_interface.backends.align_att import AlignAttDecoder, AlignAttOptions, AlignAttProcessor
from asr_interface.backends.decoding_options import WHISPER_STREAMING, DecodingOptions
from asr_interface.backends.faster_whisper_internals import WhisperInternals
from asr_interface.backends.model_resolution import resolve_model_path
from asr_interface.backends.shared_models import shared_whisper_model
from asr_interface.backends.silero_vad import VoiceActivityDetector
from asr_interface.backends.whisper_batch import (
    MAX_WINDOW_SAMPLES,
    NO_SPEECH_SKIP_PROBABILITY,
    BoundDecoder,
    WhisperBatchDecoder,
    speech_words,
)
from asr_interface.core.config import ASRConfig
from asr_interface.core.decoding import WindowRequest
from asr_interface.core.language import DetectedLanguage
from asr_interface.core.processor import OnlineASRProcessor
from asr_interface.core.protocols import ASRBase, TimedWord
from asr_interface.core.vac import VACOnlineASRProcessor
from asr_interface.errors import ConfigError

if TYPE_CHECKING:
    from faster_whisper import WhisperModel
    from faster_whisper.transcribe import Segment


__all__ = [
    "NO_SPEECH_SKIP_PROBABILITY",
    "FasterWhisperASR",
    "FasterWhisperLoader",
    "OnlineASRProcessor",
    "VACOnlineASRProcessor",
    "WhisperResult",
]

_batch_decoders: weakref.WeakKeyDictionary[WhisperModel, WhisperBatchDecoder] = (
    weakref.WeakKeyDictionary()
)
_batch_decoders_lock = threading.Lock()


class WhisperResult(list["Segment"]):
    """The segments of one transcription and the language they were decoded in; a list,
    as whisper_streaming's results are."""

    def __init__(self, segments: Iterable[Segment], language: str, probability: float) -> None:
        super().__init__(segments)
        self.language = language
        self.language_probability = probability


def _batch_decoder(model: WhisperModel) -> WhisperBatchDecoder:
    """The batched decoder of `model`, made once and shared by every ASR on it."""
    with _batch_decoders_lock:
        decoder = _batch_decoders.get(model)
        if decoder is None:
            decoder = _batch_decoders[model] = WhisperBatchDecoder(model)
    return decoder


_MODEL_DEFAULTS = ASRConfig()
"""The model settings (device, compute type, threads, workers) a drop-in `FasterWhisperASR`
loads with unless told: the configuration's."""


class FasterWhisperASR(ASRBase):
    """Whisper through faster-whisper, returning every word with its own times.

    Constructed like whisper_streaming's class, `FasterWhisperASR(lan, modelsize, cache_dir,
    model_dir)`, plus keyword-only model settings and `decoding`. The loaded model is shared
    by every instance with the same weights and settings. English-only models accept only
    `lan="en"` and no translation; anything else raises `ConfigError`.

    The model settings default to `ASRConfig`'s; `decoding` to whisper_streaming's
    (`WHISPER_STREAMING`: beam 5, 30 s encoder input, every tail decoded). `ASRConfig`'s
    decoding defaults are the cheaper ones the server uses, and the loader
    passes `DecodingOptions.from_config(config)`. Streams step through `window_decoder()`,
    which may decode many streams' windows in one call; `transcribe` decodes one window the
    same way.
    """

    sep = ""  # faster-whisper words carry their leading space

    def __init__(
        self,
        lan: str,
        modelsize: str | None = None,
        cache_dir: str | None = None,
        model_dir: str | None = None,
        logfile: TextIO = sys.stderr,
        *,
        device: str = _MODEL_DEFAULTS.device,
        compute_type: str = _MODEL_DEFAULTS.compute_type,
        cpu_threads: int = _MODEL_DEFAULTS.cpu_threads,
        num_workers: int = _MODEL_DEFAULTS.num_workers,
        decoding: DecodingOptions | None = None,
    ) -> None:
        # Set before the base constructor, which calls `load_model`.
        self.device = device
        self.compute_type = compute_type
        self.cpu_threads = cpu_threads
        self.num_workers = num_workers
        self.decoding = decoding or WHISPER_STREAMING
        self.vad = False
        self.model: WhisperModel
        super().__init__(lan, modelsize, cache_dir, model_dir, logfile)
        if self.original_language != "en" and not self.multilingual:
            raise ConfigError(
                f"model {self.model_name!r} is English-only, so lan must be 'en', got {lan!r}; "
                "use a multilingual model such as 'base' for other languages or detection"
            )
        if self.decoding.task == "translate":
            self.set_translate_task()

    def load_model(
        self,
        modelsize: str | None = None,
        cache_dir: str | None = None,
        model_dir: str | None = None,
    ) -> WhisperModel:
        """Resolves the model to a local directory and returns the shared loaded model."""
        self.model_name = model_dir if model_dir is not None else modelsize
        self.model_path = resolve_model_path(modelsize, model_dir=model_dir, cache_dir=cache_dir)
        return shared_whisper_model(
            self.model_path,
            device=self.device,
            compute_type=self.compute_type,
            cpu_threads=self.cpu_threads,
            num_workers=self.num_workers,
        )

    @property
    def multilingual(self) -> bool:
        """Whether the model knows languages other than English (and can translate)."""
        return bool(WhisperInternals(self.model).converted.is_multilingual)

    def transcribe(
        self,
        audio: npt.NDArray[np.float32],
        init_prompt: str = "",
        language: str | None = None,
        *,
        committed: str = "",
        final: bool = True,
    ) -> WhisperResult:
        """Decodes the audio into segments with word timestamps, in `language` when given,
        else in the configured language (detected per call with `lan="auto"`).

        A window (up to 30 s) is decoded by `window_decoder()`, exactly as a stream's step
        decodes it; a longer recording, or any audio with `use_vad`, by faster-whisper's own
        loop. `committed` and `final` are a `WindowRequest`'s."""
        language = language or self.original_language
        decoder = self.window_decoder()
        if decoder is not None and len(audio) <= MAX_WINDOW_SAMPLES:
            request = WindowRequest(audio, init_prompt, committed, language, final)
            (result,) = decoder.decode([request])
            language = result.language or ""
            return WhisperResult(result.segments, language, result.language_probability)
        return self.transcribe_recording(audio, init_prompt, language)

    def transcribe_recording(
        self, audio: npt.NDArray[np.float32], init_prompt: str = "", language: str | None = None
    ) -> WhisperResult:
        """faster-whisper's `transcribe` with this ASR's settings: audio of any length, the
        encoder always fed 30 s, with faster-whisper's VAD when `use_vad` was called."""
        # Token ids, so that the prompt is read as text; none would still prompt the decoder
        # with a lone space.
        prompt = _batch_decoder(self.model).decoding.text_tokens(init_prompt)
        segments, info = self.model.transcribe(
            audio,
            language=language,
            initial_prompt=prompt or None,
            beam_size=self.decoding.beam_size,
            word_timestamps=True,
            condition_on_previous_text=True,
            task=self.task,
            vad_filter=self.vad,
        )
        return WhisperResult(segments, info.language, info.language_probability)

    def detected_language(self, result: WhisperResult) -> DetectedLanguage:
        """The language `result` was decoded in and Whisper's probability for it (1 when it
        was given rather than detected)."""
        return DetectedLanguage(result.language, result.language_probability)

    def ts_words(self, result: list[Segment]) -> list[TimedWord]:
        """Every word of the segments that are likely speech."""
        return speech_words(result)

    def segments_end_ts(self, result: list[Segment]) -> list[float]:
        """The end time of every segment."""
        return [segment.end for segment in result]

    def use_vad(self) -> None:
        """Lets faster-whisper's Silero VAD drop non-speech before decoding."""
        self.vad = True

    def window_decoder(self) -> BoundDecoder | None:
        """The decoder this ASR's streams step with: its model's batched decoder, shared by
        every ASR on that model, with this ASR's options; None with faster-whisper's VAD,
        which cuts each window differently before decoding, so `transcribe` decodes."""
        if self.vad:
            return None
        return BoundDecoder(_batch_decoder(self.model), self.decoding)

    def set_translate_task(self) -> None:
        """Translates into English; English-only models cannot, and raise `ConfigError`."""
        if not self.multilingual:
            raise ConfigError(
                f"model {self.model_name!r} is English-only and cannot translate; "
                "use task='transcribe' or a multilingual model such as 'base'"
            )
        super().set_translate_task()
        self.decoding = replace(self.decoding, task="translate")

    def describe(self) -> dict[str, Any]:
        """What was loaded and where it runs, as reported to clients and logs."""
        converted = WhisperInternals(self.model).converted
        return {
            "model": self.model_name,
            "path": str(self.model_path),
            "device": converted.device,
            "compute_type": converted.compute_type,
            "separator": self.sep,
            "languages": list(self.model.supported_languages),
            "multilingual": self.multilingual,
        }


class FasterWhisperLoader:
    """Builds one processor per stream over a shared faster-whisper model. Its processors
    cap the window at 30 s, which the server counts on: a stream's memory and step cost
    stay bounded however long nothing is trimmed (the drop-in has no cap unless asked)."""

    def load(
        self, config: ASRConfig
    ) -> tuple[OnlineASRProcessor | VACOnlineASRProcessor | AlignAttProcessor, dict[str, Any]]:
        """Returns a fresh processor for `config` (behind voice activity control with
        `vac`) and the model's metadata.

        Raises `ModelLoadError` when the model cannot be found or loaded and `ConfigError`
        when it cannot serve the configured language or task.
        """
        asr = FasterWhisperASR(
            config.lan,
            config.model,
            cache_dir=config.model_cache_dir,
            model_dir=config.model_dir,
            device=config.device,
            compute_type=config.compute_type,
            cpu_threads=config.cpu_threads,
            num_workers=config.num_workers,
            decoding=DecodingOptions.from_config(config),
        )
        if config.vad:
            asr.use_vad()
        if config.policy == "align-att":
            return self._align_att(config, asr), {**asr.describe(), "backend": config.backend}
        trimming = (config.buffer_trimming, config.buffer_trimming_sec)
        processor: OnlineASRProcessor | VACOnlineASRProcessor
        if config.vac:
            processor = VACOnlineASRProcessor(
                config.min_chunk_size,
                asr,
                buffer_trimming=trimming,
                detector=VoiceActivityDetector(),
            )
        else:
            processor = OnlineASRProcessor(
                asr,
                buffer_trimming=trimming,
                min_chunk_sec=config.min_chunk_size,
            )
        return processor, {**asr.describe(), "backend": config.backend}

    @staticmethod
    def _align_att(config: ASRConfig, asr: FasterWhisperASR) -> AlignAttProcessor:
        """A stream under the AlignAtt policy over the same loaded model (the configuration
        refuses what the policy cannot serve: detection, voice activity control)."""
        assert asr.original_language is not None
        decoder = AlignAttDecoder(asr.model, language=asr.original_language, task=asr.task)
        return AlignAttProcessor(decoder, AlignAttOptions.from_config(config))
