"""Untrusted JSON made safe to store: one parser and one set of checks for every write path.

Both stores must be able to write, and later read back, whatever a webhook or
an API client hands us, so the limits are the narrower of SQLite's JSON and
BSON: nesting at most :data:`MAX_DEPTH` levels, integers within int64, finite
numbers, and (in stored dicts such as ``meta``) keys that are not empty, do not
start with ``$`` and hold no ``.`` or NUL. Timestamps lie between
:data:`EARLIEST` and :data:`LATEST`, so no datetime arithmetic overflows.

Connectors (built-in or plugins) parse webhook bodies with :func:`parse_json`;
``ingest`` checks every :class:`~hub.connectors.base.InboundMessage` with
:func:`check_storable` and :func:`check_timestamp`, and stores its ``html`` only
through :func:`sanitise_html` (whatever channel it came from).
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

import nh3

from hub.errors import InvalidInput, MalformedBody

__all__ = [
    "EARLIEST",
    "LATEST",
    "MAX_DEPTH",
    "check_storable",
    "check_timestamp",
    "from_epoch",
    "parse_json",
    "sanitise_html",
]

MAX_DEPTH = 32
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
_INT64 = (-(2**63), 2**63 - 1)


def _refuse_constant(name: str) -> Any:
    raise MalformedBody("body", f"{name} is not a JSON number")


def parse_json(body: bytes | str, *, field: str = "body") -> Any:
    """Parse untrusted JSON; :class:`~hub.errors.MalformedBody` (400) naming ``field``
    for invalid JSON, ``NaN``/``Infinity``, numbers beyond int64 or float range, or
    nesting deeper than :data:`MAX_DEPTH`."""
    try:
        value = json.loads(body, parse_constant=_refuse_constant)
    except MalformedBody as exc:
        raise MalformedBody(field, exc.reason) from None
    except RecursionError:
        raise MalformedBody(field, f"nested deeper than {MAX_DEPTH} levels") from None
    except ValueError:
        raise MalformedBody(field, "not valid JSON") from None
    problem = _problem(value, keys=False)
    if problem:
        raise MalformedBody(field, problem)
    return value


def sanitise_html(html: str) -> str:
    """HTML from outside made safe to show (nh3: no scripts, handlers, styles with code, or
    unsafe URLs); the hub stores no other."""
    return str(nh3.clean(html))


def check_storable(value: Any, field: str) -> None:
    """Raise :class:`~hub.errors.InvalidInput` (422) naming ``field`` unless both
    stores can keep ``value`` (plain JSON types within the module's limits)."""
    problem = _problem(value, keys=True)
    if problem:
        raise InvalidInput(field, problem)


def check_timestamp(value: datetime | None, field: str) -> None:
    """Raise :class:`~hub.errors.InvalidInput` unless ``value`` is ``None`` or an aware
    datetime between :data:`EARLIEST` and :data:`LATEST`."""
    if value is None:
        return
    if value.tzinfo is None:
        raise InvalidInput(field, "a timestamp needs a timezone")
    try:
        inside = EARLIEST <= value < LATEST
    except OverflowError:
        inside = False
    if not inside:
        raise InvalidInput(field, f"timestamp must be from {EARLIEST.year} to {LATEST.year - 1}")


def from_epoch(seconds: Any, field: str) -> datetime | None:
    """A provider's Unix time (seconds, maybe as a string) as a UTC datetime; ``None``
    when absent; :class:`~hub.errors.InvalidInput` when it is not a usable time."""
    if seconds is None:
        return None
    if isinstance(seconds, bool):
        raise InvalidInput(field, "not a Unix time")
    try:
        number = float(seconds)
    except (TypeError, ValueError):
        raise InvalidInput(field, "not a Unix time") from None
    if not EARLIEST.timestamp() <= number < LATEST.timestamp():
        raise InvalidInput(field, f"timestamp must be from {EARLIEST.year} to {LATEST.year - 1}")
    return datetime.fromtimestamp(number, UTC)


def _problem(value: Any, *, keys: bool) -> str | None:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list | tuple):
            if depth > MAX_DEPTH:
                return f"nested deeper than {MAX_DEPTH} levels"
            if not isinstance(item, dict):
                stack.extend((v, depth + 1) for v in item)
                continue
            for k, v in item.items():
                if not isinstance(k, str):
                    return "keys must be strings"
                if keys and (not k or k.startswith("$") or "." in k or "\x00" in k):
                    return f"key {k[:40]!r} must be non-empty, not start with $, hold no '.'"
                stack.append((v, depth + 1))
        elif isinstance(item, int) and not _INT64[0] <= item <= _INT64[1]:
            return "integers must fit in 64 bits"
        elif isinstance(item, float) and not math.isfinite(item):
            return "numbers must be finite"
    return None
