"""One window through the batched decoder of the real tiny.en model, with given options."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import numpy.typing as npt

from asr_interface.audio import SAMPLING_RATE
from asr_interface.backends.decoding_options import WHISPER_STREAMING as WHISPER_STREAMING_DECODING
from asr_interface.backends.decoding_options import DecodingOptions
from asr_interface.backends.whisper_batch import WhisperBatchDecoder
from asr_interface.core.config import ASRConfig
from asr_interface.core.decoding import WindowRequest, WindowResult

RATE = SAMPLING_RATE
LONG = "long/ljspeech_LJ001-0001_to_0032.wav"
GREEDY = replace(WHISPER_STREAMING_DECODING, beam_size=1)


WHISPER_STREAMING = ASRConfig(
    beam_size=5, encoder_seconds=None, tail_seconds=0.0, max_tokens_per_second=None
)
"""whisper_streaming's decoding: beam 5, a 30 s encoder input, every tail, no budget."""


def decode(
    decoder: WhisperBatchDecoder,
    audio: npt.NDArray[np.float32],
    options: DecodingOptions,
    **request: Any,
) -> WindowResult:
    (result,) = decoder.decode([WindowRequest(audio, language="en", **request)], options)
    return result


def text(result: WindowResult) -> str:
    return "".join(word for _, _, word in result.words)
