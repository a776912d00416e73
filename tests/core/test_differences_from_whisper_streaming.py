"""Each difference from whisper_streaming's commits (docs/streaming-policy.md, "Differences from
whisper_streaming"), shown on real speech with tiny.en decoding as whisper_streaming does (beam
5), streamed in 1 s chunks."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from asr_interface.backends.whisper_loader import FasterWhisperASR, OnlineASRProcessor
from asr_interface.core.decoding import TimedWord
from asr_interface.evaluation import normalize
from tests.speech import JFK, LONG, SHORT, long_sentences, speech_audio
from tests.wording import heard

pytestmark = pytest.mark.model

CHUNK = 16000
SENTENCE_ENDS = (".", "!", "?")


@cache
def tiny_en() -> FasterWhisperASR:
    """tiny.en with whisper_streaming's decoding, shared by the module's streams."""
    return FasterWhisperASR("en", "tiny.en")


@dataclass
class Streamed:
    """What one stream committed and the windows it was transcribed in."""

    committed: list[TimedWord] = field(default_factory=list)
    offsets: list[float] = field(default_factory=list)
    window_seconds: list[float] = field(default_factory=list)
    newest_starts: list[float | None] = field(default_factory=list)
    first_commit_step: int | None = None

    @property
    def text(self) -> str:
        return normalize("".join(word for _, _, word in self.committed))


def stream(
    processor: OnlineASRProcessor, audio: npt.NDArray[np.float32], *, finish: bool = True
) -> Streamed:
    """Feeds `audio` in 1 s chunks, one step per chunk, as whisper_streaming's loop does."""
    streamed = Streamed()
    for start in range(0, len(audio), CHUNK):
        processor.insert_audio_chunk(audio[start : start + CHUNK])
        streamed.window_seconds.append(processor.window_seconds)
        committed = processor.step(final=True).committed
        if committed and streamed.first_commit_step is None:
            streamed.first_commit_step = len(streamed.offsets)
        streamed.committed += committed
        streamed.offsets.append(processor.buffer_time_offset)
        streamed.newest_starts.append(streamed.committed[-1][0] if streamed.committed else None)
    if finish:
        streamed.committed += processor.finish_words()
    return streamed


def processor(**options: Any) -> OnlineASRProcessor:
    return OnlineASRProcessor(tiny_en(), **options)


def test_the_window_cap_keeps_the_newest_committed_word_audible() -> None:
    """Asked for (the server asks), the window never exceeds the 30 s cap (whisper_streaming's
    grows while no segment end is committed, as in this recording's first 40 s), and the cut
    at the cap loses no word: it keeps the newest committed word's audio, which the prompt
    leaves out (cut after it, "fine" went with it in "an example of fine typography")."""
    audio = speech_audio(LONG)[: 44 * CHUNK]
    streamed = stream(processor(max_window_sec=30.0), audio)
    assert max(streamed.window_seconds) <= 30.0
    assert streamed.offsets[-1] > streamed.offsets[-5] > 0, "the cap never cut the window"
    moves = [
        (offset, newest)
        for before, offset, newest in zip(
            streamed.offsets, streamed.offsets[1:], streamed.newest_starts[1:], strict=False
        )
        if offset > before
    ]
    assert moves and all(newest is not None and offset <= newest for offset, newest in moves)
    assert heard("as an example of fine typography the earliest book", streamed.text)
    assert all(heard(sentence, streamed.text) for sentence in long_sentences(44))


def test_finish_leaves_the_processor_ready_with_the_tail_as_prompt() -> None:
    """`finish` commits the tail, moves the window to the end of the audio, and the next
    utterance is prompted by the text so far (whisper_streaming's `finish` only returns the
    tail and keeps the old window)."""
    p = processor()
    first = stream(p, speech_audio(JFK))
    duration = len(speech_audio(JFK)) / CHUNK
    assert p.buffer_time_offset == pytest.approx(duration, abs=1e-6)
    prompt, _ = p.prompt()
    prompt_words, first_words = normalize(prompt).split(), first.text.split()
    assert prompt_words and first_words[:-1][-len(prompt_words) :] == prompt_words
    second = stream(p, speech_audio(SHORT))
    assert heard("comparatively modern", second.text)
    assert all(start >= first.committed[-1][1] for start, _, _ in second.committed)


def test_sentence_trimming_reads_punctuation_and_never_moves_back() -> None:
    """Sentence trimming needs no tokenizer (whisper_streaming's fails without one): over
    half a minute of read sentences, the window is cut only at the end of a committed word
    that ends a sentence, never backwards, and it is cut."""
    p = processor(buffer_trimming=("sentence", 3))
    streamed = stream(p, speech_audio(LONG)[: 32 * CHUNK], finish=False)
    sentence_ends = {
        end for _, end, word in streamed.committed if word.strip().endswith(SENTENCE_ENDS)
    }
    cuts = [offset for offset in streamed.offsets if offset > 0]
    assert cuts, "the window was never trimmed"
    assert set(cuts) <= sentence_ends
    assert streamed.offsets == sorted(streamed.offsets)


def test_agreement_of_three_waits_for_a_third_pass() -> None:
    """`agreement_n=3` (whisper_streaming fixes 2) commits only once three passes agree:
    its first commit comes at a later step than with two-way agreement."""
    two = stream(processor(), speech_audio(JFK), finish=False)
    three = stream(processor(agreement_n=3), speech_audio(JFK), finish=False)
    assert two.first_commit_step is not None and three.first_commit_step is not None
    assert three.first_commit_step > two.first_commit_step
    assert heard("fellow americans", three.text)


def test_an_empty_prompt_is_no_prompt() -> None:
    """A window with nothing committed before it is decoded without a prompt, as
    faster-whisper decodes with `initial_prompt=None`; whisper_streaming passes "", which
    faster-whisper turns into a one-space prompt, and the words change ("Printing, in")."""
    window = speech_audio(LONG)[: 6 * CHUNK]
    ours = "".join(word for _, _, word in tiny_en().ts_words(tiny_en().transcribe(window, "")))

    def faster_whisper(prompt: str | None) -> str:
        segments, _ = tiny_en().model.transcribe(
            window, language="en", initial_prompt=prompt, beam_size=5, word_timestamps=True
        )
        return "".join(word.word for segment in segments for word in segment.words or [])

    assert ours == faster_whisper(None)
    assert ours != faster_whisper("")
