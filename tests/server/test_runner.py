"""One connection's loop on a real server: the time limits it enforces."""

from __future__ import annotations

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from asr_interface.protocol import Error, Ready
from tests.server.asr_calls import receive
from tests.server.conftest import running_server

pytestmark = pytest.mark.model


async def test_idle_session_is_closed() -> None:
    """A session silent for --idle-timeout seconds gets `idle_timeout` and close code 1000."""
    with running_server("--idle-timeout", "1") as idle:
        async with connect(idle.url) as connection:
            assert isinstance(await receive(connection), Ready)
            error = await receive(connection)
            assert isinstance(error, Error)
            assert error.code == "idle_timeout"
            with pytest.raises(ConnectionClosed) as closed:
                await connection.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1000
