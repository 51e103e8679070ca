"""``/agent/reports``: the service dashboard in the agent view.

Everything is rendered on the server: the charts are inline SVG (no script, no CDN;
each bar is a link to the conversations behind it and carries its value as text),
the figures are a table, the period and grouping a plain GET form.

* ``GET /agent/reports?since=&until=&by=`` — the dashboard (default: the last 30
  days by channel); ``group=<value>`` and/or ``only=<all|breached|reopened|fcr|
  open|unanswered|surveyed>`` list the conversations behind a number;
* ``GET /agent/reports.csv?…`` — the same figures as CSV (with ``group``/``only``:
  one row per conversation).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from babel.dates import format_skeleton
from starlette.responses import Response

from hub.agent import i18n
from hub.agent.filters import span
from hub.agent.web import Ctx, page
from hub.errors import InvalidInput
from hub.metrics.facts import DIMENSIONS, Facts
from hub.metrics.macros import macro_rows
from hub.metrics.report import Report, build_report, parse_period
from hub.metrics.service import Summary

__all__ = ["ONLY", "Bar", "Chart", "reports_csv", "reports_page"]

ONLY: dict[str, Callable[[Facts], bool]] = {
    "all": lambda f: True,
    "breached": lambda f: f.breaches > 0,
    "reopened": lambda f: f.reopened,
    "fcr": lambda f: f.fcr,
    "open": lambda f: not f.resolved,
    "unanswered": lambda f: f.first_response is None,
    "surveyed": lambda f: bool(f.surveyed),
}
WIDTH, ROW, LABEL = 640, 26, 150
NONE = "\u2013"  # an en dash where nothing counts


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    display: str
    href: str
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True, slots=True)
class Chart:
    """Bars laid out in a ``width`` by ``height`` view box."""

    id: str
    bars: list[Bar]
    width: int
    height: int
    horizontal: bool


def _hbars(
    cid: str, rows: list[tuple[str, float | None, str, str]], scale: float | None = None
) -> Chart:
    """Horizontal bars: ``(label, value, shown, href)``, longest = the full width."""
    top = scale or max((v or 0.0 for _, v, _, _ in rows), default=0.0) or 1.0
    room = WIDTH - LABEL - 90
    bars = [
        Bar(label, shown, href, LABEL, i * ROW + 4, room * (value or 0.0) / top, ROW - 8)
        for i, (label, value, shown, href) in enumerate(rows)
    ]
    return Chart(cid, bars, WIDTH, max(ROW, len(rows) * ROW), True)


def _daily(report: Report, link: Callable[..., str]) -> Chart:
    """Conversations opened per day of the period (at most 62 columns)."""
    days: Counter[str] = Counter(f.opened_at.date().isoformat() for f in report.facts)
    first = report.since.date()
    count = min(
        62,
        max(
            1, (report.until - timedelta(microseconds=1)).date().toordinal() - first.toordinal() + 1
        ),
    )
    height, base = 160, 140
    top = max(days.values(), default=0) or 1
    step = WIDTH / count
    bars = []
    for i in range(count):
        day = first + timedelta(days=i)
        n = days.get(day.isoformat(), 0)
        h = (base - 10) * n / top
        start = datetime(day.year, day.month, day.day, tzinfo=report.since.tzinfo)
        href = link(since=start.isoformat(), until=(start + timedelta(days=1)).isoformat())
        label = format_skeleton("MMMd", day, locale=i18n.current())
        bars.append(Bar(label, str(n), href, i * step + 1, base - h, max(step - 2, 1), h))
    return Chart("daily", bars, WIDTH, height, False)


def _pct(value: float | None) -> str:
    return NONE if value is None else f"{value * 100:.0f} %"


def _figures(summary: Summary) -> dict[str, str]:
    """A summary as people read it (durations, percentages)."""
    return {
        "volume": str(summary.volume),
        "frt": span(summary.frt) or NONE,
        "frt_median": span(summary.frt_median) or NONE,
        "mttr": span(summary.mttr) or NONE,
        "aht": span(summary.aht) or NONE,
        "fcr": _pct(summary.fcr),
        "reopen_rate": _pct(summary.reopen_rate),
        "transfers": NONE if summary.transfers is None else f"{summary.transfers:.2f}",
        "sla_compliance": _pct(summary.sla_compliance),
        "breaches": str(summary.breaches),
        "csat": _pct(summary.csat),
        "ces": NONE if summary.ces is None else f"{summary.ces:.1f}",
        "nps": NONE if summary.nps is None else f"{summary.nps:+.0f}",
        "response_rate": _pct(summary.response_rate),
    }


async def _report(ctx: Ctx) -> tuple[Report, dict[str, str]]:
    params = ctx.request.query_params
    since, until = parse_period(params, days=30)
    by = params.get("by") or "channel"
    only = params.get("only") or None
    if only is not None and only not in ONLY:
        raise InvalidInput("only", f"only must be one of {', '.join(ONLY)}")
    query = {"since": since.isoformat(), "until": until.isoformat(), "by": by}
    return await build_report(ctx.hub, since, until, by), query


def _drill(report: Report, group: str | None, only: str | None) -> list[Facts]:
    out = report.select(group)
    return [f for f in out if ONLY[only](f)] if only else out


@page
async def reports_page(ctx: Ctx) -> Response:
    report, query = await _report(ctx)
    params = ctx.request.query_params
    group, only = params.get("group") or None, params.get("only") or None

    def link(**extra: Any) -> str:
        return "/agent/reports?" + urlencode({**query, **extra})

    groups = list(report.groups.items())
    charts = {
        "daily": _daily(report, link),
        "volume": _hbars(
            "volume",
            [(k, float(s.volume), str(s.volume), link(group=k)) for k, s in groups],
        ),
        "frt": _hbars(
            "frt",
            [(k, s.frt, span(s.frt) or NONE, link(group=k)) for k, s in groups],
        ),
        "csat": _hbars(
            "csat",
            [(k, s.csat, _pct(s.csat), link(group=k, only="surveyed")) for k, s in groups],
            scale=1.0,
        ),
    }
    drill = _drill(report, group, only) if group or only else None
    macros = [
        {
            **row,
            "csat_shown": _pct(row["csat"]),
            "csat_avg_shown": NONE if row["csat_avg"] is None else f"{row['csat_avg']:.1f}",
        }
        for row in await macro_rows(ctx.hub, report.since, report.until, report.facts)
    ]
    return ctx.render(
        "reports.html",
        report=report,
        total=_figures(report.total),
        rows=[(k, _figures(s)) for k, s in groups],
        charts=charts,
        dimensions=DIMENSIONS,
        query=query,
        link=link,
        drill=drill,
        macros=macros,
        group=group,
        only=only,
        csv_href="/agent/reports.csv?" + urlencode({**query, **dict(params.items())}),
        since_day=report.since.date().isoformat(),
        until_day=(report.until - timedelta(microseconds=1)).date().isoformat(),
    )


@page
async def reports_csv(ctx: Ctx) -> Response:
    report, _ = await _report(ctx)
    params = ctx.request.query_params
    group, only = params.get("group") or None, params.get("only") or None
    if group or only:
        body, name = report.facts_csv(_drill(report, group, only)), "conversations.csv"
    else:
        body, name = report.csv(), "service-metrics.csv"
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )
