"""The language of each window of a batch: given, English on an English-only model, or
detected by Whisper for all the windows that need it in one call.

Like `transcribe`, detection encodes the features with their extra last frame, a separate
encoder pass from decoding; streams fix their language after a few windows
(`core/language.py`), so this pass is rare, and it keeps the detected probabilities exactly
faster-whisper's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from asr_interface.backends.faster_whisper_internals import WhisperInternals
from asr_interface.backends.whisper_encoder import WhisperEncoder

if TYPE_CHECKING:
    from asr_interface.backends.decoding_options import DecodingOptions
    from asr_interface.core.decoding import WindowRequest

__all__ = ["window_languages"]


def window_languages(
    whisper: WhisperInternals,
    encoder: WhisperEncoder,
    requests: Sequence[WindowRequest],
    features: list[npt.NDArray[np.float32]],
    options: DecodingOptions,
) -> list[tuple[str, float]]:
    """Each request's language and its probability, detecting the missing ones in a batch."""
    multilingual = bool(whisper.converted.is_multilingual)
    languages = [
        (request.language or "en", 1.0)
        if request.language is not None or not multilingual
        else ("", 0.0)
        for request in requests
    ]
    unknown = [index for index, (language, _) in enumerate(languages) if not language]
    if unknown:
        slices = [features[index][:, : whisper.max_frames] for index in unknown]
        encoded = encoder.encode(slices, options)
        for index, ranked in zip(unknown, whisper.converted.detect_language(encoded), strict=True):
            token, probability = ranked[0]
            languages[index] = (token[2:-2], float(probability))
    return languages
