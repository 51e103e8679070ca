"""HTTP helpers for connectors (built-in and plugins alike)."""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime

__all__ = ["MAX_RETRY_AFTER", "retry_after"]

MAX_RETRY_AFTER = 86_400.0
"""Longer ``Retry-After`` hints are ignored (the outbox's own backoff applies)."""


def retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date
    (RFC 9110 §10.2.3); ``None`` when absent, malformed or over a day away."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
    return seconds if seconds <= MAX_RETRY_AFTER else None
