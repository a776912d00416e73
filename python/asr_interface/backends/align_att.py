"""AlignAtt on CTranslate2: one decode per step, continuing after the committed words.

Each step encodes the window once and decodes greedily after the committed tokens (the
prompt before the window, the forced prefix inside it), then aligns the new tokens to
encoder frames with `ctranslate2.models.Whisper.align` (cross-attention of the alignment
heads and dynamic time warping, as Whisper's word timestamps do). The Rust core
(`asr_interface._core.AlignAttCore`) decides which words are committed: those ending more
than `frame_threshold` frames before the end of the audio decoded. The rest is the partial.

This is the policy of SimulStreaming (Machacek et al. 2025) and Simul-Whisper (Wang et al.
2024), after AlignAtt (Papi et al. 2023), with one difference: CTranslate2 exposes no
attention while it generates, so the whole window is decoded and aligned afterwards
instead of decoding stopping at the first token attending the audio's end. See
docs/streaming-policy.md.

faster-whisper and CTranslate2 are imported where they are used, as in `whisper_batch`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from asr_interface._core import AlignAttCore, join_words
from asr_interface.audio import SAMPLING_RATE
from asr_interface.backends.decoding_options import DecodingOptions
from asr_interface.backends.faster_whisper_internals import WhisperInternals
from asr_interface.backends.whisper_decoding import TranscribeDefaults, WhisperDecoding
from asr_interface.backends.whisper_encoder import WhisperEncoder
from asr_interface.core.config import ASRConfig
from asr_interface.core.engine import PolicyEngine
from asr_interface.core.protocols import TimedText, TimedWord

if TYPE_CHECKING:
    from faster_whisper import WhisperModel
    from faster_whisper.tokenizer import Tokenizer

__all__ = ["AlignAttDecoder", "AlignAttOptions", "AlignAttProcessor", "DecodedWord"]

DecodedWord = tuple[float, float, str, list[int]]
"""A word's start and end (seconds from the window start), its text and its token ids."""

MEDIAN_FILTER_WIDTH = 7
"""Smoothing of the attention weights before time warping, as Whisper's word timestamps use."""


@dataclass(frozen=True)
class AlignAttOptions:
    """The policy's settings, and the decoding's (`DecodingOptions`; its beam, encoder input
    and token budget apply). `from_config` makes them from the configuration, whose defaults
    are theirs."""

    trimming_sec: float
    """The window is cut at a committed word once it is longer than this (the configuration's
    `buffer_trimming_sec`). Over every set of continuous speech 15 s made one error more than
    25 s for two thirds of the encoder's work, 10 s three more again (docs/align-att.md)."""
    decoding: DecodingOptions
    frame_threshold: int = 25
    """A word is committed once its end lies more than this many 20 ms frames before the end
    of the audio decoded (SimulStreaming's default, 0.5 s)."""

    @classmethod
    def from_config(cls, config: ASRConfig) -> AlignAttOptions:
        """The settings `config` asks for: the one place its options reach the policy."""
        return cls(
            trimming_sec=config.buffer_trimming_sec, decoding=DecodingOptions.from_config(config)
        )

    @classmethod
    def default(cls) -> AlignAttOptions:
        """The settings of the default configuration under this policy."""
        return cls.from_config(ASRConfig(policy="align-att"))


class AlignAttDecoder:
    """Decodes a window after committed tokens and aligns the new words to its audio.

    The prompt, the token budget, the retry after a forced prefix and the silence threshold
    are the shared decoding helper's (`whisper_decoding`), as LocalAgreement's are. It keeps
    no state between calls, so every stream of a loaded model can share one.
    """

    def __init__(
        self, model: WhisperModel, *, language: str = "en", task: str = "transcribe"
    ) -> None:
        self.model = model
        self.whisper = WhisperInternals(model)
        self.encoder = WhisperEncoder(self.whisper)
        self.decoding = WhisperDecoding(self.whisper, TranscribeDefaults.read())
        self.tokenizer: Tokenizer = self.whisper.tokenizer(task, language)
        self._suppressed = self.decoding.suppressed_tokens(self.tokenizer)

    def decode(
        self,
        audio: npt.NDArray[np.float32],
        prompt: Sequence[int],
        prefix: Sequence[int],
        options: AlignAttOptions,
    ) -> list[DecodedWord]:
        """The words Whisper hears in `audio` after `prefix`, with `prompt` as previous text.

        When the output stops early after a prefix, the audio after its last word is decoded
        again with the prefix and the new words as prompt, and its words follow.
        """
        words = self._pass(audio, prompt, prefix, options)
        resume = words[-1][1] if words else 0.0
        tail = len(audio) / SAMPLING_RATE - resume
        if not self.decoding.retries_after_prefix(bool(prefix), tail):
            return words
        context = [*prompt, *prefix, *(token for word in words for token in word[3])]
        rest = self._pass(audio[round(resume * SAMPLING_RATE) :], context, [], options)
        return words + [(start + resume, end + resume, text, ids) for start, end, text, ids in rest]

    def _pass(
        self,
        audio: npt.NDArray[np.float32],
        prompt: Sequence[int],
        prefix: Sequence[int],
        options: AlignAttOptions,
    ) -> list[DecodedWord]:
        """One encode, one greedy decode and one alignment."""
        features = self.whisper.features(audio)
        content_frames = int(features.shape[-1]) - 1
        if content_frames <= 0:
            return []
        decoding = options.decoding
        encoded = self.encoder.encode([features[:, :content_frames]], decoding)
        start, forced = self.decoding.prompt(self.tokenizer, prompt, prefix, timestamps=False)
        seconds = content_frames * self.whisper.seconds_per_frame
        (result,) = self.whisper.converted.generate(
            encoded,
            [start],
            beam_size=decoding.beam_size,
            max_length=self.decoding.max_length(
                len(start), seconds, decoding.max_tokens_per_second
            ),
            suppress_blank=True,
            suppress_tokens=self._suppressed,
            return_scores=True,
            return_no_speech_prob=True,
        )
        attempt = self.decoding.attempt(result, forced, 0.0, self.tokenizer)
        new = [token for token in attempt.tokens[len(forced) :] if token < self.tokenizer.eot]
        if not new or self.decoding.is_silence(attempt):
            return []
        return self._words(encoded, forced, new, content_frames)

    def _words(
        self, encoded: Any, prefix: list[int], new: list[int], content_frames: int
    ) -> list[DecodedWord]:
        """The new tokens grouped into words, each timed by where the alignment path enters
        its first token and the next word's."""
        tokenizer = self.tokenizer
        (alignment,) = self.whisper.converted.align(
            encoded,
            list(tokenizer.sot_sequence),
            [prefix + new],
            content_frames,
            median_filter_width=MEDIAN_FILTER_WIDTH,
        )
        path = np.asarray(alignment.alignments, dtype=np.int64).reshape(-1, 2)
        entered = np.ones(len(path), dtype=bool)
        entered[1:] = np.diff(path[:, 0]) != 0
        # Frame where the path enters each token, the end-of-text token last.
        token_starts = path[entered, 1] / self.model.tokens_per_second
        seconds = content_frames * self.whisper.seconds_per_frame

        def token_start(index: int) -> float:
            return (
                float(min(token_starts[index], seconds)) if index < len(token_starts) else seconds
            )

        texts, groups = tokenizer.split_to_word_tokens(new)
        words: list[DecodedWord] = []
        position = len(prefix)
        for text, group in zip(texts, groups, strict=True):
            start = token_start(position)
            position += len(group)
            words.append((start, max(start, token_start(position)), text, list(group)))
        return words


