"""The backend registry: model loaders by name, so a configuration can pick its backend.

The faster-whisper loader is registered as "faster-whisper" when this module is imported;
applications and plugins add their own with `register_loader`. Each loader names the
configuration class it reads (`config_class`), so a backend's own fields are validated,
and reach it, when a client selects it.
"""

from __future__ import annotations

import inspect
import threading
import typing
from dataclasses import dataclass

from pydantic import ValidationError

from asr_interface.backends.whisper_loader import FasterWhisperLoader
from asr_interface.core.config import ASRConfig
from asr_interface.core.protocols import ModelLoader
from asr_interface.errors import ConfigError, UnknownBackendError


@dataclass(frozen=True)
class _Registered:
    loader: ModelLoader
    config_class: type[ASRConfig]


_loaders: dict[str, _Registered] = {}
_lock = threading.Lock()


def _config_class_of(loader: ModelLoader) -> type[ASRConfig]:
    """The configuration class `loader` reads: its `config_class` attribute, else the
    annotation of its `load` method's parameter (`load(self, config: MyConfig)`), else
    `ASRConfig`. Read when the loader is registered, so a wrong one fails at import."""
    declared = getattr(loader, "config_class", None)
    if declared is None:
        declared = _parameter_annotation(loader.load)
        if not (isinstance(declared, type) and issubclass(declared, ASRConfig)):
            return ASRConfig
    if not (isinstance(declared, type) and issubclass(declared, ASRConfig)):
        raise TypeError(f"config_class of {type(loader).__name__} must subclass ASRConfig")
    return declared


def _parameter_annotation(load: typing.Callable[..., object]) -> object:
    """The annotation of the first parameter of `load`, evaluated if it is a string (under
    `from __future__ import annotations`) in the namespace `load` was defined in."""
    parameters = list(inspect.signature(load).parameters.values())
    if not parameters or parameters[0].annotation is inspect.Parameter.empty:
        return None
    annotation = parameters[0].annotation
    if not isinstance(annotation, str):
        return annotation
    function = inspect.unwrap(getattr(load, "__func__", load))
    try:
        return eval(annotation, getattr(function, "__globals__", {}))
    except NameError as error:
        raise TypeError(
            f"the annotation of {load.__qualname__}'s parameter cannot be resolved ({error}); "
            "import the configuration class at run time, or set config_class"
        ) from None


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
    registered = _Registered(loader, _config_class_of(loader))
    with _lock:
        taken = _loaders.get(name)
        if taken is not None and not replace and taken.loader is not loader:
            raise ConfigError(
                f"backend {name!r} is already registered; pass replace=True to override it"
            )
        _loaders[name] = registered


def _registered(name: str) -> _Registered:
    with _lock:
        registered = _loaders.get(name)
        if registered is None:
            raise UnknownBackendError(
                f"unknown backend {name!r}; registered backends: {', '.join(sorted(_loaders))}"
            )
        return registered


def get_loader(name: str) -> ModelLoader:
    """The loader registered as `name`; `UnknownBackendError` lists the registered names."""
    return _registered(name).loader


def config_class(name: str) -> type[ASRConfig]:
    """The configuration class the backend `name` reads (`ASRConfig` or a subclass with the
    backend's own fields); `UnknownBackendError` lists the registered names."""
    return _registered(name).config_class


def as_read_by_backend(config: ASRConfig) -> ASRConfig:
    """`config` as an instance of the class its backend reads (a server's default built
    from command-line flags is an `ASRConfig`); `UnknownBackendError` for an unregistered
    backend, `ConfigError` when the class refuses it."""
    config_class = _registered(config.backend).config_class
    if type(config) is config_class:
        return config
    try:
        return config_class.model_validate(config.model_dump(exclude_unset=True))
    except ValidationError as error:
        raise ConfigError(
            f"backend {config.backend!r} refuses the configuration: {error}"
        ) from None


def list_loaders() -> list[str]:
    """The registered backend names, sorted."""
    with _lock:
        return sorted(_loaders)


register_loader("faster-whisper", FasterWhisperLoader())
