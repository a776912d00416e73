"""Whisper's encoder on a batch of feature slices, with an input shortened to the audio.

Whisper's encoder always takes 30 s of features; most streaming windows hold far less, and
the encoder's cost grows with its input. With `DecodingOptions.encoder_seconds` the input is
the longest slice and some headroom, rounded up to a multiple of that many seconds, so that
windows of similar length share one input size (docs/batching.md).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from asr_interface.backends.faster_whisper_internals import WhisperInternals, pad_or_trim

if TYPE_CHECKING:
    from asr_interface.backends.decoding_options import DecodingOptions

__all__ = ["ENCODER_HEADROOM_SECONDS", "WhisperEncoder"]


ENCODER_HEADROOM_SECONDS = 1.0
"""Audio-free input a shortened encoder input keeps after the speech. Whisper learned to end
its transcript before the end of its 30 s input: speech that fills a shorter input to its
last frame makes it run on to the length limit and through every fallback temperature
(measured with 10 s inputs: 224-token loops, 25x the compute of the whole window)."""


class WhisperEncoder:
    """Encodes feature slices of several windows in one forward pass."""

    def __init__(self, whisper: WhisperInternals) -> None:
        self.whisper = whisper
        # A CPU copy of the encoder output lets a subset of the batch be decoded again.
        self._encode_to_cpu = whisper.converted.device != "cpu"

    def frames(self, content_frames: int, options: DecodingOptions) -> int:
        """How many feature frames the encoder gets for slices of at most `content_frames`:
        30 s, or the content and its headroom rounded up to a multiple of `encoder_seconds`."""
        max_frames = self.whisper.max_frames
        if options.encoder_seconds is None:
            return max_frames
        frames_per_second = self.whisper.frames_per_second
        step = round(options.encoder_seconds * frames_per_second)
        needed = content_frames + round(ENCODER_HEADROOM_SECONDS * frames_per_second)
        return min(max_frames, math.ceil(needed / step) * step)

    def encode(self, slices: list[npt.NDArray[np.float32]], options: DecodingOptions) -> Any:
        """One encoder forward over feature slices, each padded to the encoder input length;
        a `ctranslate2.StorageView` with one row per slice."""
        import ctranslate2

        frames = self.frames(max(item.shape[-1] for item in slices), options)
        batch = np.stack([pad_or_trim(item, frames) for item in slices])
        return self.whisper.converted.encode(
            ctranslate2.StorageView.from_array(batch), to_cpu=self._encode_to_cpu
        )

    @staticmethod
    def rows(encoded: Any, indices: list[int], batch_size: int) -> Any:
        """The encoder output of the windows at `indices` (all of it without a copy)."""
        import ctranslate2

        if len(indices) == batch_size:
            return encoded
        return ctranslate2.StorageView.from_array(
            np.ascontiguousarray(np.asarray(encoded)[indices])
        )
