"""Model names a client may send never reach the server's home directories, and load
errors say why without saying where the server keeps its files."""

from __future__ import annotations

from pathlib import Path

import pytest

from asr_interface.backends.model_resolution import redact_paths, resolve_model_path
from asr_interface.errors import ModelLoadError


@pytest.mark.parametrize("name", ["~", "~root"])
def test_home_directory_names_are_not_expanded(name: str) -> None:
    """`~` and `~root` are model names like any other, not home directories: the error
    never mentions the home directory they would expand to."""
    with pytest.raises(ModelLoadError) as failed:
        resolve_model_path(name)
    assert str(Path(name).expanduser()) not in str(failed.value)
    assert "not a CTranslate2 Whisper model directory" not in str(failed.value)


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        (
            "cannot assemble the model in /root/.cache/m/base: [Errno 13] Permission denied: "
            "'/root/.cache/m'",
            "cannot assemble the model in <path>: [Errno 13] Permission denied: '<path>'",
        ),
        (
            "Unable to open file 'model.bin' in model '/opt/models/x'",
            "Unable to open file 'model.bin' in model '<path>'",
        ),
        ("under ~/models or ~root/models", "under <path> or <path>"),
        ("see https://huggingface.co/org/repo", "see https://huggingface.co/org/repo"),
        ("tiny.en/base and 1/2", "tiny.en/base and 1/2"),
    ],
)
def test_redact_paths_hides_server_paths_only(text: str, redacted: str) -> None:
    """Absolute and home paths become `<path>`; URLs, model names and ratios stay."""
    assert redact_paths(text) == redacted
