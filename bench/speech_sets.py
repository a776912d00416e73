"""Speech from ../shared/speech that several benchmarks stream: recordings with the text
spoken in them, so that every benchmark scores word error rate the same way."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from asr_interface.audio import SAMPLING_RATE, load_audio
from asr_interface.evaluation import ManifestEntry, read_manifest

REPO = Path(__file__).resolve().parents[1]
SPEECH = REPO / ".." / "shared" / "speech"
LONG = SPEECH / "long" / "ljspeech_LJ001-0001_to_0032.wav"
LONG_GAP_SECONDS = 0.25
"""Silence between consecutive LJ Speech clips in the long recording (its README)."""


@dataclass(frozen=True)
class Recording:
    """One stream: its audio, what is said in it, and the part of an audio set it is in."""

    part: str
    audio: npt.NDArray[np.float32]
    reference: str

    @property
    def seconds(self) -> float:
        return len(self.audio) / SAMPLING_RATE


def ljspeech_entries() -> list[ManifestEntry]:
    """The LJ Speech clips, in the order the long recording joins them."""
    return [entry for entry in read_manifest(SPEECH / "manifest.tsv") if entry.subset == "ljspeech"]


def long_stretch(first: int, count: int, ljspeech: Sequence[ManifestEntry] = ()) -> Recording:
    """Clips `first` to `first + count` (0-based) of the long recording, cut in the middle
    of the silences around them; the clip durations locate the cuts."""
    ljspeech = ljspeech or ljspeech_entries()
    durations = [len(load_audio(entry.audio_path)) / SAMPLING_RATE for entry in ljspeech]
    start = max(0.0, sum(durations[:first]) + (first - 0.5) * LONG_GAP_SECONDS)
    end = sum(durations[: first + count]) + (first + count - 0.5) * LONG_GAP_SECONDS
    audio = load_audio(LONG)[round(start * SAMPLING_RATE) : round(end * SAMPLING_RATE)]
    reference = " ".join(entry.transcript for entry in ljspeech[first : first + count])
    return Recording("long", audio, reference)
