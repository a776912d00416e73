"""`transcribe`'s temperature fallback for a batch of windows: beam search for every window,
then sampling at rising temperatures for only the windows whose output looks like a failure.

The prompt, the token budget and what counts as a failure or as silence are the shared
decoding helper's (`whisper_decoding`), with the settings the drop-in `FasterWhisperASR` leaves
at `WhisperModel.transcribe`'s defaults.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from asr_interface.backends.whisper_decoding import Attempt, WhisperDecoding
from asr_interface.backends.whisper_encoder import WhisperEncoder

if TYPE_CHECKING:
    from asr_interface.backends.decoding_options import DecodingOptions
    from asr_interface.backends.whisper_seek import SeekPass

__all__ = ["TemperatureFallback"]


class TemperatureFallback:
    """Decodes one pass of a batch of windows as `transcribe` decodes each window alone."""

    def __init__(self, encoder: WhisperEncoder, decoding: WhisperDecoding) -> None:
        self.whisper = decoding.whisper
        self.encoder = encoder
        self.decoding = decoding

    def decode(self, batch: SeekPass, options: DecodingOptions) -> list[Attempt]:
        """Beam search for every window, then sampling at rising temperatures for only those
        whose output looks like a failure (too repetitive or too improbable), as `transcribe`
        does for one window."""
        decoding = self.decoding
        defaults = decoding.defaults
        prompts, forced = self._prompts(batch)
        tried: list[list[Attempt]] = [[] for _ in batch.windows]
        chosen: dict[int, Attempt] = {}
        pending = list(range(len(batch.windows)))
        suppressed = self._suppressed_tokens(batch)
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
                tokenizer = batch.windows[index].tokenizer
                attempt = decoding.attempt(result, forced[index], temperature, tokenizer)
                tried[index].append(attempt)
                if decoding.needs_fallback(attempt):
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
            prefix = self.decoding.text_tokens(window.prefix or "") if window.seek == 0 else []
            prompt, prompt_forced = self.decoding.prompt(
                window.tokenizer, previous, prefix, timestamps=True
            )
            prompts.append(prompt)
            forced.append(prompt_forced)
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
        seconds_per_frame = self.whisper.seconds_per_frame
        return max(
            self.decoding.max_length(
                len(prompt), batch.sizes[row] * seconds_per_frame, options.max_tokens_per_second
            )
            for row, prompt in zip(rows, prompts, strict=True)
        )

    def _suppressed_tokens(self, batch: SeekPass) -> list[int]:
        """faster-whisper's suppressed tokens, plus, when the encoder input was shortened
        (`encoder_seconds`), every timestamp past its end, which the audio cannot support."""
        tokenizer = batch.windows[0].tokenizer
        suppressed = self.decoding.suppressed_tokens(tokenizer)
        positions = int(batch.encoded.shape[1])
        max_positions = self.whisper.max_frames // self.whisper.input_stride
        if positions < max_positions:
            first_late = tokenizer.timestamp_begin + positions + 1
            suppressed.extend(range(first_late, tokenizer.timestamp_begin + max_positions + 1))
        return suppressed
