"""Timed transcripts group a model's words and survive a trip through every output format."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asr_interface.backends.registry import get_loader
from asr_interface.core.config import ASRConfig
from asr_interface.transcript import (
    FORMATTERS,
    PARSERS,
    Segment,
    format_srt,
    format_text,
    format_vtt,
    parse_subtitles,
    segments_from_words,
    transcribe_whole,
    transcript_text,
)
from tests.speech import JFK, speech_audio
from tests.wording import heard

SEGMENTS = [
    Segment(0.0, 1.5, "And so, my fellow Americans,"),
    Segment(1.5, 3.25, "ask not"),
    Segment(3723.004, 3725.5, "what your country can do for you."),
]


@pytest.mark.parametrize(
    ("words", "ends", "sep", "expected"),
    [
        ([], [], "", []),
        (
            [(0.0, 0.5, " ask"), (0.5, 0.9, " not"), (1.2, 1.6, " what")],
            [0.9, 1.6],
            "",
            [Segment(0.0, 0.9, "ask not"), Segment(1.2, 1.6, "what")],
        ),
        (
            [(0.0, 0.5, "ask"), (0.5, 0.9, "not"), (1.2, 1.6, "what")],
            [1.6],
            " ",
            [Segment(0.0, 1.6, "ask not what")],
        ),
        (
            [(0.0, 0.5, " ask"), (2.0, 2.5, " not")],
            [0.5, 1.0, 2.5],
            "",
            [Segment(0.0, 0.5, "ask"), Segment(2.0, 2.5, "not")],
        ),
        (
            [(0.0, 0.5, " ask"), (0.5, 0.9, " not"), (1.0, 1.7, " what")],
            [0.9, 1.6],
            "",
            [Segment(0.0, 0.9, "ask not"), Segment(1.0, 1.7, "what")],
        ),
        ([(0.0, 0.5, "ask")], [], " ", [Segment(0.0, 0.5, "ask")]),
    ],
    ids=["empty", "two-segments", "space-sep", "wordless-segment", "past-last-end", "no-ends"],
)
def test_segments_from_words(
    words: list[tuple[float, float, str]], ends: list[float], sep: str, expected: list[Segment]
) -> None:
    """Words fall into the first segment ending at or after them; empty segments vanish."""
    assert segments_from_words(words, ends, sep) == expected


def test_text_is_one_segment_per_line() -> None:
    """Plain text has no times: one line per segment, and one line for the whole."""
    assert format_text(SEGMENTS) == (
        "And so, my fellow Americans,\nask not\nwhat your country can do for you.\n"
    )
    assert transcript_text(SEGMENTS) == (
        "And so, my fellow Americans, ask not what your country can do for you."
    )


def test_srt_layout() -> None:
    """SRT cues are numbered from 1 with comma-separated milliseconds."""
    assert format_srt(SEGMENTS[1:]) == (
        "1\n00:00:01,500 --> 00:00:03,250\nask not\n\n"
        "2\n01:02:03,004 --> 01:02:05,500\nwhat your country can do for you.\n\n"
    )


def test_vtt_layout() -> None:
    """WebVTT starts with its signature and uses dotted milliseconds."""
    assert format_vtt(SEGMENTS[1:2]) == "WEBVTT\n\n00:00:01.500 --> 00:00:03.250\nask not\n\n"


def test_json_layout() -> None:
    """JSON holds the whole text and each segment's seconds and text."""
    document = json.loads(FORMATTERS["json"](SEGMENTS[:2]))
    assert document == {
        "text": "And so, my fellow Americans, ask not",
        "segments": [
            {"start": 0.0, "end": 1.5, "text": "And so, my fellow Americans,"},
            {"start": 1.5, "end": 3.25, "text": "ask not"},
        ],
    }


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_round_trip(name: str) -> None:
    """Every timed format reads back the segments it wrote."""
    assert PARSERS[name](FORMATTERS[name](SEGMENTS)) == SEGMENTS


cue_text = (
    st.text(
        alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp")),
        min_size=1,
    )
    .map(str.strip)
    .filter(lambda text: text and "-->" not in text)
)
milliseconds = st.integers(min_value=0, max_value=100 * 3_600_000)


cues = st.lists(st.tuples(milliseconds, milliseconds, cue_text), max_size=8)


@given(cues, st.sampled_from(sorted(PARSERS)))
def test_round_trip_of_any_transcript(cues: list[tuple[int, int, str]], name: str) -> None:
    """Any millisecond times (even past 24 h) and any one-line texts survive every format."""
    segments = [Segment(start / 1000, end / 1000, text) for start, end, text in cues]
    assert PARSERS[name](FORMATTERS[name](segments)) == segments


def test_subtitle_parser_skips_headers_notes_and_identifiers() -> None:
    """WebVTT written elsewhere, with notes, cue identifiers and short times, still reads."""
    document = (
        "WEBVTT - made elsewhere\r\n\r\nNOTE a comment\r\n\r\n"
        "intro\r\n00:01.000 --> 00:02.500 align:start\r\nfirst line\r\nsecond line\r\n\r\n"
        "1:00:00.000 --> 1:00:01.000\r\nlater\r\n"
    )
    assert parse_subtitles(document) == [
        Segment(1.0, 2.5, "first line\nsecond line"),
        Segment(3600.0, 3601.0, "later"),
    ]


@pytest.mark.model
def test_whole_file_transcription_of_jfk() -> None:
    """One model call over the JFK clip gives ordered segments within it, with the famous line."""
    processor, _metadata = get_loader("faster-whisper").load(ASRConfig())
    segments = transcribe_whole(processor.asr, speech_audio(JFK))  # type: ignore[attr-defined]
    assert heard("ask not what your country can do for you", transcript_text(segments))
    assert all(0 <= s.start <= s.end <= 11.0 for s in segments)
    assert [s.start for s in segments] == sorted(s.start for s in segments)
