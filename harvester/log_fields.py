"""The ``source`` and ``run_id`` of the harvest run under way, given to every log line written meanwhile.

A run's log lines are written by several modules (the run, its protocol client, urllib3, the
scheduler): a context variable set for the run's duration (``HarvestRun.execute``) lets each be searched
by source and run without every call passing ``extra=``. ``api.logs`` installs ``RunFields`` on its log
handler (a logger's filter would miss the lines of other loggers), so the JSON lines have them as keys.
A context variable, not a thread-local: a thread sees the run it works for when it runs in the run's
context, the run's own thread, or a task given it (``pool.submit(contextvars.copy_context().run, ...)``,
as the run's index writer and the protocols' download-ahead threads are).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

_fields: ContextVar[dict[str, Any] | None] = ContextVar("terracat_run_log_fields", default=None)


@contextmanager
def run_fields(source_id: str) -> Iterator[dict[str, Any]]:
    """The fields of the log lines written in this context until leaving: ``source``, and the
    ``run_id`` the caller adds to the dict yielded once the ledger has given it."""
    fields: dict[str, Any] = {"source": source_id}
    token = _fields.set(fields)
    try:
        yield fields
    finally:
        _fields.reset(token)


class RunFields(logging.Filter):
    """Adds the fields of the run under way in the writing context to each line, unless it has its own."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in (_fields.get() or {}).items():
            record.__dict__.setdefault(key, value)
        return True
