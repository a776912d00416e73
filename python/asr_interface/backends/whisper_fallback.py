"""`transcribe`'s temperature fallback for a batch of windows: beam search for every window,
then sampling at rising temperatures for only the windows whose output looks like a failure.

The settings the drop-in `FasterWhisperASR` leaves at `WhisperModel.transcribe`'s defaults are
read from its signature, so that the batched and the unbatched path cannot drift apart.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any

from asr_interface.backends.faster_whisper_internals import (
    WhisperInternals,
    compression_ratio,
    suppressed_tokens,
)
from asr_interface.backends.whisper_encoder import WhisperEncoder

if TYPE_CHECKING:
    from asr_interface.backends.decoding_options import DecodingOptions
    from asr_interface.backends.whisper_seek import SeekPass, SeekWindow

__all__ = ["TOKEN_ALLOWANCE", "Attempt", "TemperatureFallback", "TranscribeDefaults"]


TOKEN_ALLOWANCE = 16
"""Tokens an output may take besides its share per second: timestamps and the end token."""


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
    """One decoding of a window at one temperature, with the scores the fallback judges."""

    result: Any  # ctranslate2.models.WhisperGenerationResult
    tokens: list[int]
    avg_logprob: float
    temperature: float
    compression_ratio: float


class TemperatureFallback:
    """Decodes one pass of a batch of windows as `transcribe` decodes each window alone."""

    def __init__(
        self, whisper: WhisperInternals, encoder: WhisperEncoder, defaults: TranscribeDefaults
    ) -> None:
        self.whisper = whisper
        self.encoder = encoder
        self.defaults = defaults

    def decode(self, batch: SeekPass, options: DecodingOptions) -> list[Attempt]:
        """Beam search for every window, then sampling at rising temperatures for only those
        whose output looks like a failure (too repetitive or too improbable), as `transcribe`
        does for one window."""
        defaults = self.defaults
        prompts, forced = self._prompts(batch)
        tried: list[list[Attempt]] = [[] for _ in batch.windows]
        chosen: dict[int, Attempt] = {}
        pending = list(range(len(batch.windows)))
        suppressed = self._suppressed_tokens(batch, options)
        for temperature in defaults.temperature:
            if not pending:
                break
            search: dict[str, Any] = (
                {
                    "beam_size": 1,
                    "num_hypotheses": defaults.best_of,
                    "sampling_topk": 0,
                    "sampling_temperature": temperature,
                }
                if temperature > 0
                else {"beam_size": options.beam_size, "patience": defaults.patience}
            )
            results = self.generate(
                batch,
                pending,
                [prompts[index] for index in pending],
                options,
                length_penalty=defaults.length_penalty,
                repetition_penalty=defaults.repetition_penalty,
                no_repeat_ngram_size=defaults.no_repeat_ngram_size,
                return_scores=True,
                return_no_speech_prob=True,
                suppress_blank=defaults.suppress_blank,
                suppress_tokens=suppressed,
                max_initial_timestamp_index=round(
                    defaults.max_initial_timestamp / self.whisper.time_precision
                ),
                **search,
            )
            failing = []
            for index, result in zip(pending, results, strict=True):
                attempt = self._attempt(result, forced[index], temperature, batch.windows[index])
                tried[index].append(attempt)
                if self._needs_fallback(attempt):
                    failing.append(index)
                else:
                    chosen[index] = attempt
            pending = failing
        for index in pending:
            # Every temperature failed: keep the likeliest attempt that is not repetitive.
            candidates = [
                attempt
                for attempt in tried[index]
                if attempt.compression_ratio <= defaults.compression_ratio_threshold
            ]
            best = max(candidates or tried[index], key=lambda attempt: attempt.avg_logprob)
            chosen[index] = replace(best, temperature=defaults.temperature[-1])
        return [chosen[index] for index in range(len(batch.windows))]

    def is_silence(self, attempt: Attempt) -> bool:
        """Whether Whisper deems the pass's audio silence, which `transcribe` skips."""
        defaults = self.defaults
        return bool(
            attempt.result.no_speech_prob > defaults.no_speech_threshold
            and attempt.avg_logprob <= defaults.log_prob_threshold
        )

    def generate(
        self,
        batch: SeekPass,
        indices: list[int],
        prompts: list[list[int]],
        options: DecodingOptions,
        **settings: Any,
    ) -> list[Any]:
        """`generate` for the windows at `indices`, one call per length of prompt text.

        CTranslate2 decodes a batch only when <|startoftranscript|> sits at the same position
        in every prompt, that is with equally many tokens of previous text. Padding the
        shorter prompts to line them up changes what the model reads (measured: even
        whitespace or <|endoftext|> padding changed up to half the words), while windows
        with equal prompt lengths decode in one call exactly as they decode alone.
        """
        sot = batch.windows[0].tokenizer.sot
        groups: dict[int, list[int]] = {}
        for position, prompt in enumerate(prompts):
            groups.setdefault(prompt.index(sot), []).append(position)
        results: list[Any] = [None] * len(indices)
        for positions in groups.values():
            rows = [indices[position] for position in positions]
            group_prompts = [prompts[position] for position in positions]
            outputs = self.whisper.converted.generate(
                self.encoder.rows(batch.encoded, rows, len(batch.windows)),
                group_prompts,
                max_length=self._max_length(batch, rows, group_prompts, options),
                **settings,
            )
            for position, output in zip(positions, outputs, strict=True):
                results[position] = output
        return results

    def _prompts(self, batch: SeekPass) -> tuple[list[list[int]], list[list[int]]]:
        """Each window's decoder prompt, and the forced prefix at its end (empty without one)."""
        prompts, forced = [], []
        for window in batch.windows:
            previous = window.history[window.prompt_reset_since :]
            prefix = window.prefix if window.seek == 0 else None
            prompt = self.whisper.prompt(window.tokenizer, previous, prefix)
            unforced = self.whisper.prompt(window.tokenizer, previous, None)
            prompts.append(prompt)
            forced.append(prompt[len(unforced) :])
        return prompts, forced

    def _max_length(
        self,
        batch: SeekPass,
        rows: list[int],
        prompts: list[list[int]],
        options: DecodingOptions,
    ) -> int:
        """The longest sequence, prompt included, that windows `rows` may generate: Whisper's
        limit, or the prompt and what `options.max_tokens_per_second` allows for the audio."""
        limit = self.whisper.max_length
        rate = options.max_tokens_per_second
        if rate is None:
            return limit
        seconds_per_frame = self.whisper.seconds_per_frame
        allowed = (
            len(prompt) + TOKEN_ALLOWANCE + math.ceil(rate * batch.sizes[row] * seconds_per_frame)
            for row, prompt in zip(rows, prompts, strict=True)
        )
        return min(limit, max(allowed))

    def _suppressed_tokens(self, batch: SeekPass, options: DecodingOptions) -> list[int]:
        """faster-whisper's suppressed tokens, plus, with a shortened encoder input, every
        timestamp past its end, which the audio cannot support."""
        tokenizer = batch.windows[0].tokenizer
        suppressed = suppressed_tokens(tokenizer, self.defaults.suppress_tokens)
        positions = int(batch.encoded.shape[1])
        max_positions = self.whisper.max_frames // self.whisper.input_stride
        if options.encoder_seconds is not None and positions < max_positions:
            first_late = tokenizer.timestamp_begin + positions + 1
            suppressed.extend(range(first_late, tokenizer.timestamp_begin + max_positions + 1))
        return suppressed

    def _attempt(
        self, result: Any, forced: list[int], temperature: float, window: SeekWindow
    ) -> Attempt:
        tokens = list(result.sequences_ids[0])
        # The returned sequence holds the forced prefix; should a CTranslate2 version return
        # only the new tokens, the prefix is put back so that it is timed with the rest.
        if forced and tokens[: len(forced)] != forced:
            tokens = forced + tokens
        # The score is length-normalised; recover the average log probability per token.
        length_penalty = self.defaults.length_penalty
        avg_logprob = result.scores[0] * len(tokens) ** length_penalty / (len(tokens) + 1)
        text = window.tokenizer.decode(tokens).strip()
        return Attempt(result, tokens, avg_logprob, temperature, compression_ratio(text))

    def _needs_fallback(self, attempt: Attempt) -> bool:
        defaults = self.defaults
        improbable = attempt.avg_logprob < defaults.log_prob_threshold
        if improbable and attempt.result.no_speech_prob > defaults.no_speech_threshold:
            return False  # silence: sampling would only invent words
        return improbable or attempt.compression_ratio > defaults.compression_ratio_threshold
