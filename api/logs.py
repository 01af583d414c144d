"""The logs of every terracat command, configured once by the command line: JSON lines when stderr is
not a terminal (collected by journald, Docker or a log shipper, and searched by field), readable lines
on a terminal. Fields given with ``extra=`` (``source``, ``run_id``...) become fields of the JSON line.
No secret is added here: ``harvester.http`` keeps query strings (where tokens may be) out of the URLs
urllib3 logs, and source headers are never logged."""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import msgspec

Json = dict[str, Any]

# Attributes every LogRecord has: what is not among them was given in ``extra=`` and goes in the line.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``timestamp`` (UTC, ISO 8601), ``level``, ``logger``, ``message``, the
    fields given in ``extra=`` (``source``, ``run_id``...) and ``exception`` when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        line: Json = {
            "timestamp": f"{stamp}.{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update((k, v) for k, v in record.__dict__.items() if k not in _STANDARD and k not in line)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return msgspec.json.encode(line, enc_hook=str).decode()


def configure_logging(level: int, stream: Any = None) -> None:
    """Log to ``stream`` (stderr) at ``level``: JSON lines when it is not a terminal, readable lines
    otherwise. Replaces the root logger's handlers: called again, it reconfigures rather than doubling
    every line."""
    stream = stream or sys.stderr
    handler = logging.StreamHandler(stream)
    if stream.isatty():
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    else:
        handler.setFormatter(JsonFormatter())
    logging.basicConfig(level=level, handlers=[handler], force=True)
