"""What every Whisper decoding of the package shares, whichever policy commits its words.

LocalAgreement (`whisper_batch` and its `whisper_*` steps) and AlignAtt (`align_att`) decode
with different searches and read different things out of the result, but build their decoder
prompt, bound their output, retry after a forced prefix and judge silence and failure here,
once:

- the prompt: previous text after <|startofprev|>, at most `prompt_limit` tokens (half of
  the model's context, as Whisper reads it), then the start tokens and the forced prefix.
  Every text a client or the stream hands in (a prompt, committed words) is encoded as
  text: `<|endoftext|>` or `<|0.00|>` written in it stays those characters, never becomes
  the control token that would end or restart the decoder's sequence;
- the token budget: an output may take `TOKEN_ALLOWANCE` tokens and its share per second
  of audio (`DecodingOptions.max_tokens_per_second`), never more than the model's context;
- the retry after a forced prefix: a prefix that ends a sentence often makes Whisper close
  its transcript as though nothing followed, so output stopping more than
  `PREFIX_RESUME_SECONDS` before the audio's end is decoded again from its last word;
- the thresholds of `WhisperModel.transcribe` (no speech, log probability, compression
  ratio), read from its signature so that the batched and the unbatched path cannot drift.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from asr_interface.backends.faster_whisper_internals import (
    WhisperInternals,
    compression_ratio,
    suppressed_tokens,
)

if TYPE_CHECKING:
    from faster_whisper.tokenizer import Tokenizer
    from faster_whisper.transcribe import Segment

__all__ = [
    "NO_SPEECH_SKIP_PROBABILITY",
    "PREFIX_RESUME_SECONDS",
    "TOKEN_ALLOWANCE",
    "Attempt",
    "TranscribeDefaults",
    "WhisperDecoding",
    "speech_words",
]


TOKEN_ALLOWANCE = 16
"""Tokens an output may take besides its share per second: timestamps and the end token."""

PREFIX_RESUME_SECONDS = 1.0
"""Audio left after the last word of output after a forced prefix that is decoded again."""

NO_SPEECH_SKIP_PROBABILITY = 0.9
"""Segments Whisper itself deems this likely to be silence yield no words (whisper_streaming)."""


def speech_words(segments: Iterable[Segment]) -> list[tuple[float, float, str]]:
    """Every word of the segments that are likely speech, with its start and end time."""
    return [
        (float(word.start), float(word.end), word.word)
        for segment in segments
        if segment.no_speech_prob <= NO_SPEECH_SKIP_PROBABILITY
        for word in segment.words or ()
    ]


@dataclass(frozen=True)
class TranscribeDefaults:
    """The settings `FasterWhisperASR` leaves at `WhisperModel.transcribe`'s defaults."""

    temperature: tuple[float, ...]
    best_of: int
    patience: float
    length_penalty: float
    repetition_penalty: float
    no_repeat_ngram_size: int
    compression_ratio_threshold: float
    log_prob_threshold: float
    no_speech_threshold: float
    prompt_reset_on_temperature: float
    max_initial_timestamp: float
    suppress_blank: bool
    suppress_tokens: tuple[int, ...]
    prepend_punctuations: str
    append_punctuations: str

    @classmethod
    def read(cls) -> TranscribeDefaults:
        from faster_whisper import WhisperModel

        parameters = inspect.signature(WhisperModel.transcribe).parameters
        values = {item.name: parameters[item.name].default for item in fields(cls)}
        values["temperature"] = tuple(values["temperature"])
        values["suppress_tokens"] = tuple(values["suppress_tokens"])
        return cls(**values)


@dataclass(frozen=True)
class Attempt:
    """One decoding of a window at one temperature, with the scores it is judged by."""

    result: Any  # ctranslate2.models.WhisperGenerationResult
    tokens: list[int]
    """The output, the forced prefix first."""
    avg_logprob: float
    temperature: float
    compression_ratio: float


