"""What `serve` can be told: the server's settings refuse nonsense by name, and by default
run the serving policy."""

from __future__ import annotations

import math
from typing import Any

import pytest

from asr_interface.core.config import SERVING_POLICY
from asr_interface.server.settings import ServerSettings


def test_defaults_run_the_serving_policy() -> None:
    """A server told nothing streams with the serving policy, on loopback, with limits on."""
    settings = ServerSettings()
    assert settings.config.policy == SERVING_POLICY
    assert settings.host == "127.0.0.1"
    assert settings.max_sessions is not None and settings.idle_timeout is not None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"max_backlog_seconds": math.inf}, "max_backlog_seconds must be 0.1 to 3600, got inf"),
        ({"workers": 0}, "workers must be 1 to 1024, got 0"),
        ({"shutdown_grace": -1.0}, "shutdown_grace must be 0 to 3600, got -1.0"),
        ({"port": 70000}, "port must be 0 to 65535"),
        ({"ssl_keyfile": "server.key"}, "needs its certificate"),
        ({"allowed_origins": ("https://a.example/page",)}, "scheme://host"),
    ],
)
def test_nonsense_is_refused_by_name(fields: dict[str, Any], message: str) -> None:
    """Each refused setting raises `ValueError` naming what is wrong."""
    with pytest.raises(ValueError, match=message):
        ServerSettings(**fields)
