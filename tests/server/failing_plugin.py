"""A plugin module that raises while it is imported, as a broken backend would."""

from __future__ import annotations

RATE = 1 // 0