class AlignAttProcessor:
    """A stream under the AlignAtt policy, driven as `OnlineASRProcessor` is.

    Call `init()`, then `insert_audio_chunk()` and `process_iter()` as audio arrives (each
    `process_iter` decodes once), and `finish()` at the end, which decodes the rest and
    commits every word. `unconfirmed()` is the current guess beyond the committed text.
    """

    SAMPLING_RATE = SAMPLING_RATE
    sep = ""  # decoded words carry their leading space
    policy = "align-att"

    def __init__(self, decoder: AlignAttDecoder, options: AlignAttOptions | None = None) -> None:
        self.decoder = decoder
        self.options = options or AlignAttOptions.default()
        self._core = AlignAttCore(
            frame_threshold=self.options.frame_threshold,
            trimming_sec=self.options.trimming_sec,
            max_prompt_tokens=decoder.decoding.prompt_limit,
        )
        self._before: list[int] = []
        """Tokens of the text said before the stream (`prime`), read before the prompt."""

    def fresh_copy(self) -> AlignAttProcessor:
        """A processor with the same decoder and options and an empty stream."""
        return AlignAttProcessor(self.decoder, self.options)

    def engine(self) -> PolicyEngine:
        """The engine that steps this processor for the server and `simulate`."""
        return PolicyEngine(self)

    def step_words(self, *, final: bool) -> list[TimedWord]:
        """One step: decode the window once and return the newly committed words; `final`
        (no audio follows) commits every word."""
        window, prompt, prefix = self._core.prepare()
        prompt = [*self._before, *prompt]
        words = self.decoder.decode(window, prompt, prefix, self.options) if len(window) else []
        return self._core.finish(words) if final else self._core.commit(words)

    def init(self, offset: float | None = None) -> None:
        """Starts a new stream whose first sample is at `offset` seconds (default 0)."""
        self.resume(0.0 if offset is None else float(offset), ())

    def resume(self, offset: float, context: Sequence[str], settled: float | None = None) -> None:
        """Starts a stream at `offset` that continues one committed elsewhere up to
        `settled` (default `offset`) with the words `context`: the audio before `settled`
        is decoded, so that the first new word is heard from its onset, but its words are
        not committed again, nor the context's last words heard again just after it. The
        context does not prime the model: primed, Whisper skips the lead-in's words it
        reads there, and aligns the next word into the lead-in."""
        settled = offset if settled is None else settled
        self._core.resume(float(offset), float(settled), list(context))
        self._before = []

    def prime(self, words: Sequence[str]) -> None:
        """Takes `words` said before the stream's audio (a client's prompt: names,
        spellings) as the model's previous text; none of them is committed."""
        decoding = self.decoder.decoding
        text = " ".join(word.strip() for word in words if word.strip())
        self._before = decoding.text_tokens(text)[-decoding.prompt_limit :]

    def insert_audio_chunk(self, audio: npt.NDArray[Any]) -> None:
        """Appends 16 kHz mono samples: float (in [-1, 1]) or int16 PCM, 1-D."""
        self._core.insert(audio if isinstance(audio, np.ndarray) else np.asarray(audio))

    def process_iter(self) -> TimedText:
        """Decodes the window once and returns the newly committed text."""
        return join_words(self.step_words(final=False), self.sep)

    def finish(self) -> TimedText:
        """Decodes the window once more and commits all of it; ready for more audio after."""
        return join_words(self.step_words(final=True), self.sep)

    def unconfirmed(self) -> list[TimedWord]:
        """The current guess beyond the committed text; it may still change."""
        return self._core.unconfirmed()

    @property
    def committed(self) -> list[TimedWord]:
        """The committed words still kept: those the prompt and the window read."""
        return self._core.committed()

    @property
    def buffer_time_offset(self) -> float:
        """Stream time in seconds of the window's first sample."""
        return self._core.offset
