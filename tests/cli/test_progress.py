"""The progress bar stays out of short scripted runs and shows long or interactive ones."""

from __future__ import annotations

import io

from asr_interface.cli.progress import ProgressBar


class Terminal(io.StringIO):
    """A text stream that says it is a terminal, as stderr does in an interactive shell."""

    def isatty(self) -> bool:
        return True


def test_short_runs_without_a_terminal_are_silent() -> None:
    """Scripts and tests of short files see nothing on stderr."""
    stream = io.StringIO()
    with ProgressBar(10.0, "s", long=False, stream=stream) as progress:
        for done in range(11):
            progress.update(done)
    assert stream.getvalue() == ""


def test_long_runs_without_a_terminal_log_every_tenth() -> None:
    """In logs a long run writes one line per 10% instead of redrawing."""
    stream = io.StringIO()
    with ProgressBar(200.0, "s", long=True, stream=stream) as progress:
        for done in range(0, 201, 5):
            progress.update(done)
    lines = stream.getvalue().splitlines()
    assert lines[0] == "progress: 0% (0/200 s)"
    assert lines[-1] == "progress: 100% (200/200 s)"
    assert len(lines) == 11
    assert "\r" not in stream.getvalue()


def test_a_terminal_gets_a_bar_redrawn_in_place() -> None:
    """On a terminal the bar redraws on one line, is erased for other output, and ends the line."""
    terminal = Terminal()
    with ProgressBar(4, "files", long=False, stream=terminal) as progress:
        progress.update(1)
        progress.update(1)
        progress.clear()
        progress.update(4)
    output = terminal.getvalue()
    assert output.count("\r[") == 2
    assert "]  25% 1/4 files" in output
    assert "\r\033[K" in output
    assert output.endswith("] 100% 4/4 files\n")
