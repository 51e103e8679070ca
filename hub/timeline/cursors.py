"""Reading the cursors and page sizes both store adapters accept.

Cursors are made with :func:`hub.timeline.store.encode_cursor`: an event
cursor carries the event's ``seq``, an inbox cursor the sort time and the
conversation id. Anything else is an :class:`~hub.timeline.store.InvalidCursor`.
"""

from __future__ import annotations

from datetime import datetime

from hub.timeline.store import InvalidCursor, decode_cursor

__all__ = ["MAX_PAGE", "clamp", "seq_cursor", "time_cursor"]

MAX_PAGE = 500
_NOT_OURS = "cursor: not a cursor issued by this hub"


def clamp(limit: int) -> int:
    """A page size within 1..500."""
    return max(1, min(MAX_PAGE, limit))


def seq_cursor(cursor: str) -> int:
    """The ``seq`` inside an event cursor; InvalidCursor if it is not one."""
    (value,) = decode_cursor(cursor, 1)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidCursor(_NOT_OURS)
    return value


def time_cursor(cursor: str) -> tuple[datetime, str]:
    """The (aware sort time, id) inside an inbox cursor; InvalidCursor if it is not one."""
    when, ident = decode_cursor(cursor, 2)
    if not isinstance(when, str) or not isinstance(ident, str):
        raise InvalidCursor(_NOT_OURS)
    try:
        parsed = datetime.fromisoformat(when)
    except ValueError:
        raise InvalidCursor(_NOT_OURS) from None
    if parsed.tzinfo is None:
        raise InvalidCursor(_NOT_OURS)
    return parsed, ident
