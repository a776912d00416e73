"""Backends from outside the package: modules named on the command line (`serve --plugin`)
and installed packages' entry points (group `asr_interface.backends`).

Either way a backend registers itself with `register_loader` when its module is imported,
as the integration guide's step 3 does. Loading happens before the server listens, and a
plugin that fails stops the start with its error (`PluginError`), never a session later.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from importlib.metadata import entry_points

from asr_interface.errors import ASRInterfaceError

ENTRY_POINT_GROUP = "asr_interface.backends"
"""Installed packages list their backend modules here: `my_backend = "my_pkg.backend"`
imports the module; `"my_pkg.backend:register"` also calls that function."""


class PluginError(ASRInterfaceError):
    """A plugin module or entry point failed to load; the message names it and the error."""


def import_plugins(modules: Iterable[str]) -> None:
    """Imports each module (`serve --plugin`), so that its `register_loader` calls run."""
    for module in modules:
        try:
            importlib.import_module(module)
        except Exception as error:
            raise PluginError(
                f"plugin {module!r} failed to import: {type(error).__name__}: {error}"
            ) from error


def load_backends(modules: Iterable[str]) -> list[str]:
    """Imports `modules` (`--plugin`), then loads every entry point, and returns the entry
    points' names: what each command naming a backend does before it reads its options."""
    import_plugins(modules)
    return load_entry_points()


def load_entry_points() -> list[str]:
    """Loads every entry point of `ENTRY_POINT_GROUP` and returns their names: the module is
    imported and, when the entry point names a function, the function is called."""
    loaded = []
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        try:
            target = entry_point.load()
            if entry_point.attr is not None:
                target()
        except Exception as error:
            raise PluginError(
                f"entry point {entry_point.name!r} ({entry_point.value}) of group "
                f"{ENTRY_POINT_GROUP} failed: {type(error).__name__}: {error}"
            ) from error
        loaded.append(entry_point.name)
    return loaded
