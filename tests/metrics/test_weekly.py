"""The weekly summary a lead gets by email (real SMTP): the week before, once."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from hub.app import build_app
from hub.settings import Settings
from hub.timeline.store import TimelineStore
from tests.connectors.email.conftest import SmtpSink, smtp_sink
from tests.metrics.month import build_month

__all__ = ["smtp_sink"]


async def test_the_week_before_goes_to_the_lead_once(
    store: TimelineStore, tmp_path: Path, smtp_sink: SmtpSink
) -> None:
    await build_month(store)
    account = {"name": "support", "address": "support@example.org", **smtp_sink.account()}
    settings = Settings(
        store=str(tmp_path / "unused.db"),
        blobs=str(tmp_path / "blobs"),
        public_url="https://hub.example.com",
        reports={"weekly_to": ["Lee@Example.com"]},
        connectors={"email": {"secret": "email-reply-secret-0123456789", "accounts": [account]}},
    )
    app = build_app(settings, store=store)
    weekly = app.state.hub.weekly
    monday = datetime(2026, 11, 16, 9, 30, tzinfo=UTC)
    assert await weekly.run_once(datetime(2026, 11, 16, 7, 59, tzinfo=UTC)) is False  # too early
    assert await weekly.run_once(datetime(2026, 11, 17, 9, 0, tzinfo=UTC)) is False  # Tuesday
    assert await weekly.run_once(monday) is True
    assert await weekly.run_once(monday.replace(hour=15)) is False  # this week's is sent
    [mail] = await smtp_sink.wait_for(1)
    assert mail["To"] == "lee@example.com"
    assert mail["Subject"] == "Support summary 09 Nov - 15 Nov 2026"
    body = mail.get_body(("plain",))
    assert body is not None
    lines = body.get_content().splitlines()
    # 9-15 November: Cleo's chat (C) and Dan's P1 email (D)
    assert "Conversations opened: 2" in lines
    assert "SLA compliance: 50 % (1 breaches)" in lines
    assert "  chat: 1 conversations, first response 20 min, FCR 0 %, CSAT -" in lines
    assert "  email: 1 conversations, first response 30 min, FCR 100 %, CSAT 100 %" in lines
    link = "https://hub.example.com/agent/reports?since=2026-11-09&until=2026-11-15"
    assert f"The whole report: {link}" in lines
