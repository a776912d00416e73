"""The server's log lines: a client's text cannot forge one, and no credential is written."""

from __future__ import annotations

import io
import json
import logging
import socket
import sys
import time
from datetime import datetime
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from asr_interface.protocol import Error, Ready
from asr_interface.server.logs import (
    LOG_FORMAT,
    EscapingFormatter,
    JsonFormatter,
    RedactingFilter,
    escaped,
    record_fields,
    redacted,
)
from tests.server.asr_calls import receive
from tests.server.conftest import ServerProcess, running_server

FORGED = "2026-01-01 00:00:00,000 INFO asr_interface.server: token accepted"
UNRULY = 'a\nb\r\x1b[31m\u2028\x85\x00 café 東京 "quoted" \\ 🎙'
"""Line breaks of every kind, a terminal escape, NUL, quotes, a backslash and non-ASCII."""
SECRET = "hunter2-s3cret"


def a_record(
    message: str = "%s", *args: Any, level: int = logging.INFO, exc_info: Any = None
) -> logging.LogRecord:
    return logging.LogRecord("asr", level, __file__, 1, message, args, exc_info)


def test_unprintable_characters_are_written_as_escapes() -> None:
    assert escaped("tiny.en") == "tiny.en"
    assert escaped("café 東京") == "café 東京"
    assert escaped("a\nb\r\x1b[31m\u2028") == "a\\nb\\r\\x1b[31m\\u2028"


def test_a_record_is_one_line_and_a_traceback_keeps_its_lines() -> None:
    formatter = EscapingFormatter(LOG_FORMAT)
    assert formatter.format(a_record("loading %s", "x\ny")).endswith("asr: loading x\\ny")
    try:
        raise ValueError("broken")
    except ValueError:
        failed = a_record("a\nb", level=logging.ERROR, exc_info=sys.exc_info())
    lines = formatter.format(failed).splitlines()
    assert lines[0].endswith("asr: a\\nb")
    assert lines[1] == "    Traceback (most recent call last):"
    assert lines[-1] == "    ValueError: broken"


def test_an_exception_quoting_a_client_cannot_forge_a_text_line() -> None:
    """An exception whose message holds line breaks of any kind and a terminal escape
    leaves every line after the record's first indented, its characters escaped."""
    try:
        raise ValueError(f"model x\n{FORGED}\r{FORGED}\u2028{FORGED}\x1b[2K")
    except ValueError:
        failed = a_record("the backend failed", level=logging.ERROR, exc_info=sys.exc_info())
    failed.stack_info = f"Stack (most recent call last):\n{FORGED}"
    lines = EscapingFormatter(LOG_FORMAT).format(failed).splitlines()
    assert lines[0].endswith("asr: the backend failed")
    assert all(line.startswith("    ") and line.isprintable() for line in lines[1:])
    assert f"    {FORGED}\\x1b[2K" in lines


def test_the_text_format_writes_a_records_fields_escaped_after_its_message() -> None:
    """Fields given with `extra=` follow the message as `key=value`, escaped like it."""
    record = a_record("loading a model failed")
    record.__dict__.update(model=f"x\n{FORGED}", code="model_load_failed")
    line = EscapingFormatter(LOG_FORMAT).format(record)
    assert line.endswith(f"[model=x\\n{FORGED} code=model_load_failed]")
    assert len(line.splitlines()) == 1


def test_a_json_record_is_one_line_that_reads_back_as_it_was_given() -> None:
    """Control characters, line breaks of every kind and non-ASCII text in the message and
    in the fields give one line of JSON that parses back to the same values."""
    record = a_record("model %s refused", UNRULY, level=logging.WARNING)
    record.__dict__.update(session="abc123", model=UNRULY, code="model_not_allowed", count=3)
    line = JsonFormatter().format(record)
    assert len(line.splitlines()) == 1 and line.isascii() and line.isprintable()
    entry = json.loads(line)
    written = datetime.fromisoformat(entry.pop("time"))
    assert written.tzinfo is not None and abs(written.timestamp() - record.created) < 0.001
    assert entry == {
        "level": "WARNING",
        "logger": "asr",
        "message": f"model {UNRULY} refused",
        "session": "abc123",
        "model": UNRULY,
        "code": "model_not_allowed",
        "count": 3,
    }


