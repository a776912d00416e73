"""The registry maps backend names to loaders, starting with faster-whisper."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from asr_interface.backends import registry
from asr_interface.backends.registry import get_loader, list_loaders, register_loader
from asr_interface.backends.whisper_loader import FasterWhisperLoader
from asr_interface.core.config import ASRConfig
from asr_interface.core.protocols import ModelLoader
from asr_interface.errors import ASRInterfaceError, ConfigError, UnknownBackendError


@pytest.fixture(autouse=True)
def isolated_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test registers into a copy, so no test sees another's backends."""
    monkeypatch.setattr(registry, "_loaders", dict(registry._loaders))
    yield


def test_faster_whisper_is_registered_on_import() -> None:
    """The default backend of ASRConfig is available without any registration."""
    assert "faster-whisper" in list_loaders()
    assert isinstance(get_loader(ASRConfig().backend), FasterWhisperLoader)


def test_registered_loader_is_returned_by_name() -> None:
    """A loader registered under a name is the very object `get_loader` returns."""
    loader = FasterWhisperLoader()
    register_loader("my-engine", loader)
    assert get_loader(ASRConfig(backend="my-engine").backend) is loader
    assert isinstance(loader, ModelLoader)


def test_list_is_sorted() -> None:
    """Names are listed in a stable, sorted order, whatever the registration order."""
    register_loader("zeta", FasterWhisperLoader())
    register_loader("alpha", FasterWhisperLoader())
    names = list_loaders()
    assert names == sorted(names)
    assert {"alpha", "zeta", "faster-whisper"} <= set(names)


def test_unknown_backend_lists_registered_names() -> None:
    """Asking for an unregistered name fails with the names that would have worked."""
    register_loader("my-engine", FasterWhisperLoader())
    with pytest.raises(UnknownBackendError) as caught:
        get_loader("whisperx")
    message = str(caught.value)
    assert "'whisperx'" in message
    assert "faster-whisper, my-engine" in message
    assert isinstance(caught.value, LookupError)
    assert isinstance(caught.value, ASRInterfaceError)


def test_taken_name_needs_replace() -> None:
    """A second loader under a taken name is refused unless the caller asks to replace it."""
    first, second = FasterWhisperLoader(), FasterWhisperLoader()
    register_loader("my-engine", first)
    with pytest.raises(ConfigError, match="'my-engine' is already registered"):
        register_loader("my-engine", second)
    assert get_loader("my-engine") is first
    register_loader("my-engine", second, replace=True)
    assert get_loader("my-engine") is second


def test_registering_the_same_loader_again_is_harmless() -> None:
    """Re-registering the identical loader, as a re-run setup step does, keeps it in place."""
    loader = FasterWhisperLoader()
    register_loader("my-engine", loader)
    register_loader("my-engine", loader)
    assert get_loader("my-engine") is loader


@pytest.mark.parametrize("name", ["", None, 3])
def test_name_must_be_a_non_empty_string(name: object) -> None:
    """A backend name that no configuration could hold is refused."""
    with pytest.raises(ConfigError, match="non-empty string"):
        register_loader(name, FasterWhisperLoader())  # type: ignore[arg-type]


@pytest.mark.parametrize("loader", [object(), FasterWhisperLoader, "faster-whisper"])
def test_loader_must_have_load(loader: object) -> None:
    """Only objects with a `load` method are accepted, so mistakes fail at registration."""
    with pytest.raises(TypeError, match="load"):
        register_loader("broken", loader)  # type: ignore[arg-type]
    assert "broken" not in list_loaders()


class WideConfig(ASRConfig):
    """A backend's own configuration, with a field of its own."""

    custom_param: str = ""


class AnnotatedLoader:
    """Names its configuration class by the annotation of `load`'s parameter."""

    def load(self, config: WideConfig) -> tuple[object, dict[str, object]]:
        raise NotImplementedError


class DeclaredLoader(AnnotatedLoader):
    """Names it by a `config_class` attribute, which wins over the annotation."""

    config_class = ASRConfig


class UnresolvableLoader:
    """Annotates `load` with a name that does not exist where it was defined."""

    def load(self, config: NoSuchConfig) -> tuple[object, dict[str, object]]:  # type: ignore[name-defined]  # noqa: F821
        raise NotImplementedError


def test_loader_names_its_configuration_class() -> None:
    """The configuration class is the `load` parameter's annotation or `config_class`,
    else `ASRConfig` (the faster-whisper loader's)."""
    register_loader("annotated", AnnotatedLoader())  # type: ignore[arg-type]
    register_loader("declared", DeclaredLoader())  # type: ignore[arg-type]
    assert registry.config_class("annotated") is WideConfig
    assert registry.config_class("declared") is ASRConfig
    assert registry.config_class("faster-whisper") is ASRConfig
    with pytest.raises(UnknownBackendError):
        registry.config_class("no-such-backend")


def test_unresolvable_annotation_fails_at_registration() -> None:
    """An annotation that cannot be resolved fails when the loader is registered, where the
    plugin is imported, not when a client selects it."""
    with pytest.raises(TypeError, match="NoSuchConfig"):
        register_loader("unresolvable", UnresolvableLoader())  # type: ignore[arg-type]
    assert "unresolvable" not in list_loaders()
