"""One report: a period, its facts, the total and the groups of one dimension; as JSON or
CSV. Shared by ``GET /api/v1/metrics/service`` and the agent view's Reports page."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from hub.errors import InvalidInput
from hub.metrics.facts import Facts
from hub.metrics.service import DIMENSIONS, Summary, collect, group, policies_for, summarise
from hub.timeline.model import utcnow

if TYPE_CHECKING:
    from hub.app import Hub

__all__ = ["COLUMNS", "Report", "build_report", "collect_for", "parse_period"]

COLUMNS = tuple(Summary.__slots__)
FACT_COLUMNS = (
    "conversation_id",
    "opened_at",
    "channel",
    "agent",
    "team",
    "priority",
    "tier",
    "support_tier",
    "first_response",
    "resolution",
    "handle",
    "resolved",
    "fcr",
    "reopened",
    "transfers",
    "breaches",
    "csat",
    "ces",
    "nps",
)


def _time(params: Mapping[str, str], name: str) -> datetime | None:
    raw = params.get(name)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(name, f"{name} must be an ISO 8601 date or time") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)  # a plain date from a form: UTC midnight
    if name == "until" and len(raw) == 10:
        value += timedelta(days=1)  # "until 30 November" includes that day
    return value


def parse_period(params: Mapping[str, str], *, days: int = 7) -> tuple[datetime, datetime]:
    """``since`` and ``until`` from query parameters (default: the last ``days`` days); a
    plain date means UTC midnight, and ``until`` as a date includes that day."""
    until = _time(params, "until") or utcnow()
    since = _time(params, "since") or until - timedelta(days=days)
    if since >= until:
        raise InvalidInput("since", "since must be before until")
    if until - since > timedelta(days=400):
        raise InvalidInput("since", "a report covers at most 400 days")
    return since, until


@dataclass(frozen=True, slots=True)
class Report:
    since: datetime
    until: datetime
    by: str
    facts: list[Facts]
    total: Summary
    groups: dict[str, Summary]

    def as_json(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "by": self.by,
            "total": self.total.as_json(),
            "groups": {k: v.as_json() for k, v in self.groups.items()},
        }

    def csv(self) -> str:
        """One row per group and a total row (``by`` names the group's column)."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow([self.by, *COLUMNS])
        for key, summary in [*self.groups.items(), ("total", self.total)]:
            values = summary.as_json()
            writer.writerow([_safe(key), *(_cell(values[c]) for c in COLUMNS)])
        return out.getvalue()

    def facts_csv(self, facts: list[Facts]) -> str:
        """The conversations behind a number, one row each."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow([*FACT_COLUMNS])
        for f in facts:
            writer.writerow([_cell(getattr(f, c)) for c in FACT_COLUMNS])
        return out.getvalue()

    def select(self, key: str | None) -> list[Facts]:
        """The facts of one group (all of them for ``None``)."""
        if key is None:
            return self.facts
        return [f for f in self.facts if f.dimension(self.by) == key]


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    return _safe(value)


def _safe(value: object) -> object:
    """A cell a spreadsheet will not run as a formula."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


async def collect_for(hub: Hub, since: datetime, until: datetime) -> list[Facts]:
    """The facts of the conversations opened in ``[since, until)``, on the hub's SLA
    calendars."""
    settings = hub.operations.settings if hub.operations is not None else hub.settings.operations
    return await collect(hub.store, policies_for(settings), since=since, until=until)


async def build_report(hub: Hub, since: datetime, until: datetime, by: str) -> Report:
    """The report of ``[since, until)`` grouped ``by`` a dimension."""
    if by not in DIMENSIONS:
        raise InvalidInput("by", f"by must be one of {', '.join(DIMENSIONS)}")
    facts = await collect_for(hub, since, until)
    return Report(since, until, by, facts, summarise(facts), group(facts, by))
