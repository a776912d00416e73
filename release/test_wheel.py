"""The release wheel as someone without Rust gets it: `release/test-wheel` installs it into a
fresh venv with no cargo or rustc on PATH and runs this module with that venv's Python, from
the repository root (so `tests` imports, and `python/` is not on the path). `make test` does
not collect it: it checks an installed wheel, not the source tree."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import urllib.request
from importlib import metadata
from pathlib import Path

import asr_interface
from asr_interface import _core
from asr_interface.evaluation import word_error_rate
from tests.server.conftest import running_server
from tests.speech import JFK, speech_path, transcript

REPOSITORY = Path(__file__).resolve().parents[1]
SITE_PACKAGES = Path(sysconfig.get_paths()["purelib"]).resolve()
COMMAND = str(Path(sysconfig.get_paths()["scripts"]) / "asr-interface")
MAX_WORD_ERROR_RATE = 0.25
"""tiny.en hears JFK almost word for word; this leaves room for another CPU's wording."""


def cargo_version() -> str:
    """The version the Cargo workspace gives every build."""
    cargo = tomllib.loads((REPOSITORY / "Cargo.toml").read_text(encoding="utf-8"))
    version: str = cargo["workspace"]["package"]["version"]
    return version


def mapped_package_files(pid: int) -> set[Path]:
    """The files of an `asr_interface` package that a running process has mapped in memory:
    the compiled extension it loaded, wherever it came from."""
    maps = Path(f"/proc/{pid}/maps").read_text(encoding="utf-8").splitlines()
    files = {Path(fields[5]) for fields in map(str.split, maps) if len(fields) == 6}
    return {path for path in files if path.parent.name == "asr_interface"}


def test_the_venv_has_no_rust_toolchain() -> None:
    """The wheel went into a venv whose PATH finds neither cargo nor rustc, so nothing could
    have been compiled on the way in."""
    assert sys.prefix != sys.base_prefix
    assert shutil.which("cargo") is None
    assert shutil.which("rustc") is None


def test_the_extension_is_the_wheels() -> None:
    """The package and its compiled core come from the venv's site-packages, listed in the
    installed record, not from a build left in the source tree."""
    extension = Path(_core.__file__).resolve()
    assert extension.is_relative_to(SITE_PACKAGES)
    assert Path(asr_interface.__file__).resolve().is_relative_to(SITE_PACKAGES)
    recorded = metadata.files("asr-interface") or []
    assert extension in {Path(str(file.locate())).resolve() for file in recorded}


def test_the_version_is_the_cargo_workspace_version() -> None:
    """The wheel's metadata and `asr-interface --version` carry the Cargo workspace version."""
    assert metadata.version("asr-interface") == cargo_version()
    printed = subprocess.run(
        [COMMAND, "--version"], capture_output=True, text=True, timeout=60, check=True
    )
    assert printed.stdout == f"{cargo_version()}\n"


def test_the_installed_server_transcribes_streamed_speech() -> None:
    """`asr-interface serve` from the venv transcribes JFK streamed by `asr-interface
    stream`, runs the wheel's extension, and reports the version on /health."""
    with running_server(serve=(COMMAND, "serve")) as server:
        streamed = subprocess.run(
            [COMMAND, "stream", str(speech_path(JFK)), "--no-realtime", "--url", server.url],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        with urllib.request.urlopen(server.http_url + "/health", timeout=10) as response:
            health = json.load(response)
        assert mapped_package_files(server.process.pid) == {Path(_core.__file__).resolve()}
    assert streamed.returncode == 0, streamed.stderr
    words = " ".join(line.split(maxsplit=2)[2] for line in streamed.stdout.splitlines())
    assert word_error_rate(transcript(JFK), words) <= MAX_WORD_ERROR_RATE
    assert health["version"] == cargo_version()
