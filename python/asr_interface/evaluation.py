"""Scoring transcripts against references: normalisation, word and character error rates."""

from __future__ import annotations

import csv
import difflib
import re
import unicodedata
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

from asr_interface.errors import ConfigError

_SPACES = re.compile(r"\s+")


def normalize(text: str) -> str:
    """Reduces a transcript to what WER should compare: words, not their typography.

    Lower-cases, turns dashes into spaces (so "lower-case" matches "lower case"), deletes
    every other punctuation mark (so "don't" becomes "dont" on both sides) and collapses
    white space. Numbers are left alone: "1455" and "fourteen fifty-five" stay different.
    """
    kept = []
    for char in text.lower():
        category = unicodedata.category(char)
        if category == "Pd":
            kept.append(" ")
        elif not category.startswith("P"):
            kept.append(char)
    return _SPACES.sub(" ", "".join(kept)).strip()


def edit_distance(reference: Sequence[Hashable], hypothesis: Sequence[Hashable]) -> int:
    """Levenshtein distance (substitutions, deletions, insertions all cost 1).

    Bit-parallel (Myers 1999, as adapted to global distance by Hyyrö 2001): one column of
    the dynamic-programming table is held as bit vectors in Python integers, so scoring a
    4-minute transcript character by character takes milliseconds rather than seconds.
    """
    length = len(reference)
    if length == 0:
        return len(hypothesis)
    full = (1 << length) - 1
    last_row = 1 << (length - 1)
    positions: dict[Hashable, int] = {}
    for index, symbol in enumerate(reference):
        positions[symbol] = positions.get(symbol, 0) | (1 << index)
    # Vertical deltas of the current column: all +1 in column 0 (distance i to empty).
    plus_vertical, minus_vertical = full, 0
    distance = length
    for symbol in hypothesis:
        matches = positions.get(symbol, 0)
        diagonal_zero = (((matches & plus_vertical) + plus_vertical) ^ plus_vertical) & full
        diagonal_zero |= matches | minus_vertical
        plus_horizontal = (minus_vertical | ~(diagonal_zero | plus_vertical)) & full
        minus_horizontal = plus_vertical & diagonal_zero
        if plus_horizontal & last_row:
            distance += 1
        elif minus_horizontal & last_row:
            distance -= 1
        # Row 0 grows by one per hypothesis symbol, hence the 1 shifted in.
        plus_horizontal = ((plus_horizontal << 1) | 1) & full
        minus_horizontal = (minus_horizontal << 1) & full
        plus_vertical = (minus_horizontal | ~(diagonal_zero | plus_horizontal)) & full
        minus_vertical = plus_horizontal & diagonal_zero
    return distance


@dataclass(frozen=True)
class ErrorCount:
    """Edit operations against a reference of a given length; sums into corpus-level rates."""

    errors: int
    reference_length: int

    @property
    def rate(self) -> float:
        """Errors per reference unit; an empty reference scores 0 if matched, else 1."""
        if self.reference_length == 0:
            return float(self.errors > 0)
        return self.errors / self.reference_length

    def __add__(self, other: ErrorCount) -> ErrorCount:
        return ErrorCount(
            self.errors + other.errors, self.reference_length + other.reference_length
        )


def word_errors(reference: str, hypothesis: str) -> ErrorCount:
    """Word edit operations between the normalised texts."""
    reference_words = normalize(reference).split()
    return ErrorCount(
        edit_distance(reference_words, normalize(hypothesis).split()), len(reference_words)
    )


def char_errors(reference: str, hypothesis: str) -> ErrorCount:
    """Character edit operations between the normalised texts, single spaces included."""
    reference_chars = normalize(reference)
    return ErrorCount(edit_distance(reference_chars, normalize(hypothesis)), len(reference_chars))


def word_error_rate(reference: str, hypothesis: str) -> float:
    """WER of one hypothesis; sum `word_errors` instead to score a corpus."""
    return word_errors(reference, hypothesis).rate


def lost_and_extra_words(before: Sequence[str], after: Sequence[str]) -> tuple[int, int]:
    """How two transcripts of the same speech differ in count: the words of `before`
    missing from `after`, and the words `after` has in excess (a word heard another way,
    one for one, is neither). A stream carried over to another server compares with the
    same stream with no fault so, for words lost or committed twice."""
    lost = extra = 0
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    for operation, a0, a1, b0, b1 in matcher.get_opcodes():
        if operation != "equal":
            lost += max(0, (a1 - a0) - (b1 - b0))
            extra += max(0, (b1 - b0) - (a1 - a0))
    return lost, extra


@dataclass(frozen=True)
class ManifestEntry:
    """One row of a manifest: an audio file and what is said in it."""

    audio_path: Path
    transcript: str
    subset: str | None = None


def read_manifest(path: str | PathLike[str]) -> list[ManifestEntry]:
    """Reads a tab-separated manifest with a header naming at least `file` and `transcript`.

    Audio paths are relative to the manifest's folder; an optional `subset` column is kept
    for filtering. Fields may be quoted CSV-style, so transcripts can hold quotes.
    """
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8") as stream:
            reader = csv.DictReader(stream, delimiter="\t")
            missing = {"file", "transcript"} - set(reader.fieldnames or ())
            if missing:
                raise ConfigError(f"manifest {path} lacks column(s): {', '.join(sorted(missing))}")
            return [
                ManifestEntry(path.parent / row["file"], row["transcript"], row.get("subset"))
                for row in reader
            ]
    except OSError as error:
        raise ConfigError(f"cannot read manifest {path}: {error.strerror}") from error
