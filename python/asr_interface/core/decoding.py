"""The decoder interface: what one model step asks of a model, and what it gets back.

Every caller that runs a model step (the drop-in processor's `process_iter`, voice activity
control, the server's engines alone and batched, `simulate`, `evaluate`, `transcribe` and the
benchmarks) hands a `WindowDecoder` the windows to decode and reads `WindowResult`s. Two kinds
plug in: `TranscribeDecoder` adapts any whisper_streaming-style ASR object (`transcribe`,
`ts_words`, `segments_end_ts`), and a backend may offer its own decoder, which may decode many
streams' windows in one call (the faster-whisper backend's batched decoder).
"""

from __future__ import annotations

import inspect
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

TimedWord = tuple[float, float, str]
"""A word or piece of text with its start and end time in seconds."""


@dataclass(frozen=True)
class WindowRequest:
    """One stream's window, as the processor's `window_request()` hands it out."""

    audio: npt.NDArray[np.float32]
    """16 kHz mono samples; only read, never written."""
    prompt: str = ""
    """Committed text before the window (whisper_streaming's `init_prompt`)."""
    committed: str = ""
    """Committed text inside the window, which a decoder may force as its prefix."""
    language: str | None = None
    """The language code to decode in; None lets the model detect it (multilingual models)."""
    final: bool = True
    """Whether no audio follows this window: a stream's final window is decoded in full,
    while before it a decoder may leave a short tail to the next window."""


@dataclass(frozen=True)
class WindowResult:
    """What the processor's `commit()` needs from the model, and the language it decoded in."""

    words: list[TimedWord]
    """Every word of the likely-speech segments, relative to the window start (`ts_words`)."""
    segment_ends: list[float]
    """The end of every segment (`segments_end_ts`)."""
    language: str | None = None
    """The language the window was decoded in, when the model says."""
    language_probability: float = 1.0
    """The model's probability for `language`; 1.0 when the language was given."""
    segments: Sequence[Any] = field(default_factory=list)
    """The model's own result (faster-whisper's segments), for callers that want more."""
    left_tail: bool = False
    """Whether the decoder left audio after the last word undecoded, for the next window
    (only for a request that is not `final`)."""


@runtime_checkable
class WindowDecoder(Protocol):
    """Decodes windows into timed words. `decode` keeps no state between calls."""

    def decode(self, requests: Sequence[WindowRequest]) -> list[WindowResult]:
        """One result per request, in request order."""
        ...

    @property
    def batch_key(self) -> Hashable | None:
        """Equal keys may share one `decode` call (same model and options); None: this
        decoder takes one window per call."""
        ...


_REQUEST_KEYWORDS = ("language", "committed", "final")
"""What a `transcribe` method may take besides the audio and `init_prompt`."""


class TranscribeDecoder:
    """A whisper_streaming-style ASR object as a decoder: one `transcribe` call per window.

    The ASR is called as whisper_streaming calls it, `transcribe(audio, init_prompt=prompt)`;
    a request's `language`, `committed` and `final` are passed as keywords only to a
    `transcribe` that declares them (or takes `**kwargs`), and `language` only when set. The
    detected language is read with the ASR's `detected_language(result)` when it has one.
    """

    batch_key = None

    def __init__(self, asr: Any) -> None:
        self.asr = asr
        self._keywords = _accepted_keywords(asr.transcribe)

    def decode(self, requests: Sequence[WindowRequest]) -> list[WindowResult]:
        return [self._decode(request) for request in requests]

    def _decode(self, request: WindowRequest) -> WindowResult:
        asr = self.asr
        given = {
            "language": request.language,
            "committed": request.committed,
            "final": request.final,
        }
        keywords = {
            name: given[name]
            for name in self._keywords
            if not (name == "language" and request.language is None)
        }
        result = asr.transcribe(request.audio, init_prompt=request.prompt, **keywords)
        detected = getattr(asr, "detected_language", None)
        language = detected(result) if detected is not None else None
        return WindowResult(
            words=asr.ts_words(result),
            segment_ends=list(asr.segments_end_ts(result)),
            language=None if language is None else language.language,
            language_probability=1.0 if language is None else language.probability,
            segments=result if isinstance(result, list) else [],
        )


def _accepted_keywords(transcribe: Any) -> tuple[str, ...]:
    """The request fields a `transcribe` method takes as keywords."""
    try:
        parameters = inspect.signature(transcribe).parameters
    except (TypeError, ValueError):
        return ()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return _REQUEST_KEYWORDS
    return tuple(name for name in _REQUEST_KEYWORDS if name in parameters)


def decoder_for(asr: Any) -> WindowDecoder:
    """The decoder a stream over `asr` runs its steps with: the ASR's own `window_decoder()`
    when it offers one (it may batch windows of many streams), else its `transcribe`."""
    offered = getattr(asr, "window_decoder", None)
    decoder = offered() if callable(offered) else None
    return decoder if decoder is not None else TranscribeDecoder(asr)
