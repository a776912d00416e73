"""Backends from outside the package: `serve --plugin` modules and installed packages'
entry points register their loaders before the server starts, or stop it with their error."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from asr_interface.backends import registry
from asr_interface.backends.plugins import (
    ENTRY_POINT_GROUP,
    PluginError,
    import_plugins,
    load_entry_points,
)
from asr_interface.backends.registry import list_loaders

PLUGIN = """
from asr_interface.backends.registry import register_loader
from asr_interface.backends.whisper_loader import FasterWhisperLoader

def register():
    register_loader("{name}", FasterWhisperLoader())
"""


@pytest.fixture(autouse=True)
def isolated_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test registers into a copy, so no test sees another's backends."""
    monkeypatch.setattr(registry, "_loaders", dict(registry._loaders))
    yield


def installed(root: Path, distribution: str, entry_points: dict[str, str]) -> None:
    """Installs a distribution under `root` (on sys.path) declaring `entry_points`."""
    info = root / f"{distribution}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: 1.0\n")
    lines = [f"[{ENTRY_POINT_GROUP}]", *(f"{k} = {v}" for k, v in entry_points.items())]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")


def test_entry_point_function_registers_its_backend(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An installed package's entry point naming a function is loaded and called, so the
    backend it registers can be selected."""
    (tmp_path / "ep_backend.py").write_text(PLUGIN.format(name="from-entry-point"))
    installed(tmp_path, "ep_backend", {"mine": "ep_backend:register"})
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "ep_backend", raising=False)
    assert "mine" in load_entry_points()
    assert "from-entry-point" in list_loaders()


def test_plugin_module_registers_on_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A `--plugin` module's top-level `register_loader` call runs when it is imported."""
    (tmp_path / "cli_backend.py").write_text(PLUGIN.format(name="from-plugin") + "\nregister()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "cli_backend", raising=False)
    import_plugins(["cli_backend"])
    assert "from-plugin" in list_loaders()


def test_failing_entry_point_names_itself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An entry point whose module is missing raises `PluginError` naming it and the error."""
    installed(tmp_path, "broken_backend", {"broken": "no_such_module_anywhere"})
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(PluginError, match=r"'broken'.*ModuleNotFoundError"):
        load_entry_points()