@given(message=st.text(), value=st.text())
def test_any_text_stays_on_its_records_one_line_in_either_format(message: str, value: str) -> None:
    """Whatever a message and a field hold, a record is one line: of printable text in the
    text format, of JSON that reads back to the same strings in the other."""
    record = a_record("%s", message)
    record.model = value
    assert len(EscapingFormatter(LOG_FORMAT).format(record).splitlines()) == 1
    line = JsonFormatter().format(record)
    assert len(line.splitlines()) == 1
    entry = json.loads(line)
    assert (entry["message"], entry["model"]) == (message, value)


def test_a_json_record_carries_its_traceback_as_a_field() -> None:
    """An exception is one `exception` field holding the whole traceback, on the same line."""
    try:
        raise ValueError(UNRULY)
    except ValueError:
        failed = a_record("the backend failed", level=logging.ERROR, exc_info=sys.exc_info())
    line = JsonFormatter().format(failed)
    assert len(line.splitlines()) == 1
    entry = json.loads(line)
    assert entry["message"] == "the backend failed"
    assert entry["exception"].startswith("Traceback (most recent call last):\n")
    assert entry["exception"].endswith(f"ValueError: {UNRULY}")


def test_a_websockets_records_connection_becomes_its_remote_address() -> None:
    """`websockets` puts its connection on its records: the log shows the peer's address."""
    for peer, shown in [
        (("127.0.0.1", 5000), "127.0.0.1:5000"),
        (("::1", 5000, 0, 0), "[::1]:5000"),
    ]:
        record = a_record("connection open")
        record.websocket = SimpleNamespace(remote_address=peer)
        assert record_fields(record) == {"remote": shown}
        assert json.loads(JsonFormatter().format(record))["remote"] == shown


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (f"< GET /asr?token={SECRET} HTTP/1.1", "< GET /asr?token=[redacted] HTTP/1.1"),
        (f"/v1/realtime?model=x&token={SECRET}&a=b", "/v1/realtime?model=x&token=[redacted]&a=b"),
        (f"< Authorization: Bearer {SECRET}", "< Authorization: [redacted]"),
        (f"< authorization: {SECRET}", "< authorization: [redacted]"),
        (f"{{'Authorization': 'Basic {SECRET}'}}", "{'Authorization': '[redacted]'}"),
        (f"[('Authorization', 'Bearer {SECRET}')]", "[('Authorization', '[redacted]')]"),
        (f"bad Authorization header: Bearer {SECRET}", "bad Authorization header: [redacted]"),
        (
            f"< Sec-WebSocket-Protocol: realtime, openai-insecure-api-key.{SECRET}",
            "< Sec-WebSocket-Protocol: realtime, openai-insecure-api-key.[redacted]",
        ),
        (f"< GET /asr?token={SECRET}'\",x HTTP/1.1", "< GET /asr?token=[redacted] HTTP/1.1"),
        (f"< Authorization: Bearer {SECRET}'\",x y", "< Authorization: [redacted]"),
        (f"[('Authorization', \"{SECRET}'x\")]", "[('Authorization', \"[redacted]\")]"),
        ("the bearer token was refused", "the bearer token was refused"),
        ("no authorization, so refused", "no authorization, so refused"),
        ("loaded a model", "loaded a model"),
    ],
)
def test_credentials_are_redacted_and_other_text_kept(text: str, shown: str) -> None:
    """Each shape a credential takes in a request line, a header or an exception's message
    is redacted; text that only names a credential is kept."""
    assert redacted(text) == shown


