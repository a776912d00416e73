"""Timed transcripts: built from a model's words, written and read as text, JSON, SRT and WebVTT."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from asr_interface.core.protocols import ASRBase, TimedWord


@dataclass(frozen=True)
class Segment:
    """A piece of text and the seconds it spans: a model segment, a committed chunk or a word."""

    start: float
    end: float
    text: str


def segments_from_words(
    words: Sequence[TimedWord], segment_ends: Sequence[float], sep: str
) -> list[Segment]:
    """Groups a model's words into its segments, so subtitles follow the model's own pauses.

    Each word belongs to the first segment ending at or after the word's end; words past the
    last segment end join the last segment. Segments without words are dropped.
    """
    groups: list[list[TimedWord]] = [[] for _ in range(max(1, len(segment_ends)))]
    index = 0
    for word in words:
        while index < len(segment_ends) - 1 and word[1] > segment_ends[index]:
            index += 1
        groups[index].append(word)
    return [
        Segment(float(group[0][0]), float(group[-1][1]), sep.join(w[2] for w in group).strip())
        for group in groups
        if group
    ]


def transcribe_whole(asr: ASRBase, audio: npt.NDArray[np.float32]) -> list[Segment]:
    """Transcribes a recording in one model call, the offline baseline for streaming."""
    result = asr.transcribe(audio)
    return segments_from_words(asr.ts_words(result), asr.segments_end_ts(result), asr.sep)


def transcript_text(segments: Sequence[Segment]) -> str:
    """The whole transcript as one line, segments separated by a space."""
    return " ".join(segment.text for segment in segments if segment.text)


def _clock(seconds: float, decimal_mark: str) -> str:
    milliseconds = max(0, round(seconds * 1000))
    hours, rest = divmod(milliseconds, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    whole, fraction = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{whole:02d}{decimal_mark}{fraction:03d}"


def format_text(segments: Sequence[Segment]) -> str:
    """One line per segment, without times: for reading."""
    return "".join(f"{segment.text}\n" for segment in segments)


def format_json(segments: Sequence[Segment]) -> str:
    """The full text and every segment with times in seconds (millisecond precision)."""
    document = {
        "text": transcript_text(segments),
        "segments": [
            {"start": round(s.start, 3), "end": round(s.end, 3), "text": s.text} for s in segments
        ],
    }
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def format_srt(segments: Sequence[Segment]) -> str:
    """SubRip subtitles: numbered cues, `HH:MM:SS,mmm` times."""
    return "".join(
        f"{number}\n{_clock(s.start, ',')} --> {_clock(s.end, ',')}\n{s.text}\n\n"
        for number, s in enumerate(segments, start=1)
    )


def format_vtt(segments: Sequence[Segment]) -> str:
    """WebVTT subtitles, as browsers' `<track>` elements read them."""
    cues = "".join(
        f"{_clock(s.start, '.')} --> {_clock(s.end, '.')}\n{s.text}\n\n" for s in segments
    )
    return f"WEBVTT\n\n{cues}"


FORMATTERS: dict[str, Callable[[Sequence[Segment]], str]] = {
    "text": format_text,
    "json": format_json,
    "srt": format_srt,
    "vtt": format_vtt,
}
"""Output format name -> function writing a transcript in it."""


def parse_json(document: str) -> list[Segment]:
    """Reads the segments back from `format_json` output."""
    parsed: dict[str, Any] = json.loads(document)
    return [Segment(float(s["start"]), float(s["end"]), str(s["text"])) for s in parsed["segments"]]


_CUE_TIMES = re.compile(
    r"^\s*(?:(\d+):)?(\d{2}):(\d{2})[,.](\d{3})\s*-->\s*(?:(\d+):)?(\d{2}):(\d{2})[,.](\d{3})"
)


def _seconds(hours: str | None, minutes: str, seconds: str, milliseconds: str) -> float:
    # Summed in whole milliseconds, so that a written time reads back as the same float.
    whole_seconds = (int(hours or 0) * 60 + int(minutes)) * 60 + int(seconds)
    return (whole_seconds * 1000 + int(milliseconds)) / 1000


def parse_subtitles(document: str) -> list[Segment]:
    """Reads the cues of SRT or WebVTT subtitles; cue numbers, headers and notes are skipped."""
    segments = []
    for block in re.split(r"\n\s*\n", document.replace("\r\n", "\n")):
        lines = block.strip("\n").split("\n")
        for index, line in enumerate(lines):
            times = _CUE_TIMES.match(line)
            if times:
                fields = times.groups()
                text = "\n".join(lines[index + 1 :])
                segments.append(Segment(_seconds(*fields[:4]), _seconds(*fields[4:]), text))
                break
    return segments


PARSERS: dict[str, Callable[[str], list[Segment]]] = {
    "json": parse_json,
    "srt": parse_subtitles,
    "vtt": parse_subtitles,
}
"""Format name -> function reading segments back (plain text carries no times)."""
