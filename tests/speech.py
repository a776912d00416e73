"""The shared speech corpus the model tests run on: `../shared/speech` beside the repository."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from asr_interface.audio import load_audio
from asr_interface.evaluation import read_manifest

SPEECH_DIR = Path(__file__).resolve().parents[1] / ".." / "shared" / "speech"
JFK = "misc/jfk.wav"
SHORT = "ljspeech/LJ001-0002.wav"  # 1.9 s: "in being comparatively modern."


def speech_path(name: str) -> Path:
    """The file `name` of the corpus (relative to its folder, as in the manifest)."""
    return SPEECH_DIR / name


@cache
def speech_audio(name: str) -> npt.NDArray[np.float32]:
    """The decoded 16 kHz samples of `name`, read-only because tests share them."""
    audio = load_audio(speech_path(name))
    audio.setflags(write=False)
    return audio


@cache
def transcript(name: str) -> str:
    """The published transcript of `name` from the corpus manifest."""
    entries = read_manifest(SPEECH_DIR / "manifest.tsv")
    return next(entry.transcript for entry in entries if entry.audio_path == speech_path(name))


LONG = "long/ljspeech_LJ001-0001_to_0032.wav"
LONG_GAP_SECONDS = 0.25
"""The long recording is the LJ Speech clips LJ001-0001 to 0032 joined with this gap."""


def long_sentences(until: float) -> list[str]:
    """The transcripts of the sentences that the long recording holds whole in its first
    `until` seconds."""
    sentences, end = [], 0.0
    for number in range(1, 33):
        name = f"ljspeech/LJ001-{number:04d}.wav"
        end += len(speech_audio(name)) / 16000
        if end > until:
            break
        sentences.append(transcript(name))
        end += LONG_GAP_SECONDS
    return sentences
