"""The server's log lines: one record, one line, whatever a client put in it.

Log records carry client-supplied text (a requested model name, a backend's error about it).
A newline or another control character in it would let a client write a line that reads as
the server's own, so the formatter writes every unprintable character of a message as its
escape (`\\n`, `\\x1b`). A traceback appended to a record keeps its lines: it is the server's.
"""

from __future__ import annotations

import logging

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def escaped(text: str) -> str:
    """`text` with every unprintable character (line breaks, escapes, C0 and C1 controls)
    written as its Python escape."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


class EscapingFormatter(logging.Formatter):
    """`logging.Formatter` whose message part is always one line of printable text."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = escaped(record.message)
        return super().formatMessage(record)


def configure_logging(level: str | int) -> None:
    """Logs to stderr at `level`, one escaped line per record (`serve`)."""
    handler = logging.StreamHandler()
    handler.setFormatter(EscapingFormatter(LOG_FORMAT))
    logging.basicConfig(level=level, handlers=[handler])
