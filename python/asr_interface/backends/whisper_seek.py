"""Each window's progress through faster-whisper's seek loop, and one pass of that loop.

`transcribe` decodes a window in passes: each pass decodes the audio from the seek frame on,
and when its output stops before the window's end the next pass starts after the last word.
The batched decoder runs each pass for many windows at once; these values are what the batch
loop, the temperature fallback and the word timing share.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from asr_interface.backends.whisper_decoding import Attempt, speech_words
from asr_interface.core.decoding import WindowResult

if TYPE_CHECKING:
    from faster_whisper.tokenizer import Tokenizer
    from faster_whisper.transcribe import Segment

__all__ = ["SeekPass", "SeekWindow"]


@dataclass
class SeekWindow:
    """One request's progress through faster-whisper's seek loop."""

    features: npt.NDArray[np.float32]
    """The log-mel features of the whole window, one frame more than its content, as
    faster-whisper computes them."""
    tokenizer: Tokenizer
    prefix: str | None
    language: str
    language_probability: float
    final: bool
    left_tail: bool = False
    """Whether audio after the last word was left undecoded for the next window."""
    history: list[int] = field(default_factory=list)
    """Prompt tokens then every decoded segment's tokens: the text the next round continues."""
    prompt_reset_since: int = 0
    seek: int = 0
    last_speech_timestamp: float = 0.0
    segments: list[Segment] = field(default_factory=list)

    @property
    def content_frames(self) -> int:
        return int(self.features.shape[-1]) - 1

    @property
    def done(self) -> bool:
        return self.seek >= self.content_frames

    def result(self) -> WindowResult:
        return WindowResult(
            words=speech_words(self.segments),
            segment_ends=[float(segment.end) for segment in self.segments],
            language=self.language,
            language_probability=self.language_probability,
            segments=self.segments,
            left_tail=self.left_tail,
        )


@dataclass
class SeekPass:
    """The windows decoded together in one pass of the seek loop, and what the pass found."""

    windows: list[SeekWindow]
    encoded: Any  # ctranslate2.StorageView, one row per window
    sizes: list[int]
    """Content frames of each window's slice in this pass."""
    starts: list[int]
    """The frame each window's slice starts at."""
    attempts: list[Attempt] = field(default_factory=list)
    splits: dict[int, tuple[list[dict[str, Any]], bool]] = field(default_factory=dict)
    """For each window with speech: its new segments and whether they end on a lone timestamp."""
