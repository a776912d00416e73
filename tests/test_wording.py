"""The tolerant text checks that model tests use: what they accept and what they refuse."""

from __future__ import annotations

import pytest

from tests.wording import allowed_edits, ends_with, heard, phrase_distance

TEXT = "And so, my fellow Americans: ask not what your country can do for you."


@pytest.mark.parametrize(
    ("phrase", "distance"),
    [
        ("fellow americans", 0),
        ("ask not what your country", 0),
        ("ask not what our country", 1),
        ("ask what your country", 1),
        ("ask not what your great country", 1),
        ("the quick brown fox", 4),
    ],
)
def test_distance_counts_word_edits_against_the_best_run(phrase: str, distance: int) -> None:
    """Punctuation and case never count; each missing, extra or changed word counts one."""
    assert phrase_distance(phrase, TEXT) == distance


def test_short_phrases_must_match_exactly_and_long_ones_allow_one_edit_in_four() -> None:
    """A two-word phrase allows no edit, an eight-word one two."""
    assert allowed_edits("fellow americans") == 0
    assert allowed_edits("ask not what your country can do for") == 2
    assert heard("fellow Americans", TEXT)
    assert not heard("fellow african", TEXT)
    assert heard("ask not what our country can do for", TEXT)
    assert not heard("ask not what our county could do to", TEXT)


def test_ends_with_anchors_the_phrase_at_the_last_word() -> None:
    """`ends_with` matches only a run that reaches the text's end."""
    assert ends_with(TEXT, "can do for you")
    assert not ends_with(TEXT, "fellow americans")
    assert phrase_distance("can do for", TEXT, at_end=True) == 1