def test_the_filter_redacts_every_part_of_a_record_from_any_logger() -> None:
    """On a handler, the filter redacts the message, its arguments, the fields, the traceback
    and the stack of records from any logger (here the ones `websockets` writes at DEBUG
    and ERROR), before the format sees them."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactingFilter())
    try:
        raise ConnectionError(f"bad request /asr?token={SECRET}")
    except ConnectionError:
        failure = sys.exc_info()
    request_line = ("GET", f"/asr?token={SECRET}", "HTTP/1.1")
    authorization = ("Authorization", f"Bearer {SECRET}")
    subprotocol = ("Sec-WebSocket-Protocol", f"openai-insecure-api-key.{SECRET}")
    stack = f"Stack: /asr?token={SECRET}"
    library = "websockets.server"
    records = [
        logging.LogRecord(library, logging.DEBUG, "", 1, "< %s %s %s", request_line, None),
        logging.LogRecord(library, logging.DEBUG, "", 1, "< %s: %s", authorization, None),
        logging.LogRecord(library, logging.DEBUG, "", 1, "< %s: %s", subprotocol, None),
        logging.LogRecord(library, logging.ERROR, "", 1, "handler failed", (), failure),
        logging.LogRecord("asr", logging.INFO, "", 1, "opened", (), None, sinfo=stack),
    ]
    records[-1].path = f"/asr?token={SECRET}"
    for record in records:
        handler.handle(record)
    lines = stream.getvalue().splitlines()
    assert len(lines) == len(records)
    entries = [json.loads(line) for line in lines]
    assert SECRET not in stream.getvalue()
    assert [entry["message"] for entry in entries[:3]] == [
        "< GET /asr?token=[redacted] HTTP/1.1",
        "< Authorization: [redacted]",
        "< Sec-WebSocket-Protocol: openai-insecure-api-key.[redacted]",
    ]
    assert entries[3]["exception"].endswith("ConnectionError: bad request /asr?token=[redacted]")
    assert entries[4]["path"] == "/asr?token=[redacted]"
    assert entries[4]["stack"] == "Stack: /asr?token=[redacted]"


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


TOKEN = "tok-RIGHT-7f3a9c"
WRONG = "tok-WRONG-19c2e4"
KEY = "key-WRONG-5d1e08"
"""The server's token, a wrong one, and a wrong key offered as a subprotocol."""


def raw_request(server: ServerProcess, request: str) -> bytes:
    """Everything the server answers to `request`, sent as is."""
    parts = urlsplit(server.http_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as raw:
        raw.sendall(request.encode())
        answer = b""
        while chunk := raw.recv(4096):
            answer += chunk
    return answer


async def test_the_json_log_holds_no_credential_and_no_forged_line() -> None:
    """A server logging JSON at DEBUG (where `websockets` writes every request line and
    header) meets clients with the right and wrong tokens as `?token=`, as
    `Authorization: Bearer` and as a subprotocol key, bad handshakes carrying the token,
    and a model name with a line break: every line of its log is one JSON object, no
    credential appears anywhere, and the model name is one field."""
    flags = ("--log-format", "json", "--log-level", "DEBUG", "--token", TOKEN)
    with running_server(*flags) as server:
        async with connect(f"{server.url}?token={TOKEN}") as connection:
            assert isinstance(await receive(connection), Ready)
            await connection.send(json.dumps({"type": "load_model", "model": f"x\n{FORGED}"}))
            reply = await receive(connection)
        assert isinstance(reply, Error) and reply.code == "model_load_failed"
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        async with connect(server.url, additional_headers=bearer) as connection:
            assert isinstance(await receive(connection), Ready)
        refused: list[dict[str, Any]] = [
            {"uri": f"{server.url}?token={WRONG}"},
            {"uri": server.url, "additional_headers": {"Authorization": f"Bearer {WRONG}"}},
            {"uri": server.url, "subprotocols": [f"openai-insecure-api-key.{KEY}"]},
        ]
        for options in refused:
            with pytest.raises(InvalidStatus) as refusal:
                async with connect(**options):
                    pass
            assert refusal.value.response.status_code == 401
        request_line = f"GET /asr?token={TOKEN} HTTP/1.1\r\n"
        not_upgraded = f"{request_line}Host: x\r\nAuthorization: Bearer {TOKEN}\r\n\r\n"
        assert raw_request(server, not_upgraded).startswith(b"HTTP/1.1 426")
        malformed = f"{request_line}Authorization: Bearer {WRONG}\r\nno colon\r\n\r\n"
        raw_request(server, malformed)
    log = "".join(server.log)
    entries = [json.loads(line) for line in server.log]
    for secret in (TOKEN, WRONG, KEY):
        assert secret not in log
    messages = [entry["message"] for entry in entries]
    assert "< GET /asr?token=[redacted] HTTP/1.1" in messages
    assert "< Authorization: [redacted]" in messages
    assert "< Sec-WebSocket-Protocol: openai-insecure-api-key.[redacted]" in messages
    failed = [entry for entry in entries if entry.get("code") == "model_load_failed"]
    assert failed and failed[0]["model"] == f"x\n{FORGED}"
    opened = [entry for entry in entries if entry["message"] == "session opened on /asr"]
    assert len(opened) == 2 and all(entry["remote"].startswith("127.0.0.1:") for entry in opened)
    assert all(set(entry) >= {"time", "level", "logger", "message"} for entry in entries)
