"""A plain-Python reading of docs/streaming-policy.md, kept only to check the Rust core.

Every rule of the policy appears here once, in the order the page states it, with float64
arithmetic written exactly as the page writes it so that both sides agree bit for bit. Unlike the
Rust core it keeps the whole committed history, as whisper_streaming does: a bounded tail that
gives the same answers as the unbounded list is what the comparison proves.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

Word = tuple[float, float, str]
Flushed = tuple[float | None, float | None, str]

SAMPLING_RATE = 16000
PROMPT_CHARS = 200
SENTENCE_FALLBACK_SEC = 30.0
SENTENCE_ENDINGS = (
    ".",
    "!",
    "?",
    "\N{HORIZONTAL ELLIPSIS}",
    "\N{IDEOGRAPHIC FULL STOP}",
    "\N{FULLWIDTH EXCLAMATION MARK}",
    "\N{FULLWIDTH QUESTION MARK}",
)
CLOSING_MARKS = (
    "\"')]}"
    "\N{RIGHT DOUBLE QUOTATION MARK}\N{RIGHT SINGLE QUOTATION MARK}"
    "\N{RIGHT-POINTING DOUBLE ANGLE QUOTATION MARK}\N{RIGHT CORNER BRACKET}"
    "\N{RIGHT WHITE CORNER BRACKET}\N{FULLWIDTH RIGHT PARENTHESIS}"
)


class SentenceSplitter(Protocol):
    """What a tokenizer must offer for sentence trimming (MosesTokenizer has it)."""

    def split(self, text: str) -> list[str]: ...


class OracleASRProcessor:
    """The streaming policy in the plainest lines: the reference the Rust core must match."""

    SAMPLING_RATE = SAMPLING_RATE

    def __init__(
        self,
        asr: Any,
        tokenizer: SentenceSplitter | None = None,
        buffer_trimming: tuple[str, float] = ("segment", 15),
        *,
        max_window_sec: float | None = None,
        agreement_n: int = 2,
    ) -> None:
        mode, seconds = buffer_trimming
        no_cap = max_window_sec is not None and max_window_sec <= 0
        if mode not in ("segment", "sentence") or agreement_n < 2 or no_cap:
            raise ValueError("invalid processor configuration")
        self.asr = asr
        self.tokenizer = tokenizer
        self.trimming_mode = mode
        self.trimming_sec = float(seconds)
        self.max_window_sec = max_window_sec
        self.agreement_n = agreement_n
        self.init()

    # --- state -----------------------------------------------------------------------------

    def init(self, offset: float | None = None) -> None:
        """Forget everything and start a stream whose first sample is at `offset` seconds."""
        self.audio_buffer: npt.NDArray[np.float32] = np.array([], dtype=np.float32)
        self.buffer_time_offset = 0.0 if offset is None else float(offset)
        self.commited: list[Word] = []
        self._reset_hypothesis()

    def _reset_hypothesis(self) -> None:
        self.committed_in_buffer: list[Word] = []
        # Oldest first; the last one is the unconfirmed tail the next hypothesis must agree with.
        self.previous: list[list[Word]] = [[] for _ in range(self.agreement_n - 1)]
        self.last_committed_time = self.buffer_time_offset
        self.last_committed_word: str | None = None

    @property
    def window_seconds(self) -> float:
        return len(self.audio_buffer) / SAMPLING_RATE

    def unconfirmed(self) -> list[Word]:
        return list(self.previous[-1])

    # --- audio -----------------------------------------------------------------------------

    def insert_audio_chunk(self, audio: npt.NDArray[Any]) -> None:
        samples = np.asarray(audio)
        if samples.ndim != 1:
            raise ValueError("audio must be one-dimensional")
        if samples.dtype == np.int16:
            samples = samples.astype(np.float32) / np.float32(32768)
        elif samples.dtype in (np.float32, np.float64):
            if not np.all(np.isfinite(samples)):
                raise ValueError("audio contains NaN or Inf")
            samples = samples.astype(np.float32)
        else:
            raise ValueError(f"unsupported sample type {samples.dtype}")
        self.audio_buffer = np.append(self.audio_buffer, samples)
        self._enforce_cap()

    def _enforce_cap(self) -> None:
        if self.max_window_sec is None:
            return
        cap = int(self.max_window_sec * SAMPLING_RATE)
        if len(self.audio_buffer) <= cap:
            return
        if len(self.commited) >= 2:
            t = self.commited[-2][1]
            remaining = len(self.audio_buffer) - self._samples_before(t)
            if t > self.buffer_time_offset and remaining <= cap:
                self.chunk_at(t)
                return
        dropped = len(self.audio_buffer) - cap
        t = self.buffer_time_offset + dropped / SAMPLING_RATE
        self._pop_committed(t)
        self.audio_buffer = self.audio_buffer[dropped:]
        self.buffer_time_offset = t

    def _samples_before(self, t: float) -> int:
        return min(len(self.audio_buffer), int((t - self.buffer_time_offset) * SAMPLING_RATE))

    def _pop_committed(self, t: float) -> None:
        """Forget committed words from the front while they end at or before `t`."""
        while self.committed_in_buffer and self.committed_in_buffer[0][1] <= t:
            self.committed_in_buffer.pop(0)

    def chunk_at(self, t: float) -> None:
        """Trim the window to start at stream time `t`; it never moves backwards."""
        if t <= self.buffer_time_offset:
            return
        self._pop_committed(t)
        self.audio_buffer = self.audio_buffer[self._samples_before(t) :]
        self.buffer_time_offset = t

    # --- prompt ----------------------------------------------------------------------------

    def _prompt_split(self) -> int:
        """Index of the first committed word still inside the window (the prompt ends before)."""
        k = max(0, len(self.commited) - 1)
        while k > 0 and self.commited[k - 1][1] > self.buffer_time_offset:
            k -= 1
        return k

    def prompt(self) -> tuple[str, str]:
        k = self._prompt_split()
        prompt: list[str] = []
        length = 0
        for _, _, text in reversed(self.commited[:k]):
            if length >= PROMPT_CHARS:
                break
            prompt.append(text)
            length += len(text) + 1
        context = [text for _, _, text in self.commited[k:]]
        return self.asr.sep.join(reversed(prompt)), self.asr.sep.join(context)

    # --- one iteration ---------------------------------------------------------------------

    def prepare(self) -> tuple[npt.NDArray[np.float32], str]:
        return self.audio_buffer, self.prompt()[0]

    def process_iter(self) -> Flushed:
        audio, prompt = self.prepare()
        result = self.asr.transcribe(audio, init_prompt=prompt)
        committed = self.commit(self.asr.ts_words(result), self.asr.segments_end_ts(result))
        return self.to_flush(committed)

    def commit(self, words: Sequence[Word], segment_ends: Sequence[float]) -> list[Word]:
        decoded_offset = self.buffer_time_offset
        new = self._insert(words)
        committed = self._flush(new)
        if self.window_seconds > self.trimming_sec:
            if self.trimming_mode == "sentence" and committed:
                self._trim_at_sentence()
            elif self.trimming_mode == "segment" and self.commited:
                self._trim_at_segment(segment_ends, decoded_offset)
        fallback = self.trimming_mode == "sentence" and self.commited
        if fallback and self.window_seconds > SENTENCE_FALLBACK_SEC:
            self._trim_at_segment(segment_ends, decoded_offset)
        self._enforce_cap()
        return committed

    def _insert(self, words: Sequence[Word]) -> list[Word]:
        offset = self.buffer_time_offset
        shifted = [(start + offset, end + offset, text) for start, end, text in words]
        new = [w for w in shifted if w[0] > self.last_committed_time - 0.1]
        tail = self.committed_in_buffer
        if new and abs(new[0][0] - self.last_committed_time) < 1 and tail:
            for i in range(1, min(len(tail), len(new), 5) + 1):
                if _texts(tail[-i:]) == _texts(new[:i]):
                    return new[i:]
        return new

    def _flush(self, new: list[Word]) -> list[Word]:
        count = 0
        while count < len(new) and all(
            count < len(h) and h[count][2] == new[count][2] for h in self.previous
        ):
            count += 1
        committed = new[:count]
        if committed:
            self.last_committed_time = committed[-1][1]
            self.last_committed_word = committed[-1][2]
        self.previous = [h[count:] for h in self.previous[1:]] + [new[count:]]
        self.committed_in_buffer.extend(committed)
        self.commited.extend(committed)
        return committed

    def _trim_at_sentence(self) -> None:
        sentences = self._sentences(self.commited[self._prompt_split() :])
        if len(sentences) >= 2:
            self.chunk_at(sentences[-2][1])

    def _trim_at_segment(self, segment_ends: Sequence[float], window_start: float) -> None:
        t = self.commited[-1][1]
        for end in reversed(segment_ends[:-1]):
            if end + window_start <= t:
                self.chunk_at(end + window_start)
                return

    # --- sentences -------------------------------------------------------------------------

    def _sentences(self, words: list[Word]) -> list[tuple[float, float]]:
        """(start, end) of each sentence, the last one possibly incomplete."""
        runs: list[list[Word]] = []
        rest = list(words)
        if self.tokenizer is None:
            current: list[Word] = []
            for word in rest:
                current.append(word)
                if word[2].rstrip().rstrip(CLOSING_MARKS).endswith(SENTENCE_ENDINGS):
                    runs.append(current)
                    current = []
            rest = current
        else:
            for piece in self.tokenizer.split(" ".join(w[2] for w in words)):
                target, run, letters = _squeeze(piece), [], ""
                while rest and len(letters) < len(target):
                    run.append(rest.pop(0))
                    letters += _squeeze(run[-1][2])
                if letters != target:
                    raise AssertionError(f"tokenizer piece {piece!r} matches no run of words")
                runs.append(run)
        if rest:
            runs.append(rest)
        return [(run[0][0], run[-1][1]) for run in runs if run]

    # --- output ----------------------------------------------------------------------------

    def finish(self) -> Flushed:
        tail = self.unconfirmed()
        self.commited.extend(tail)
        self.buffer_time_offset = self.buffer_time_offset + self.window_seconds
        self.audio_buffer = np.array([], dtype=np.float32)
        self._reset_hypothesis()
        return self.to_flush(tail)

    def to_flush(self, words: Sequence[Word], sep: str | None = None, offset: float = 0) -> Flushed:
        if sep is None:
            sep = self.asr.sep
        if not words:
            return (None, None, "")
        return (offset + words[0][0], offset + words[-1][1], sep.join(w[2] for w in words))


def _texts(words: Sequence[Word]) -> str:
    return " ".join(w[2] for w in words)


def _squeeze(text: str) -> str:
    return "".join(text.split())
