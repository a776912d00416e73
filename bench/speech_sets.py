"""Speech from ../shared/speech that several benchmarks stream: recordings with the text
spoken in them, so that every benchmark scores word error rate the same way."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
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
SETS = ("long", "mfa", "pocketsphinx", "asterisk_allison")
"""The sets that `continuous_sets` makes continuous minutes of."""


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


def continuous_sets(max_seconds: float, names: Iterable[str] = SETS) -> list[Recording]:
    """Each named set as one continuous recording: the long LJ Speech recording as it is, the
    clips of every other set joined by `LONG_GAP_SECONDS` of silence (short clips alone hide
    the cost of a long window). A set longer than `max_seconds` is cut after the clip that
    reaches it, so that the cut has its own transcript."""
    entries = read_manifest(SPEECH / "manifest.tsv")
    gap = np.zeros(round(LONG_GAP_SECONDS * SAMPLING_RATE), dtype=np.float32)
    recordings = []
    for name in names:
        if name == "long":
            clips = ljspeech_entries()
            count, seconds = 0, 0.0
            while count < len(clips) and seconds < max_seconds:
                seconds += len(load_audio(clips[count].audio_path)) / SAMPLING_RATE
                count += 1
            recordings.append(long_stretch(0, count, clips))
            continue
        pieces, texts, seconds = [], [], 0.0
        for entry in (entry for entry in entries if entry.subset == name):
            clip = load_audio(entry.audio_path)
            pieces += [clip, gap]
            texts.append(entry.transcript)
            seconds += len(clip) / SAMPLING_RATE + LONG_GAP_SECONDS
            if seconds >= max_seconds:
                break
        if not texts:
            raise ValueError(f"no clips of set {name!r} in {SPEECH / 'manifest.tsv'}")
        recordings.append(Recording(name, np.concatenate(pieces[:-1]), " ".join(texts)))
    return recordings
