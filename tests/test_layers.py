"""The package's layers hold: `core` imports nothing above it, nothing imports the command
line, the server and the client stand apart, and no package's modules import each other in
a cycle (the contracts are in pyproject.toml, `[tool.importlinter]`)."""

from __future__ import annotations

from pathlib import Path

from importlinter.cli import lint_imports

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def test_import_contracts_are_kept() -> None:
    """`lint-imports` finds every contract kept (it prints the broken ones)."""
    assert lint_imports(config_filename=str(PYPROJECT), no_cache=True) == 0
