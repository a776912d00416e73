"""Normalisation, edit distance, WER/CER and manifests score transcripts as documented."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asr_interface.errors import ConfigError
from asr_interface.evaluation import (
    ErrorCount,
    char_errors,
    edit_distance,
    lost_and_extra_words,
    normalize,
    read_manifest,
    word_error_rate,
    word_errors,
)
from tests.speech import SPEECH_DIR


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello, World!", "hello world"),
        ('the ""lower-case"" letters;', "the lower case letters"),
        ("  many\t spaces\n here ", "many spaces here"),
        ("Don't stop.", "dont stop"),
        ("i.e. the ne-plus-ultra", "ie the ne plus ultra"),
        ("fourteen fifty-five, 1455", "fourteen fifty five 1455"),
        ("em\u2014dash and \u2013 en dash", "em dash and en dash"),
        ("(brackets) [and] ¿questions?", "brackets and questions"),
        ("Émile ÇA", "émile ça"),
        ("", ""),
        ("...", ""),
    ],
)
def test_normalize(text: str, expected: str) -> None:
    """Case, punctuation and spacing go; dashes separate words; letters and digits stay."""
    assert normalize(text) == expected


@pytest.mark.parametrize(
    ("reference", "hypothesis", "distance"),
    [
        ("", "", 0),
        ("abc", "", 3),
        ("", "abc", 3),
        ("kitten", "sitting", 3),
        ("flaw", "lawn", 2),
        ("abc", "abc", 0),
        ("abcdef", "azced", 3),
        (["ask", "not", "what"], ["ask", "what"], 1),
        (["a"] * 100, ["a"] * 99 + ["b"], 1),
    ],
)
def test_edit_distance_table(
    reference: Sequence[str], hypothesis: Sequence[str], distance: int
) -> None:
    """Known Levenshtein distances, for characters and for words, also past 64 symbols."""
    assert edit_distance(reference, hypothesis) == distance


def dynamic_programming_distance(reference: Sequence[str], hypothesis: Sequence[str]) -> int:
    """The textbook table, as an oracle for the bit-parallel implementation."""
    previous = list(range(len(hypothesis) + 1))
    for row, expected in enumerate(reference, start=1):
        current = [row]
        for column, actual in enumerate(hypothesis, start=1):
            substitution = previous[column - 1] + (expected != actual)
            current.append(min(previous[column] + 1, current[column - 1] + 1, substitution))
        previous = current
    return previous[-1]


@given(st.text(alphabet="abc ", max_size=80), st.text(alphabet="abc ", max_size=80))
def test_edit_distance_matches_the_textbook_table(reference: str, hypothesis: str) -> None:
    """On any pair of strings the bit-parallel distance equals the dynamic-programming one."""
    assert edit_distance(reference, hypothesis) == dynamic_programming_distance(
        reference, hypothesis
    )


@pytest.mark.parametrize(
    ("reference", "hypothesis", "wer", "cer"),
    [
        ("Ask not what your country can do.", "ask not what your country can do", 0.0, 0.0),
        ("ask not what", "ask what", 1 / 3, 4 / 12),
        ("ask not what", "ask knot what", 1 / 3, 1 / 12),
        ("ask not", "ask not now", 1 / 2, 4 / 7),
        ("ask not", "", 1.0, 1.0),
        ("", "", 0.0, 0.0),
        ("", "something", 1.0, 1.0),
    ],
)
def test_error_rates(reference: str, hypothesis: str, wer: float, cer: float) -> None:
    """WER counts word edits per reference word, CER character edits per reference character."""
    assert word_error_rate(reference, hypothesis) == pytest.approx(wer)
    assert char_errors(reference, hypothesis).rate == pytest.approx(cer)


@pytest.mark.parametrize(
    ("after", "counts"),
    [
        ("ask not what your country", (0, 0)),
        ("ask not what you are country", (0, 1)),  # one word heard as two
        ("ask not what what your country", (0, 1)),  # a word committed twice
        ("ask not your country", (1, 0)),  # a word lost
        ("ask nut what your county", (0, 0)),  # words heard another way, one for one
        ("ask not what your country thank you", (0, 2)),
    ],
)
def test_lost_and_extra_words(after: str, counts: tuple[int, int]) -> None:
    """Words missing and words in excess, against the same speech transcribed before;
    substitutions count as neither."""
    assert lost_and_extra_words(["ask", "not", "what", "your", "country"], after.split()) == counts


def test_error_counts_add_up_to_a_corpus_rate() -> None:
    """Summing counts weighs each file by its length, unlike averaging per-file rates."""
    short = word_errors("one two", "one")
    long = word_errors("one two three four five six", "one two three four five six")
    assert short + long == ErrorCount(errors=1, reference_length=8)
    assert (short + long).rate == pytest.approx(1 / 8)
    assert char_errors("ab", "ab") + char_errors("cd", "") == ErrorCount(2, 4)


def test_manifest_rows_resolve_relative_to_the_manifest(tmp_path: Path) -> None:
    """Paths are relative to the manifest; quoted transcripts keep their inner quotes."""
    manifest = tmp_path / "sets" / "manifest.tsv"
    manifest.parent.mkdir()
    manifest.write_text(
        "file\tduration_s\ttranscript\tsubset\n"
        "a/one.wav\t1.0\tplain text\tfirst\n"
        'two.wav\t2.0\t"the ""lower-case"" letters"\tsecond\n',
        encoding="utf-8",
    )
    entries = read_manifest(manifest)
    assert [entry.audio_path for entry in entries] == [
        manifest.parent / "a" / "one.wav",
        manifest.parent / "two.wav",
    ]
    assert [entry.transcript for entry in entries] == ["plain text", 'the "lower-case" letters']
    assert [entry.subset for entry in entries] == ["first", "second"]


def test_manifest_without_subset_column(tmp_path: Path) -> None:
    """Only `file` and `transcript` are required."""
    manifest = tmp_path / "manifest.tsv"
    manifest.write_text("transcript\tfile\nhello\tx.wav\n", encoding="utf-8")
    (entry,) = read_manifest(manifest)
    assert (entry.audio_path, entry.transcript, entry.subset) == (tmp_path / "x.wav", "hello", None)


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "cannot read manifest"), ("file\ttext\na.wav\thi\n", "lacks column.*transcript")],
    ids=["missing", "no-transcript-column"],
)
def test_bad_manifests_raise_config_errors(
    tmp_path: Path, content: str | None, message: str
) -> None:
    """A missing manifest or one without the required columns is refused with a reason."""
    manifest = tmp_path / "manifest.tsv"
    if content is not None:
        manifest.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        read_manifest(manifest)


def test_the_shared_corpus_manifest_reads_completely() -> None:
    """Every row of the corpus manifest names an existing file and a transcript."""
    entries = read_manifest(SPEECH_DIR / "manifest.tsv")
    assert len(entries) == 527
    assert all(entry.audio_path.is_file() and entry.transcript for entry in entries)
    assert {entry.subset for entry in entries} >= {"ljspeech", "misc", "long", "pocketsphinx"}
