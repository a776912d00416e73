"""Whisper on many windows at once: one encoder forward, one beam search and one alignment
pass for every window of a batch, each window decoded as `WhisperModel.transcribe` decodes it
alone.

Streams that become ready together share each model call, which costs far less than the same
calls one after another. A batch of one reproduces `FasterWhisperASR.transcribe` followed by
`ts_words` and `segments_end_ts` exactly: the same log-mel features, language detection, prompt,
temperature fallback, no-speech skip, seek loop when the output stops short of the window's end,
and word timing with faster-whisper's punctuation merging and duration clamps. faster-whisper's
own helpers do the per-window work; this module runs the seek loop and batches the model calls
around them, with one module per step: `whisper_language` (language detection),
`whisper_encoder` (the encoder input), `whisper_fallback` (temperature fallback) and
`whisper_words` (word timing and where the next pass resumes). The prompt, the token budget,
the retry after a forced prefix and the thresholds are `whisper_decoding`'s, which AlignAtt
decodes with too.

faster-whisper and CTranslate2 are imported only when a model is used: this backend is
registered whenever the backend registry is imported, whatever backend the server then runs,
and loading them takes a third of a second.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from asr_interface.audio import SAMPLING_RATE
from asr_interface.backends.decoding_options import DecodingOptions
from asr_interface.backends.faster_whisper_internals import WhisperInternals
from asr_interface.backends.whisper_decoding import (
    NO_SPEECH_SKIP_PROBABILITY,
    TOKEN_ALLOWANCE,
    TranscribeDefaults,
    WhisperDecoding,
    speech_words,
)
from asr_interface.backends.whisper_encoder import WhisperEncoder
from asr_interface.backends.whisper_fallback import TemperatureFallback
from asr_interface.backends.whisper_language import window_languages
from asr_interface.backends.whisper_seek import SeekPass, SeekWindow
from asr_interface.backends.whisper_words import WordTiming
from asr_interface.core.config import MAX_WINDOW_SECONDS
from asr_interface.core.decoding import WindowRequest, WindowResult

if TYPE_CHECKING:
    from faster_whisper import WhisperModel
    from faster_whisper.tokenizer import Tokenizer

__all__ = [
    "MAX_WINDOW_SAMPLES",
    "NO_SPEECH_SKIP_PROBABILITY",
    "TOKEN_ALLOWANCE",
    "BoundDecoder",
    "WhisperBatchDecoder",
    "speech_words",
]


MAX_WINDOW_SAMPLES = round(MAX_WINDOW_SECONDS * SAMPLING_RATE)
"""The longest window one decoding takes."""


class WhisperBatchDecoder:
    """Decodes windows of several streams with shared model calls.

    One decoder serves every stream of a loaded model (`FasterWhisperASR.window_decoder()`);
    `decode` keeps no state between calls and may run from several threads at once.
    """

    def __init__(self, model: WhisperModel) -> None:
        self.model = model
        self.whisper = WhisperInternals(model)
        self.multilingual = bool(self.whisper.converted.is_multilingual)
        self.parallel_calls = int(self.whisper.converted.num_workers)
        """How many calls the model runs at once (its CTranslate2 workers)."""
        self.decoding = WhisperDecoding(self.whisper, TranscribeDefaults.read())
        self.encoder = WhisperEncoder(self.whisper)
        self.fallback = TemperatureFallback(self.encoder, self.decoding)
        self.words = WordTiming(self.encoder, self.decoding)
        self._tokenizers: dict[tuple[str, str], Tokenizer] = {}
        self._tokenizers_lock = threading.Lock()

    def decode(
        self, requests: Sequence[WindowRequest], options: DecodingOptions
    ) -> list[WindowResult]:
        """Decodes every request with one batched model call per step; results in request order.

        Raises `ValueError` for a window that is not 1-D floating-point audio or is longer
        than 30 s, a language the model does not know, and translation on an English-only model.
        """
        for index, request in enumerate(requests):
            self._check(index, request, options)
        if not requests:
            return []
        features = [self.whisper.features(request.audio) for request in requests]
        languages = window_languages(self.whisper, self.encoder, requests, features, options)
        windows = [
            self._window(request, window_features, language, options)
            for request, window_features, language in zip(
                requests, features, languages, strict=True
            )
        ]
        while active := [window for window in windows if not window.done]:
            for group in self._by_encoder_input(active, options):
                self._decode_pass(group, options)
        return [window.result() for window in windows]

    def _by_encoder_input(
        self, windows: list[SeekWindow], options: DecodingOptions
    ) -> list[list[SeekWindow]]:
        """The windows grouped by the encoder input length their next slice gets alone, so
        that a window decodes in a batch exactly as it decodes alone (with the full 30 s
        input, one group)."""
        max_frames = self.whisper.max_frames
        groups: dict[int, list[SeekWindow]] = {}
        for window in windows:
            size = min(max_frames, window.content_frames - window.seek)
            groups.setdefault(self.encoder.frames(size, options), []).append(window)
        return list(groups.values())

    def _check(self, index: int, request: WindowRequest, options: DecodingOptions) -> None:
        audio = request.audio
        if not isinstance(audio, np.ndarray) or audio.ndim != 1:
            shape = getattr(audio, "shape", type(audio).__name__)
            raise ValueError(f"window {index}: audio must be a 1-D mono array, got shape {shape}")
        if not np.issubdtype(audio.dtype, np.floating):
            raise ValueError(
                f"window {index}: audio must be float samples in [-1, 1], got dtype {audio.dtype}"
            )
        if len(audio) > MAX_WINDOW_SAMPLES:
            raise ValueError(
                f"window {index}: at most {MAX_WINDOW_SECONDS:g} s of 16 kHz audio "
                f"({MAX_WINDOW_SAMPLES} samples) fit in one decoding, "
                f"got {len(audio) / SAMPLING_RATE:.2f} s"
            )
        supported = self.model.supported_languages
        if request.language is not None and request.language not in supported:
            raise ValueError(
                f"window {index}: the model does not know language {request.language!r}; "
                f"it knows {', '.join(supported)}"
            )
        if options.task == "translate" and not self.multilingual:
            raise ValueError("an English-only model cannot translate; use task='transcribe'")

    def _window(
        self,
        request: WindowRequest,
        features: npt.NDArray[np.float32],
        language: tuple[str, float],
        options: DecodingOptions,
    ) -> SeekWindow:
        tokenizer = self._tokenizer(options.task, language[0])
        window = SeekWindow(
            features=features,
            tokenizer=tokenizer,
            prefix=request.committed if options.force_committed else None,
            language=language[0],
            language_probability=language[1],
            final=request.final,
        )
        # As `transcribe` does with `initial_prompt`, but always as text.
        window.history.extend(self.decoding.text_tokens(request.prompt))
        return window

    def _tokenizer(self, task: str, language: str) -> Tokenizer:
        key = (task, language)
        with self._tokenizers_lock:
            if key not in self._tokenizers:
                self._tokenizers[key] = self.whisper.tokenizer(task, language)
            return self._tokenizers[key]

    def _decode_pass(self, windows: list[SeekWindow], options: DecodingOptions) -> None:
        """One pass of the seek loop over every window that has audio left to decode."""
        max_frames = self.whisper.max_frames
        sizes = [min(max_frames, window.content_frames - window.seek) for window in windows]
        slices = [
            window.features[:, window.seek : window.seek + size]
            for window, size in zip(windows, sizes, strict=True)
        ]
        batch = SeekPass(
            windows,
            self.encoder.encode(slices, options),
            sizes,
            [window.seek for window in windows],
        )
        batch.attempts = self.fallback.decode(batch, options)
        for index, (window, size, attempt) in enumerate(
            zip(windows, sizes, batch.attempts, strict=True)
        ):
            if self.decoding.is_silence(attempt):
                window.seek += size
                continue
            segments, window.seek, single_timestamp_ending = self.whisper.split_segments(
                window.tokenizer, attempt.tokens, window.seek, size
            )
            batch.splits[index] = (segments, single_timestamp_ending)
        self.words.time(batch, options)
        for index, (segments, _) in batch.splits.items():
            self.words.keep_segments(
                batch.windows[index], batch.starts[index], segments, batch.attempts[index]
            )


@dataclass(frozen=True)
class BoundDecoder:
    """A model's batched decoder with one set of options: the `WindowDecoder` a stream on
    that model steps with. Equal bound decoders (same model, same options) batch together."""

    decoder: WhisperBatchDecoder
    options: DecodingOptions

    def decode(self, requests: Sequence[WindowRequest]) -> list[WindowResult]:
        return self.decoder.decode(requests, self.options)

    @property
    def batch_key(self) -> BoundDecoder:
        return self

    @property
    def max_window_samples(self) -> int:
        """The longest window one decoding hears."""
        return MAX_WINDOW_SAMPLES

    @property
    def parallel_calls(self) -> int:
        return self.decoder.parallel_calls
