"""The logs of every terracat command, configured once by the command line: JSON lines when stderr is
not a terminal (collected by journald, Docker or a log shipper, and searched by field), readable lines
on a terminal. Fields given with ``extra=`` (``source``, ``run_id``...) become fields of the JSON line,
and every line written while a harvest runs has the run's ``source`` and ``run_id``
(``harvester.log_fields``). gunicorn's own lines (``terracat serve --workers N``: its master's and its
workers' ``gunicorn.error`` log) take the same form through ``GunicornLogger``.
No secret is added here: ``harvester.http`` keeps query strings (where tokens may be) out of the URLs
urllib3 logs, and source headers are never logged."""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import msgspec
from gunicorn.glogging import Logger

from harvester.log_fields import RunFields

Json = dict[str, Any]

READABLE = "%(asctime)s %(levelname)s %(name)s: %(message)s"
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


def formatter(stream: Any) -> logging.Formatter:
    """JSON lines when ``stream`` is not a terminal, readable lines when it is."""
    return logging.Formatter(READABLE) if stream.isatty() else JsonFormatter()


def configure_logging(level: int, stream: Any = None) -> None:
    """Log to ``stream`` (stderr) at ``level``: JSON lines when it is not a terminal, readable lines
    otherwise. Replaces the root logger's handlers: called again, it reconfigures rather than doubling
    every line."""
    stream = stream or sys.stderr
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter(stream))
    handler.addFilter(RunFields())
    logging.basicConfig(level=level, handlers=[handler], force=True)


class GunicornLogger(Logger):
    """gunicorn's logger (its ``logger_class``), its lines formatted as ours: gunicorn gives its error
    log a plain-text handler of its own (not the root logger's), in the master and in each worker."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for handler in self.error_log.handlers:
            if isinstance(handler, logging.StreamHandler):
                handler.setFormatter(formatter(handler.stream))
