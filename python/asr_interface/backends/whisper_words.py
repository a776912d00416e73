"""Word times for a batch of windows, and where each window's next pass resumes.

One alignment call times the words of every window decoded in the same language; faster-whisper's
word timing then runs per window with its punctuation merging and duration clamps. A pass whose
output stops before the window's end resumes after its last word, as `transcribe` does, unless
only a short tail is left and more audio will come (`DecodingOptions.tail_seconds`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from asr_interface.backends.faster_whisper_internals import last_word_end
from asr_interface.backends.whisper_decoding import Attempt, WhisperDecoding
from asr_interface.backends.whisper_encoder import WhisperEncoder

if TYPE_CHECKING:
    from asr_interface.backends.decoding_options import DecodingOptions
    from asr_interface.backends.whisper_seek import SeekPass, SeekWindow

__all__ = ["WordTiming"]


class WordTiming:
    """Times the words of a pass over a batch of windows and keeps its segments."""

    def __init__(self, encoder: WhisperEncoder, decoding: WhisperDecoding) -> None:
        self.whisper = decoding.whisper
        self.encoder = encoder
        self.decoding = decoding
        self.defaults = decoding.defaults

    def time(self, batch: SeekPass, options: DecodingOptions) -> None:
        """Word times for every window with speech: one alignment call per language, then
        faster-whisper's word timing per window; moves each window's seek past its words."""
        by_language: dict[str, list[int]] = {}
        for index in batch.splits:
            by_language.setdefault(batch.windows[index].language, []).append(index)
        punctuation = (self.defaults.prepend_punctuations, self.defaults.append_punctuations)
        for indices in by_language.values():
            tokenizer = batch.windows[indices[0]].tokenizer
            text_tokens = [
                [
                    token
                    for segment in batch.splits[index][0]
                    for token in segment["tokens"]
                    if token < tokenizer.eot
                ]
                for index in indices
            ]
            alignments = self.whisper.find_alignment(
                tokenizer,
                text_tokens,
                self.encoder.rows(batch.encoded, indices, len(batch.windows)),
                [batch.sizes[index] for index in indices],
            )
            for index, alignment in zip(indices, alignments, strict=True):
                window = batch.windows[index]
                segments, single_timestamp_ending = batch.splits[index]
                self.whisper.add_word_timestamps(
                    alignment,
                    segments,
                    tokenizer,
                    batch.sizes[index],
                    punctuation,
                    last_speech_timestamp=window.last_speech_timestamp,
                )
                last_end = last_word_end(segments)
                if last_end is None:
                    continue
                # Output that stops before the window's end resumes after its last word.
                time_offset = batch.starts[index] * self.whisper.seconds_per_frame
                resume = not single_timestamp_ending or self._stopped_after_prefix(
                    window, batch.starts[index], last_end
                )
                if resume and last_end > time_offset:
                    window.seek = self._resume_frame(window, last_end, options)
                window.last_speech_timestamp = last_end

    def keep_segments(
        self, window: SeekWindow, start: int, segments: list[dict[str, Any]], attempt: Attempt
    ) -> None:
        """Keeps the segments with text, which the next pass reads as its prompt."""
        from faster_whisper.transcribe import Segment, Word

        for segment in segments:
            text = window.tokenizer.decode(segment["tokens"])
            if segment["start"] == segment["end"] or not text.strip():
                continue
            window.history.extend(segment["tokens"])
            window.segments.append(
                Segment(
                    id=len(window.segments) + 1,
                    seek=start,
                    start=segment["start"],
                    end=segment["end"],
                    text=text,
                    tokens=segment["tokens"],
                    avg_logprob=attempt.avg_logprob,
                    compression_ratio=attempt.compression_ratio,
                    no_speech_prob=attempt.result.no_speech_prob,
                    words=[Word(**word) for word in segment["words"]],
                    temperature=attempt.temperature,
                )
            )
        # Text sampled at a high temperature is too unreliable to prompt the next pass.
        if attempt.temperature > self.defaults.prompt_reset_on_temperature:
            window.prompt_reset_since = len(window.history)

    def _resume_frame(self, window: SeekWindow, last_end: float, options: DecodingOptions) -> int:
        """Where the next pass over the window starts: after the last word, or past the end
        when less than `options.tail_seconds` of audio follows it and more audio will come."""
        if not window.final and self._tail(window, last_end) < options.tail_seconds:
            window.left_tail = True
            return window.content_frames
        return round(last_end * self.whisper.frames_per_second)

    def _tail(self, window: SeekWindow, last_end: float) -> float:
        """Seconds of the window's audio after `last_end`."""
        return window.content_frames / self.whisper.frames_per_second - last_end

    def _stopped_after_prefix(self, window: SeekWindow, start: int, last_end: float) -> bool:
        """Whether a pass with a forced prefix ended its output well before the audio did:
        the audio after the last word is then decoded again without the prefix instead of
        being dropped."""
        forced = bool(window.prefix) and start == 0
        return self.decoding.retries_after_prefix(forced, self._tail(window, last_end))
