"""`asr-interface serve` flags, checked before any model loads."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    ("flags", "complaint"),
    [
        (["--max-batch", "0"], "--max-batch: must be at least 1, got 0"),
        (["--max-batch", "two"], "--max-batch: invalid"),
        (["--batch-window-ms", "soon"], "--batch-window-ms: invalid float value"),
        (["--batch-window-ms", "-5"], "--batch-window-ms: must be 0 or more, got -5"),
        (["--latency-target", "fast"], "--latency-target: invalid float value"),
        (["--latency-target", "nan"], "--latency-target: must be 0 or more, got nan"),
    ],
)
def test_bad_batching_flags_are_refused_in_one_line(flags: list[str], complaint: str) -> None:
    """A batching or admission flag with an impossible value exits with status 2 and names
    the flag, before the server loads anything."""
    completed = subprocess.run(
        [sys.executable, "-m", "asr_interface", "serve", "--port", "0", *flags],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 2
    assert complaint in completed.stderr
    assert "listening" not in completed.stderr


def test_help_documents_the_batching_flags() -> None:
    """`serve --help` explains batching, its window and the latency target."""
    completed = subprocess.run(
        [sys.executable, "-m", "asr_interface", "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    for flag in ("--max-batch", "--batch-window-ms", "--latency-target"):
        assert flag in completed.stdout
    assert "overloaded" in completed.stdout
