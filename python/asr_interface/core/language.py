"""The spoken language of one stream, for models that detect it (`lan="auto"`).

Whisper detects the language of every window it decodes. On the first second of a stream
that guess is often wrong, and later windows may drift to another language mid-sentence, so
a stream keeps the first confident detection and decodes every later window in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

CONFIDENT_PROBABILITY = 0.8
"""Detections at least this likely fix the stream's language. Whisper base guesses the
first second of German as English with up to 0.7, and real languages reach 0.8 within
a few seconds of speech."""


@dataclass(frozen=True)
class DetectedLanguage:
    """A Whisper language code and the model's probability for it."""

    language: str
    probability: float


@runtime_checkable
class LanguageDetectingASR(Protocol):
    """An ASR object that can detect the language and be told which one to decode in."""

    original_language: str | None
    """The configured language, or None when the model detects it."""

    def transcribe(
        self, audio: npt.NDArray[np.float32], init_prompt: str = "", language: str | None = None
    ) -> Any:
        """Decodes in `language`, or in the configured one (detecting it when None)."""
        ...

    def detected_language(self, result: Any) -> DetectedLanguage | None:
        """The language `result` was decoded in, with its probability."""
        ...


class StreamLanguage:
    """Keeps a stream in one language across its windows.

    Until a detection reaches `min_probability`, each window is detected afresh; after
    that, every window is decoded in the detected language. Models with a fixed language,
    and models that cannot detect one, are called unchanged. The model step asks
    `window_language` before decoding a window and tells `observe` after.
    """

    def __init__(self, asr: Any, min_probability: float = CONFIDENT_PROBABILITY) -> None:
        self.asr = asr
        self.min_probability = min_probability
        self._detects = isinstance(asr, LanguageDetectingASR) and asr.original_language is None
        self.reset()

    def reset(self) -> None:
        """Forgets the language: the next window starts a new stream."""
        self.language: DetectedLanguage | None = None
        self._latest: DetectedLanguage | None = None
        self._reported = False

    def window_language(self) -> str | None:
        """The language to decode the next window in: the stream's once a detection was
        confident, else None (the model's configured language, or detection when it has
        none)."""
        return None if self.language is None else self.language.language

    def observe(self, detected: DetectedLanguage | None) -> None:
        """Takes the language a window was decoded in; the first confident detection fixes
        the stream's language. Windows decoded in a given language teach nothing."""
        if not self._detects or self.language is not None or detected is None:
            return
        self._latest = detected
        if detected.probability >= self.min_probability:
            self.language = detected

    def announcement(self, *, final: bool = False) -> DetectedLanguage | None:
        """The language to tell the listener, once per stream: the confident detection as
        soon as there is one, or else at the end of the stream (`final`) the latest guess,
        which heard the most speech."""
        if self._reported:
            return None
        found = self.language or (self._latest if final else None)
        self._reported = found is not None
        return found
