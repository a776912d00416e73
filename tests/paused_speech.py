"""Speech with long pauses, and sounds that are not speech: what voice activity control is
tested on, by the detector's tests and the VAC processor's alike."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt

from asr_interface.audio import SAMPLING_RATE
from tests.speech import speech_audio, transcript

RATE = SAMPLING_RATE
LEAD_SECONDS = 1.0
PAUSE_SECONDS = 5.0
CLIPS = ("ljspeech/LJ001-0001.wav", "ljspeech/LJ001-0002.wav", "ljspeech/LJ001-0004.wav")
FEED_SECONDS = 0.1
"""Audio arrives in small chunks, as from a microphone, so an utterance's end is noticed
as soon as the detector finds it rather than at the next whole second."""
PAD_SECONDS = 0.3
"""The detector's default speech padding."""


@dataclass(frozen=True)
class PausedSpeech:
    """Speech clips with long pauses between them, and where each clip lies."""

    audio: npt.NDArray[np.float32]
    spans: tuple[tuple[float, float], ...]
    reference: str


def silence(seconds: float) -> npt.NDArray[np.float32]:
    return np.zeros(round(seconds * RATE), dtype=np.float32)


@cache
def paused_speech(pause: float = PAUSE_SECONDS) -> PausedSpeech:
    """One second of silence, then each clip followed by `pause` seconds of silence."""
    parts = [silence(LEAD_SECONDS)]
    spans = []
    start = LEAD_SECONDS
    for name in CLIPS:
        clip = speech_audio(name)
        parts += [clip, silence(pause)]
        spans.append((start, start + len(clip) / RATE))
        start += len(clip) / RATE + pause
    reference = " ".join(transcript(name) for name in CLIPS)
    return PausedSpeech(np.concatenate(parts), tuple(spans), reference)


def non_speech(kind: str) -> npt.NDArray[np.float32]:
    """60 seconds of silence, low white noise or mains hum."""
    samples = 60 * RATE
    if kind == "silence":
        return np.zeros(samples, dtype=np.float32)
    if kind == "low noise":
        return (np.random.default_rng(7).standard_normal(samples) * 0.01).astype(np.float32)
    times = np.arange(samples) / RATE
    return (0.05 * np.sin(2 * np.pi * 50 * times)).astype(np.float32)
