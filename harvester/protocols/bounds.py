"""How far a listing may run: a paginator that never ends must not be followed until ``max_duration``.

The loop guards of each protocol catch a listing that goes round (a next link, a resumption token or a
page of records seen before). A broken paginator can also bring *new* records on every page, for ever:
ids made up from an ever-growing offset, a token that never runs out. Nothing repeats; what gives it away
is the count.

- The source announced a total (``numberMatched``, ``numberOfRecordsMatched``, ``completeListSize``):
  a listing may run past it, because records are added while it pages and some servers send a page
  again, but not by half the total and a page more.
- It announced none: the source's ``max_records`` (default 5 000 000, above any Data Terra pole) is
  the bound, raised in the config for a source that really holds more.

Either way the listing stops with ``Overrun`` (a ``ListingError``) after the page that crossed the
bound, so the run ends failed, deletes nothing, and says why. The records the broken pages brought were
filed as the source served them; the listing is then not continued but begun again (``HarvestRun``):
continued, it would count them as seen, and its end would not delete them as unlisted.
"""

from __future__ import annotations

from harvester.protocols import ListingError

MARGIN = 0.5  # of the announced total, beyond which a listing is taken as endless (plus one page)


class Overrun(ListingError):
    """The listing ran past its bound (``overrun``): it is not to be continued by the next run."""


def overrun(
    received: int, announced: int | None, page: int, max_records: int, *, what: str, total: str
) -> str | None:
    """Why the listing must stop after ``received`` records (``what``: "records", "features"), or
    ``None``. ``announced``: the source's total, named ``total`` in messages; ``page``: the records a
    page holds (the margin is at least one page); ``max_records``: the source's setting."""
    if announced is not None:
        bound = announced + max(int(announced * MARGIN), page)
        if received > bound:
            return (
                f"the pages do not end: received {received} {what} although {total}={announced}, more than "
                f"{MARGIN:.0%} and a page beyond it; stopping instead of following them"
            )
        return None
    if received > max_records:
        return (
            f"the pages do not end: received {received} {what}, more than max_records={max_records}, from a "
            f"source that announces no total ({total}); stopping (raise max_records if it holds more)"
        )
    return None
