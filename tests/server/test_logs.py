"""The server's log lines: a client's text cannot forge one."""

from __future__ import annotations

import json
import logging
import time

from websockets.asyncio.client import connect

from asr_interface.protocol import Error, Ready
from asr_interface.server.logs import LOG_FORMAT, EscapingFormatter, escaped
from tests.server.asr_calls import receive
from tests.server.conftest import running_server

FORGED = "2026-01-01 00:00:00,000 INFO asr_interface.server: token accepted"


def test_unprintable_characters_are_written_as_escapes() -> None:
    assert escaped("tiny.en") == "tiny.en"
    assert escaped("café 東京") == "café 東京"
    assert escaped("a\nb\r\x1b[31m\u2028") == "a\\nb\\r\\x1b[31m\\u2028"


def test_a_record_is_one_line_and_a_traceback_keeps_its_lines() -> None:
    formatter = EscapingFormatter(LOG_FORMAT)
    record = logging.LogRecord("asr", logging.WARNING, __file__, 1, "loading %s", ("x\ny",), None)
    assert formatter.format(record).endswith("asr: loading x\\ny")
    try:
        raise ValueError("broken")
    except ValueError:
        import sys

        failed = logging.LogRecord("asr", logging.ERROR, __file__, 1, "a\nb", (), sys.exc_info())
    lines = formatter.format(failed).splitlines()
    assert lines[0].endswith("asr: a\\nb")
    assert lines[1] == "Traceback (most recent call last):"


async def test_a_model_name_cannot_forge_a_log_line() -> None:
    """A model name with a line break in it, refused by the server, is logged on one line:
    no line of the server's log starts with the text after the break."""
    with running_server() as server:
        async with connect(server.url) as connection:
            assert isinstance(await receive(connection), Ready)
            await connection.send(json.dumps({"type": "load_model", "model": f"x\n{FORGED}"}))
            reply = await receive(connection)
        assert isinstance(reply, Error) and reply.code == "model_load_failed"
        deadline = time.monotonic() + 5
        while not any("x\\n" + FORGED in line for line in server.log):
            assert time.monotonic() < deadline, server.log
            time.sleep(0.05)
        assert not any(line.startswith(FORGED) for line in server.log)
