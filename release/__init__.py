"""Checks of the release artefacts, run by `make test-wheel` inside the venv a wheel went into."""
