"""The backend registry: model loaders by name, so a configuration can pick its backend.

The faster-whisper loader is registered as "faster-whisper" when this module is imported;
applications and plugins add their own with `register_loader`.
"""

from __future__ import annotations

import threading

from asr_interface.backends.whisper_loader import FasterWhisperLoader
from asr_interface.core.protocols import ModelLoader
from asr_interface.errors import ConfigError, UnknownBackendError

_loaders: dict[str, ModelLoader] = {}
_lock = threading.Lock()


def register_loader(name: str, loader: ModelLoader, *, replace: bool = False) -> None:
    """Makes `loader` the backend called `name`.

    A name already taken raises `ConfigError` unless `replace` is true, so two plugins cannot
    silently take each other's name; registering the same loader again is harmless.
    """
    if not isinstance(name, str) or not name:
        raise ConfigError(f"a backend name must be a non-empty string, got {name!r}")
    if isinstance(loader, type):
        raise TypeError(
            f"register an instance of {loader.__name__}, not the class: load is a method"
        )
    if not isinstance(loader, ModelLoader):
        raise TypeError(f"a model loader needs a load(config) method, got {loader!r}")
    with _lock:
        if name in _loaders and not replace and _loaders[name] is not loader:
            raise ConfigError(
                f"backend {name!r} is already registered; pass replace=True to override it"
            )
        _loaders[name] = loader


def get_loader(name: str) -> ModelLoader:
    """The loader registered as `name`; `UnknownBackendError` lists the registered names."""
    with _lock:
        loader = _loaders.get(name)
        if loader is None:
            raise UnknownBackendError(
                f"unknown backend {name!r}; registered backends: {', '.join(sorted(_loaders))}"
            )
        return loader


def list_loaders() -> list[str]:
    """The registered backend names, sorted."""
    with _lock:
        return sorted(_loaders)


register_loader("faster-whisper", FasterWhisperLoader())
