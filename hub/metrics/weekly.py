"""The weekly summary: on ``weekly_day`` from ``weekly_hour`` (UTC), the service metrics
of the 7 days before, emailed to ``weekly_to`` through the email connector, with a link
to the Reports page for the same week.

Once per week for the cluster, as far as a checkpoint can tell: the week is recorded
(``reports`` / ``weekly``) before the mail goes; two instances checking in the same
instant could both send (the mail says which week, so a duplicate is harmless).
It goes to the team (agents' names included), never to a customer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from hub.connectors.base import OutboundMessage
from hub.errors import PermanentError, TransientError
from hub.metrics.report import Report, build_report
from hub.timeline.model import Identity, utcnow

if TYPE_CHECKING:
    from hub.app import Hub

__all__ = ["WeeklySummary", "summary_text"]

log = logging.getLogger("hub.metrics")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f} %"


def _minutes(value: float | None) -> str:
    return "-" if value is None else f"{value / 60:.0f} min"


def summary_text(report: Report, link: str) -> str:
    """The summary as plain text: the totals, then one line per channel."""
    t = report.total
    lines = [
        f"Conversations opened: {t.volume}",
        f"First response (mean, business time): {_minutes(t.frt)}",
        f"Time to resolution (mean): {_minutes(t.mttr)}",
        f"First-contact resolution: {_pct(t.fcr)}",
        f"Reopened: {_pct(t.reopen_rate)}",
        f"SLA compliance: {_pct(t.sla_compliance)} ({t.breaches} breaches)",
        f"CSAT: {_pct(t.csat)} of {t.responses} answers; NPS: "
        + ("-" if t.nps is None else f"{t.nps:+.0f}"),
        "",
        f"By {report.by}:",
    ]
    for key, s in report.groups.items():
        lines.append(
            f"  {key}: {s.volume} conversations, first response {_minutes(s.frt)}, "
            f"FCR {_pct(s.fcr)}, CSAT {_pct(s.csat)}"
        )
    lines += ["", f"The whole report: {link}"]
    return "\n".join(lines)


class WeeklySummary:
    """Sends the weekly summary (see the module docstring)."""

    def __init__(self, hub: Hub, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.hub = hub
        self.settings = hub.settings.reports
        self.clock = clock
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._task is None and self.settings.weekly_to:
            self._task = asyncio.create_task(self._loop(), name="reports-weekly")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:
                log.exception("weekly summary failed")
            await asyncio.sleep(600)

    def due(self, now: datetime) -> str | None:
        """The week to send for at ``now`` (``2026-W47``), or ``None`` when not due."""
        if DAYS[now.weekday()] != self.settings.weekly_day or now.hour < self.settings.weekly_hour:
            return None
        year, week, _ = now.isocalendar()
        return f"{year}-W{week:02d}"

    async def run_once(self, now: datetime | None = None) -> bool:
        """Send this week's summary if it is due and not sent; whether it was sent."""
        now = (now or self.clock()).astimezone(UTC)
        week = self.due(now)
        email = self.hub.channels.get("email")
        if week is None or email is None or not self.settings.weekly_to:
            return False
        store = self.hub.store
        sent = await store.get_checkpoint("reports", "weekly")
        if sent is not None and sent.get("week") == week:
            return False
        await store.set_checkpoint("reports", "weekly", {"week": week, "at": now.isoformat()})
        until = now.replace(hour=0, minute=0, second=0, microsecond=0)
        since = until - timedelta(days=7)
        report = await build_report(self.hub, since, until, "channel")
        last = until - timedelta(days=1)
        subject = f"Support summary {since:%d %b} - {last:%d %b %Y}"
        link = (
            f"{self.hub.settings.public_url.rstrip('/')}/agent/reports"
            f"?since={since.date().isoformat()}&until={last.date().isoformat()}"
        )
        text = summary_text(report, link)
        for to in self.settings.weekly_to:
            message = OutboundMessage(
                event_id=f"weekly-{week}-{to}",
                channel="email",
                to=Identity("email", to.lower()),
                customer_id="",
                conversation_id=None,
                text=text,
                subject=subject,
                meta={"automated": True},
            )
            try:
                await email.send(message)
            except (PermanentError, TransientError) as exc:
                log.warning("weekly summary to %s not sent: %s", to, exc)
        return True