class WhisperDecoding:
    """The prompt, budget, retry and thresholds of every decoding on one loaded model."""

    def __init__(self, whisper: WhisperInternals, defaults: TranscribeDefaults) -> None:
        self.whisper = whisper
        self.defaults = defaults

    @property
    def prompt_limit(self) -> int:
        """The most previous-text tokens a decoding reads: Whisper's, half its context."""
        return self.whisper.max_length // 2 - 1

    def text_tokens(self, text: str) -> list[int]:
        """`text` as the decoder reads a text before or in its output (a leading space, as
        Whisper's words carry it), never holding a control token, whatever it spells."""
        stripped = text.strip()
        return self.whisper.text_tokens(" " + stripped) if stripped else []

    def prompt(
        self,
        tokenizer: Tokenizer,
        previous: Sequence[int],
        prefix: Sequence[int],
        *,
        timestamps: bool,
    ) -> tuple[list[int], list[int]]:
        """The decoder's prompt and the forced part at its end, which its output begins with.

        The newest `prompt_limit` tokens of `previous` follow <|startofprev|>, then the start
        tokens, <|notimestamps|> without `timestamps`, and the first `prompt_limit` tokens of
        `prefix` (after the first timestamp with `timestamps`): `WhisperModel.get_prompt`'s
        layout, with a prefix already encoded as text."""
        head = [tokenizer.sot_prev, *previous[-self.prompt_limit :]] if previous else []
        start = list(tokenizer.sot_sequence)
        if not timestamps:
            start.append(tokenizer.no_timestamps)
        forced = list(prefix[: self.prompt_limit])
        if forced and timestamps:
            forced.insert(0, tokenizer.timestamp_begin)
        return [*head, *start, *forced], forced

    def suppressed_tokens(self, tokenizer: Tokenizer) -> list[int]:
        """The tokens `transcribe` forbids the decoder: the non-speech symbols and the
        special tokens."""
        return suppressed_tokens(tokenizer, self.defaults.suppress_tokens)

    def max_length(self, prompt_length: int, seconds: float, rate: float | None) -> int:
        """The longest sequence, prompt included, a decoding of `seconds` of audio may
        generate: the model's limit, or the prompt and what `rate` tokens per second allow."""
        limit = self.whisper.max_length
        if rate is None:
            return limit
        return min(limit, prompt_length + TOKEN_ALLOWANCE + math.ceil(rate * seconds))

    def attempt(
        self, result: Any, forced: list[int], temperature: float, tokenizer: Tokenizer
    ) -> Attempt:
        """A generation result with the scores `transcribe` judges it by."""
        tokens = list(result.sequences_ids[0])
        # The returned sequence holds the forced prefix; should a CTranslate2 version return
        # only the new tokens, the prefix is put back so that it is timed with the rest.
        if forced and tokens[: len(forced)] != forced:
            tokens = forced + tokens
        # The score is length-normalised; recover the average log probability per token.
        length_penalty = self.defaults.length_penalty
        avg_logprob = result.scores[0] * len(tokens) ** length_penalty / (len(tokens) + 1)
        text = tokenizer.decode(tokens).strip()
        return Attempt(result, tokens, avg_logprob, temperature, compression_ratio(text))

    def is_silence(self, attempt: Attempt) -> bool:
        """Whether Whisper deems the attempt's audio silence, which `transcribe` skips."""
        defaults = self.defaults
        return bool(
            attempt.result.no_speech_prob > defaults.no_speech_threshold
            and attempt.avg_logprob <= defaults.log_prob_threshold
        )

    def needs_fallback(self, attempt: Attempt) -> bool:
        """Whether the attempt looks like a failure (too repetitive, or too improbable and
        not silence), which `transcribe` samples again at a higher temperature."""
        defaults = self.defaults
        improbable = attempt.avg_logprob < defaults.log_prob_threshold
        if improbable and attempt.result.no_speech_prob > defaults.no_speech_threshold:
            return False  # silence: sampling would only invent words
        return improbable or attempt.compression_ratio > defaults.compression_ratio_threshold

    @staticmethod
    def retries_after_prefix(forced: bool, tail_seconds: float) -> bool:
        """Whether output after a forced prefix that left `tail_seconds` of audio after its
        last word stopped early, so that the rest is decoded again without the prefix."""
        return forced and tail_seconds > PREFIX_RESUME_SECONDS
