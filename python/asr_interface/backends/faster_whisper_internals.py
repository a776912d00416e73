"""Every faster-whisper name the package uses that faster-whisper does not document.

faster-whisper's public interface is what `faster_whisper` exports (`WhisperModel` and its
`transcribe`, `download_model`, ...) and the `Segment` and `Word` values `transcribe` returns.
The batched decoder takes the steps `transcribe` takes for one window around model calls
shared by many windows, so it needs the helpers `transcribe` is built from and the loaded
model's attributes, which any release may rename or change. They are reached only through
this module, which says why each is needed; tests/backends/test_faster_whisper_internals.py
checks that each still exists and behaves as used here, and pyproject.toml pins faster-whisper
to the versions that test passed on.

faster-whisper is imported inside each function: it pulls in CTranslate2 and PyAV, which
`import asr_interface` and a server on another backend should not pay for.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    import ctranslate2
    from faster_whisper import WhisperModel
    from faster_whisper.tokenizer import Tokenizer

__all__ = [
    "WhisperInternals",
    "assets_path",
    "compression_ratio",
    "last_word_end",
    "pad_or_trim",
    "suppressed_tokens",
]


def assets_path() -> Path:
    """`utils.get_assets_path`: the directory of the Silero VAD network that faster-whisper
    ships, which VAC runs, so that no second copy of the network is needed."""
    from faster_whisper.utils import get_assets_path

    return Path(get_assets_path())


def pad_or_trim(features: npt.NDArray[np.float32], frames: int) -> npt.NDArray[np.float32]:
    """`audio.pad_or_trim`: features cut or padded with zeros to `frames`, as `transcribe`
    pads a slice of features to the encoder input."""
    from faster_whisper.audio import pad_or_trim as pad

    padded: npt.NDArray[np.float32] = pad(features, frames)
    return padded


def compression_ratio(text: str) -> float:
    """`transcribe.get_compression_ratio`: how repetitive a decoded text is, the measure by
    which `transcribe` decides that a decoding failed and samples again."""
    from faster_whisper.transcribe import get_compression_ratio

    return float(get_compression_ratio(text))


def suppressed_tokens(tokenizer: Tokenizer, suppress_tokens: Sequence[int]) -> list[int]:
    """`transcribe.get_suppressed_tokens`: the tokens `transcribe` forbids the decoder for its
    `suppress_tokens` setting (-1 standing for the non-speech symbols) and the special tokens."""
    from faster_whisper.transcribe import get_suppressed_tokens

    return list(get_suppressed_tokens(tokenizer, list(suppress_tokens)))


def last_word_end(segments: list[dict[str, Any]]) -> float | None:
    """`utils.get_end`: when the last timed word of the segments ends (the last segment's end
    if no segment has words), where `transcribe` resumes a window its output stopped short of."""
    from faster_whisper.utils import get_end

    end: float | None = get_end(segments)
    return end


class _Prealigned:
    """Stands in for the model in `WhisperModel.add_word_timestamps`, handing it an alignment
    computed in a batch: the only members of the model that method reads are these two."""

    def __init__(self, alignment: list[dict[str, Any]], frames_per_second: int) -> None:
        self.alignment = alignment
        self.frames_per_second = frames_per_second

    def find_alignment(self, *_args: Any) -> list[list[dict[str, Any]]]:
        return [self.alignment]


class WhisperInternals:
    """The undocumented attributes and methods of one loaded `WhisperModel`."""

    def __init__(self, model: WhisperModel) -> None:
        self.model = model

    @property
    def converted(self) -> ctranslate2.models.Whisper:
        """`WhisperModel.model`: the CTranslate2 model, whose encode, generate, align and
        language detection take a batch, which `transcribe` always gives one window."""
        return self.model.model

    @property
    def max_frames(self) -> int:
        """`feature_extractor.nb_max_frames`: the feature frames of Whisper's 30 s input."""
        frames: int = self.model.feature_extractor.nb_max_frames
        return frames

    @property
    def seconds_per_frame(self) -> float:
        """`feature_extractor.time_per_frame`: the duration of one feature frame."""
        seconds: float = self.model.feature_extractor.time_per_frame
        return seconds

    @property
    def frames_per_second(self) -> int:
        """`WhisperModel.frames_per_second`: feature frames per second of audio."""
        frames: int = self.model.frames_per_second
        return frames

    @property
    def input_stride(self) -> int:
        """`WhisperModel.input_stride`: feature frames per encoder output position."""
        stride: int = self.model.input_stride
        return stride

    @property
    def time_precision(self) -> float:
        """`WhisperModel.time_precision`: the seconds one timestamp token stands for."""
        precision: float = self.model.time_precision
        return precision

    @property
    def max_length(self) -> int:
        """`WhisperModel.max_length`: the most tokens Whisper's decoder takes, prompt included."""
        length: int = self.model.max_length
        return length

    def features(self, audio: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.float32]:
        """`WhisperModel.feature_extractor`: the log-mel features `transcribe` computes, one
        frame more than the audio fills."""
        features: npt.NDArray[np.float32] = self.model.feature_extractor(audio)
        return features

    def tokenizer(self, task: str, language: str) -> Tokenizer:
        """`tokenizer.Tokenizer` over `WhisperModel.hf_tokenizer`: the tokenizer `transcribe`
        makes for a task and language, which every helper here takes."""
        from faster_whisper.tokenizer import Tokenizer

        return Tokenizer(
            self.model.hf_tokenizer,
            bool(self.converted.is_multilingual),
            task=task,
            language=language,
        )

    def text_tokens(self, text: str) -> list[int]:
        """`WhisperModel.hf_tokenizer` run as plain text: the token ids of `text` through the
        tokenizer's normalizer, pre-tokenizer and BPE model, without the added-token matching
        of `Tokenizer.encode`, which turns `<|endoftext|>` written in a text into the control
        token itself. For any other text the ids are `Tokenizer.encode`'s."""
        hf_tokenizer = self.model.hf_tokenizer
        if hf_tokenizer.normalizer is not None:
            text = hf_tokenizer.normalizer.normalize_str(text)
        splitter = hf_tokenizer.pre_tokenizer
        pieces = (
            [text] if splitter is None else [piece for piece, _ in splitter.pre_tokenize_str(text)]
        )
        return [token.id for piece in pieces for token in hf_tokenizer.model.tokenize(piece)]

    def split_segments(
        self, tokenizer: Tokenizer, tokens: list[int], seek: int, size: int
    ) -> tuple[list[dict[str, Any]], int, bool]:
        """`WhisperModel._split_segments_by_timestamps`: the segments of one pass's output over
        the `size` frames from `seek`, the frame the next pass starts at, and whether the
        output ended on a lone timestamp. Splitting as `transcribe` does keeps segment ends
        and the seek loop identical to it."""
        seconds_per_frame = self.seconds_per_frame
        segments, next_seek, single_timestamp_ending = self.model._split_segments_by_timestamps(
            tokenizer=tokenizer,
            tokens=tokens,
            time_offset=seek * seconds_per_frame,
            segment_size=size,
            segment_duration=size * seconds_per_frame,
            seek=seek,
        )
        return segments, int(next_seek), bool(single_timestamp_ending)

    def find_alignment(
        self,
        tokenizer: Tokenizer,
        text_tokens: list[list[int]],
        encoded: ctranslate2.StorageView,
        frames: list[int],
    ) -> list[list[dict[str, Any]]]:
        """`WhisperModel.find_alignment`: the word alignment of each row's text in one batched
        call, with `transcribe`'s median filter and word grouping."""
        alignments: list[list[dict[str, Any]]] = self.model.find_alignment(
            tokenizer, text_tokens, encoded, frames
        )
        return alignments

    def add_word_timestamps(
        self,
        alignment: list[dict[str, Any]],
        segments: list[dict[str, Any]],
        tokenizer: Tokenizer,
        frames: int,
        punctuation: tuple[str, str],
        last_speech_timestamp: float,
    ) -> None:
        """`WhisperModel.add_word_timestamps` on one window's share of a batched alignment:
        sets each segment's words with `transcribe`'s punctuation merging and duration clamps.

        The method can time a whole batch, but it carries the last speech time from one item
        to the next, while each window must start from its own; so it runs once per window,
        with a stand-in model that returns that window's alignment (`punctuation` is the
        prepended and the appended punctuation)."""
        from faster_whisper import WhisperModel

        prepended, appended = punctuation
        WhisperModel.add_word_timestamps(
            _Prealigned(alignment, self.frames_per_second),
            [segments],
            tokenizer,
            None,
            frames,
            prepended,
            appended,
            last_speech_timestamp=last_speech_timestamp,
        )
