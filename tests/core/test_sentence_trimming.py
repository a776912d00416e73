"""Sentence trimming on the real model: with no tokenizer, the window is cut where Whisper's
own punctuation ends a sentence. (The tokenizer hook is checked against the oracle in
test_processor_matches_oracle.py.)"""

from __future__ import annotations

import re

import numpy as np
import pytest

from asr_interface.audio import SAMPLING_RATE
from asr_interface.backends.registry import get_loader
from asr_interface.core.config import ASRConfig
from asr_interface.core.processor import OnlineASRProcessor
from asr_interface.evaluation import word_error_rate
from tests.speech import speech_audio, transcript

RATE = SAMPLING_RATE
GAP_SECONDS = 0.25
"""As in the corpus's long file: sentences follow each other without a real pause."""
CLIPS = (
    "ljspeech/LJ001-0005.wav",
    "ljspeech/LJ001-0008.wav",
    "ljspeech/LJ001-0009.wav",
    "ljspeech/LJ001-0013.wav",
    "ljspeech/LJ001-0011.wav",
)
TRIMMING_SECONDS = 6.0
CHUNK_SECONDS = 2.0
"""Half the model calls of 1 s chunks; each call costs a whole encoder pass."""
SENTENCE_END = re.compile(r"[.!?]$")


def stream_sentences() -> tuple[str, list[float], float]:
    """Streams five sentences in 2 s chunks in sentence mode; returns the text, every window
    start the stream moved to, and the longest window."""
    audio = np.concatenate(
        [
            part
            for name in CLIPS
            for part in (speech_audio(name), np.zeros(round(GAP_SECONDS * RATE), np.float32))
        ]
    )
    # Greedy decoding: the cuts, not the last bit of accuracy, are under test.
    config = ASRConfig(
        buffer_trimming="sentence", buffer_trimming_sec=TRIMMING_SECONDS, beam_size=1
    )
    processor, _ = get_loader(config.backend).load(config)
    assert isinstance(processor, OnlineASRProcessor)
    assert processor.tokenizer is None
    texts, cuts, longest = [], [], 0.0
    chunk = round(CHUNK_SECONDS * RATE)
    for start in range(0, len(audio), chunk):
        processor.insert_audio_chunk(audio[start : start + chunk])
        texts.append(processor.process_iter()[2])
        longest = max(longest, processor.window_seconds)
        if processor.buffer_time_offset > (cuts[-1] if cuts else 0.0):
            cuts.append(processor.buffer_time_offset)
            ending = {end: text for _, end, text in processor.commited}
            assert SENTENCE_END.search(ending[processor.buffer_time_offset].strip())
    texts.append(processor.finish()[2])
    return "".join(texts), cuts, longest


@pytest.mark.model
@pytest.mark.usefixtures("beam_search_only")
def test_window_is_cut_at_sentence_ends() -> None:
    """Out of the box, cuts land on committed words that end a sentence, and they keep the
    window well short of the recording."""
    reference = " ".join(transcript(name) for name in CLIPS)
    total = sum(len(speech_audio(name)) / RATE + GAP_SECONDS for name in CLIPS)
    text, cuts, longest = stream_sentences()
    assert word_error_rate(reference, text) <= 0.15
    assert len(cuts) >= 2
    # Without the cuts the window would grow to the whole recording (25.8 s); the first cut,
    # after the second sentence at about 10 s, already keeps it 8 s shorter.
    assert longest < total - 8
