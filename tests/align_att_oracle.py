"""A plain-Python reading of the AlignAtt policy (docs/streaming-policy.md), kept only to check
the Rust core (`asr_interface._core.AlignAttCore`).

Every rule appears once, in the plainest lines: the window as a count of samples and a start
time, every committed word ever (the core keeps only those the prompt can still read), and
float64 arithmetic written as the core does it so that both agree exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

SAMPLING_RATE = 16000
FRAME_SECONDS = 0.02
TIME_TOLERANCE = 1e-6
LEAD_IN_JITTER = 0.2
REPEAT_WINDOW = 1.0
MAX_REPEAT_WORDS = 5
ENDING_CHARS = 2
STEM_CHARS = 4


@dataclass(frozen=True)
class TokenWord:
    start: float
    end: float
    text: str
    tokens: tuple[int, ...]


def loosely(words: list[TokenWord] | list[str]) -> str:
    """The letters and digits of the words, lowercased."""
    texts = [w if isinstance(w, str) else w.text for w in words]
    return "".join(c.lower() for text in texts for c in text if c.isalnum())


def heard_alike(a: str, b: str) -> bool:
    """Alike, or one is the other but for a short ending."""
    shorter, longer = sorted((a, b), key=len)
    return longer.startswith(shorter) and (
        len(shorter) == len(longer)
        or (len(shorter) >= STEM_CHARS and len(longer) - len(shorter) <= ENDING_CHARS)
    )


def unheard(w: TokenWord) -> bool:
    """A spoken word the alignment gave no audio."""
    return w.end <= w.start and any(c.isalnum() for c in w.text)


class OracleAlignAtt:
    """The AlignAtt bookkeeping: the reference the Rust core must match."""

    def __init__(
        self,
        frame_threshold: int = 25,
        trimming_sec: float = 15.0,
        max_window_sec: float = 30.0,
        max_prompt_tokens: int = 223,
    ) -> None:
        if not 0 < trimming_sec <= max_window_sec:
            raise ValueError("need 0 < trimming_sec <= max_window_sec")
        self.threshold = frame_threshold * FRAME_SECONDS
        self.trimming_sec = trimming_sec
        self.cap = int(max_window_sec * SAMPLING_RATE)
        self.max_prompt_tokens = max_prompt_tokens
        self.init(0.0)

    def init(self, offset: float) -> None:
        self.offset = offset
        self.samples = 0
        self.prepared = 0
        self.committed: list[TokenWord] = []
        self.first_in_window = 0
        self.unconfirmed: list[TokenWord] = []
        self.committed_end = offset
        self.settled = offset
        self.resumed_tail: list[str] = []

    def resume(self, offset: float, settled: float, context: list[str]) -> None:
        """A stream continuing one committed elsewhere up to `settled` with the words
        `context`: the words of the audio before it (the lead-in) are never reported, nor,
        until a word is committed, a head saying the context's last words again."""
        self.init(offset)
        self.settled = max(settled, offset)
        self.resumed_tail = list(context)

    def partial(self) -> list[TokenWord]:
        return self._new_words(self.unconfirmed)

    def _new_words(self, words: list[TokenWord]) -> list[TokenWord]:
        fresh = [w for w in words if not self._in_lead_in(w)]
        if fresh and abs(fresh[0].start - self.settled) < REPEAT_WINDOW:
            longest = min(len(self.resumed_tail), len(fresh), MAX_REPEAT_WORDS)
            for count in range(1, longest + 1):
                if heard_alike(loosely(self.resumed_tail[-count:]), loosely(fresh[:count])):
                    return fresh[count:]
        return fresh

    def _in_lead_in(self, w: TokenWord) -> bool:
        return w.end <= self.settled + LEAD_IN_JITTER and w.start + w.end < 2.0 * self.settled

    def insert(self, count: int) -> None:
        """Appends `count` samples; past the cap, cut at the newest committed word's end if
        that is enough, else drop the oldest samples."""
        self.samples += count
        if self.samples <= self.cap:
            return
        newest_end = self.committed[-1].end if self.committed else None
        if (
            newest_end is not None
            and newest_end > self.offset
            and self.samples - self._samples_before(newest_end) <= self.cap
        ):
            self._cut_at(newest_end)
        else:
            dropped = self.samples - self.cap
            self._cut(dropped, self.offset + dropped / SAMPLING_RATE)

    def prepare(self) -> tuple[int, list[int], list[int]]:
        """The window's length in samples, the prompt tokens and the prefix tokens."""
        self.prepared = self.samples
        before = [t for w in self.committed[: self.first_in_window] for t in w.tokens]
        prompt = before[len(before) - min(len(before), self.max_prompt_tokens) :]
        prefix = [t for w in self.committed[self.first_in_window :] for t in w.tokens]
        return self.samples, prompt, prefix

    def commit(self, words: list[TokenWord], final: bool) -> list[TokenWord]:
        decoded = self.prepared / SAMPLING_RATE
        previous_start = 0.0
        for index, w in enumerate(words):
            ordered = previous_start <= w.start <= w.end <= decoded + TIME_TOLERANCE
            if not ordered:
                raise ValueError(f"word {index}")
            previous_start = w.start
        if final:
            ready = len(words)
        else:
            ready = 0
            for index, w in enumerate(words[:-1]):  # the newest word never
                unheard_run = unheard(w) and unheard(words[index + 1])
                if not w.end < decoded - self.threshold or unheard_run:
                    break
                ready += 1
        shifted = [
            TokenWord(w.start + self.offset, w.end + self.offset, w.text, w.tokens) for w in words
        ]
        new, self.unconfirmed = shifted[:ready], shifted[ready:]
        self.committed.extend(new)
        if final:
            self.unconfirmed = []
            self.offset += self.samples / SAMPLING_RATE
            self.samples = 0
            self.prepared = 0
            self.first_in_window = len(self.committed)
        elif (
            self.samples / SAMPLING_RATE > self.trimming_sec
            and len(self.committed) > self.first_in_window + 1
        ):
            # The oldest committed word (not the window's first) leaving at most trimming_sec,
            # else the newest; the word cut at stays as prefix.
            earliest = self.offset + self.samples / SAMPLING_RATE - self.trimming_sec
            later = self.committed[self.first_in_window + 1 : -1]
            fitting = [w for w in later if w.start >= earliest]
            self._cut_at((fitting[0] if fitting else self.committed[-1]).start)
        return self._reported(new)

    def _reported(self, words: list[TokenWord]) -> list[TokenWord]:
        """Committed words as reported: none of the lead-in or of a head repeating a resumed
        stream's context, none starting before the previous one ended."""
        reported = []
        if any(not self._in_lead_in(w) for w in words):
            fresh = self._new_words(words)
            self.resumed_tail = []
        else:
            fresh = []
        for w in fresh:
            start = max(w.start, self.committed_end)
            self.committed_end = max(w.end, start)
            reported.append(TokenWord(start, self.committed_end, w.text, w.tokens))
        return reported

    def in_window(self) -> list[TokenWord]:
        return self.committed[self.first_in_window :]

    def _samples_before(self, time: float) -> int:
        return min(int((time - self.offset) * SAMPLING_RATE), self.samples)

    def _cut_at(self, time: float) -> None:
        if time > self.offset:
            self._cut(self._samples_before(time), time)

    def _cut(self, count: int, time: float) -> None:
        self.samples -= min(count, self.samples)
        self.prepared = max(0, self.prepared - count)
        self.offset = time
        while (
            self.first_in_window < len(self.committed)
            and self.committed[self.first_in_window].start < time
        ):
            self.first_in_window += 1
        self.unconfirmed = [w for w in self.unconfirmed if w.start >= time]
