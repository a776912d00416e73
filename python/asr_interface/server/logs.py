"""The server's log: one record, one line, whatever a client put in it, and no secret in it.

Log records carry client-supplied text (a requested model name, a backend's error about it).
A newline or another control character in it would let a client write a line that reads as
the server's own, so the text format writes every unprintable character of a message as its
escape (`\\n`, `\\x1b`); the JSON format writes one object per line, where `json.dumps`
escapes them. A traceback keeps its lines in the text format, each indented and escaped, and
is one field in the JSON format.

What identifies a record (the session, the error code, the client's address) travels as
fields (`extra=`), not inside the message, so the JSON format gives each its own key.
Records of the `websockets` library carry their connection; its address becomes `remote`.

Credentials reach log records in request lines, headers and exception messages, from our
code and from libraries' (`websockets` logs every request header at DEBUG). The filter that
`configure_logging` puts on the handler redacts them from every record, whichever logger
wrote it, before any format sees it: `redacted` is the one place that knows their shapes.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
"""The text format's line; the record's fields follow the message."""

REDACTED = "[redacted]"

_SECRETS = (
    # A query parameter `token=` (`/asr?token=T`), up to the next parameter or the end.
    re.compile(r"(?i)(?P<keep>token=)[^&#\s]+"),
    # An `Authorization` header's value: to the end of its line in a header line or an
    # exception's message, to its closing quote in a dict or a list of pairs.
    re.compile(
        r"""(?i)(?P<keep>authorization(?:\s+header)?(?:['"]?\s*[:=]|['"]\s*,)\s*(?P<q>['"])?)"""
        r"(?(q)(?:(?!(?P=q))[^\r\n])*|[^\r\n]*)"
    ),
    # The key a browser offers as a WebSocket subprotocol for an OpenAI-style endpoint.
    re.compile(r"(?i)(?P<keep>openai-insecure-api-key\.)[^\s'\",]+"),
)


def redacted(text: str) -> str:
    """`text` with every credential (a `token=` query value, an `Authorization` header's
    value, an `openai-insecure-api-key.` subprotocol's key) replaced by `[redacted]`."""
    for secret in _SECRETS:
        text = secret.sub(rf"\g<keep>{REDACTED}", text)
    return text


def escaped(text: str) -> str:
    """`text` with every unprintable character (line breaks, escapes, C0 and C1 controls)
    written as its Python escape."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def remote_address(address: Any) -> str | None:
    """A peer's socket address as `host:port` (`[host]:port` for IPv6), None if unknown."""
    if isinstance(address, tuple) and len(address) >= 2:
        host, port = address[0], address[1]
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
    return str(address) if address else None


_RECORD_ATTRIBUTES = frozenset(
    logging.LogRecord("", logging.INFO, "", 0, "", (), None).__dict__
) | {"message", "asctime"}
"""What every record has; anything else on a record came through `extra=`."""


def record_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The fields a record was given (`extra=`), with a `websockets` record's connection as
    its `remote` address."""
    fields: dict[str, Any] = {}
    for name, value in record.__dict__.items():
        if name in _RECORD_ATTRIBUTES:
            continue
        if name == "websocket":  # the connection `websockets` puts on its records
            try:
                address = remote_address(getattr(value, "remote_address", None))
            except ReferenceError:  # the connection is gone
                continue
            if address is not None:
                fields.setdefault("remote", address)
            continue
        fields[name] = value
    return fields


_PLAIN = logging.Formatter()


def traceback_text(record: logging.LogRecord) -> str | None:
    """The record's formatted traceback, if it has one; formatted once and kept on the
    record, where the filter redacts it before any format writes it."""
    if record.exc_info and not record.exc_text:
        record.exc_text = _PLAIN.formatException(record.exc_info)
    return record.exc_text or None


class RedactingFilter(logging.Filter):
    """Redacts credentials from a record's message, fields, traceback and stack, in place,
    so that every handler and format after it sees the redacted record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # arguments that do not fit the message
            message = f"{record.msg} {record.args!r}"
        record.msg, record.args = redacted(message), ()
        for name, value in list(vars(record).items()):
            if name not in _RECORD_ATTRIBUTES and isinstance(value, str):
                setattr(record, name, redacted(value))
        exception = traceback_text(record)
        if exception:
            record.exc_text = redacted(exception)
        if record.stack_info:
            record.stack_info = redacted(record.stack_info)
        return True


class EscapingFormatter(logging.Formatter):
    """The text format: the message and its fields (`key=value`) on one line of printable
    text, then the traceback or stack if there is one, each of its lines indented and
    escaped: an exception's message may quote a client, and no line it writes may start
    at the margin, where records do."""

    def format(self, record: logging.LogRecord) -> str:
        record.message = record.getMessage()
        if self.usesTime():
            record.asctime = self.formatTime(record, self.datefmt)
        lines = [self.formatMessage(record)]
        for appended in (traceback_text(record), record.stack_info):
            lines.extend(f"    {escaped(line)}" for line in (appended or "").splitlines())
        return "\n".join(lines)

    def formatMessage(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{name}={value}" for name, value in record_fields(record).items())
        record.message = escaped(f"{record.message} [{fields}]" if fields else record.message)
        return super().formatMessage(record)


class JsonFormatter(logging.Formatter):
    """The JSON format: each record one object on one line (`time`, `level`, `logger`,
    `message`, its fields, and `exception` or `stack` when it has them). Every character
    outside printable ASCII is a JSON escape, so no character of a value breaks the line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in record_fields(record).items():
            entry.setdefault(name, value)
        exception = traceback_text(record)
        if exception:
            entry["exception"] = exception
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=True, default=str)


LOG_FORMATS: dict[str, Callable[[], logging.Formatter]] = {
    "text": lambda: EscapingFormatter(LOG_FORMAT),
    "json": JsonFormatter,
}
"""`serve --log-format`'s choices; the first is the default."""


def configure_logging(level: str | int, log_format: str = "text") -> None:
    """Logs to stderr at `level` in `log_format` (one of `LOG_FORMATS`), one line per
    record, every record (the libraries' too) redacted (`serve`). Python warnings become
    records too, so that nothing else writes to the log's stream."""
    handler = logging.StreamHandler()
    handler.setFormatter(LOG_FORMATS[log_format]())
    handler.addFilter(RedactingFilter())
    logging.basicConfig(level=level, handlers=[handler])
    logging.captureWarnings(True)
