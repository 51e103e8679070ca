"""Quarantined inbound messages: list them, download the original, retry.

A connector quarantines a message it cannot ingest (see
:mod:`hub.timeline.quarantine`) so the rest of its source keeps flowing. Here an
agent sees what is waiting, with the reason and what could be read of the
sender and subject, can download the raw bytes, and can retry once the cause
is fixed: the connector ingests the stored original as if it had just arrived.
Nothing from the message is rendered as HTML: summary and reason are text.
"""

from __future__ import annotations

import logging
import re

from starlette.responses import JSONResponse, Response

from hub.agent.web import Ctx, action, back, page
from hub.errors import NotFound
from hub.timeline.model import Event
from hub.timeline.quarantine import QuarantinedMessage, QuarantineStatus, printable

__all__ = ["quarantine_page", "raw", "retry"]

log = logging.getLogger(__name__)


@page
async def quarantine_page(ctx: Ctx) -> Response:
    records = await ctx.hub.store.list_quarantined(status=QuarantineStatus.PENDING, limit=200)
    return ctx.render("quarantine.html", records=records)


async def _record(ctx: Ctx) -> QuarantinedMessage:
    return await ctx.hub.store.get_quarantined(ctx.request.path_params["record_id"])


@page
async def raw(ctx: Ctx) -> Response:
    """The quarantined message's bytes exactly as received, as a download."""
    record = await _record(ctx)
    data = await ctx.hub.blobs.get(record.raw_blob)
    name = re.sub(r"[^\w.-]", "_", record.id) + ".eml"
    return Response(
        data,
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Content-Security-Policy": "sandbox; default-src 'none'",
        },
    )


@action
async def retry(ctx: Ctx) -> Response:
    """Ingest the stored original again through its connector; 409 if it still fails."""
    record = await _record(ctx)
    connector = ctx.hub.channels.get(record.channel)
    if connector is None:
        raise NotFound(f"no connector serves channel {record.channel!r}")
    data = await ctx.hub.blobs.get(record.raw_blob)
    failed: str | None = None
    event: Event | None = None
    try:
        event = await connector.retry_quarantined(record, data)
    except Exception as exc:  # whatever failed at first may fail again: record it
        failed = printable(f"{type(exc).__name__}: {exc}", 300)
        log.info("quarantined %s still fails: %s", record.id, failed)
    if failed is None:
        record = await ctx.hub.store.settle_quarantined(
            record.id, released=True, event_id=event.id if event else None
        )
    else:
        record = await ctx.hub.store.settle_quarantined(record.id, released=False, reason=failed)
    if ctx.wants_json():
        body = {
            "id": record.id,
            "status": record.status.value,
            "event_id": record.event_id,
            "conversation_id": event.conversation_id if event else None,
            "reason": record.reason,
            "attempts": record.attempts,
        }
        return JSONResponse(body, status_code=200 if failed is None else 409)
    return back(ctx, "/agent/quarantine")
