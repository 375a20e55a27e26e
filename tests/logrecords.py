"""Capturing log records from a server running in this process, and waiting for a particular one.

A test that must show something was *not* logged as an error needs a point at which the server is
known to be done: it waits for the record the server writes at that point, then looks at the rest.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Records(logging.Handler):
    """Every record seen; `seen` is set by the first whose message contains `until`."""

    def __init__(self, until: str = "") -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.until = until
        self.seen = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        if self.until and self.until in record.getMessage():
            self.seen.set()

    def messages(self, level: int = logging.NOTSET) -> list[str]:
        return [r.getMessage() for r in self.records if r.levelno >= level]


@contextmanager
def recording(names: tuple[str, ...], until: str = "", level: int = logging.DEBUG) -> Iterator[Records]:
    """Records of the named loggers at `level` and above while the block runs."""
    records = Records(until)
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(records)
        lg.setLevel(level)
    try:
        yield records
    finally:
        for lg, old in zip(loggers, levels, strict=True):
            lg.removeHandler(records)
            lg.setLevel(old)


# What the body reader's callers log when a client hangs up: the point a hang-up test waits for.
HUNG_UP = "disconnected before sending the whole body"
SERVER_LOGGERS = ("conduit", "uvicorn", "uvicorn.error")
