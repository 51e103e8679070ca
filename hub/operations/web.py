"""``/agent/operations``: the operations configuration in the agent view — read-only for
agents; admins edit teams, agents' staffing and business hours here (stored edits,
see :mod:`hub.operations.overrides`)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from starlette.responses import RedirectResponse, Response

from hub.agent.web import Ctx, Forbidden, action, page
from hub.errors import InvalidInput, NotFound
from hub.operations.overrides import EDITABLE, load
from hub.operations.report import breaches, rule_accuracy
from hub.operations.service import Operations
from hub.operations.settings import DAYS

__all__ = ["edit", "operations_page"]


def _ops(ctx: Ctx) -> Operations:
    if ctx.hub.operations is None:
        raise NotFound("operations are off ([operations] enabled = false)")
    return ctx.hub.operations


@page
async def operations_page(ctx: Ctx) -> Response:
    ops = _ops(ctx)
    now = ops.clock()
    targets = {str(k): v for k, v in ops.settings.sla.compliance_targets.items()}
    return ctx.render(
        "operations.html",
        s=ops.settings,
        edits=await load(ctx.hub.store),
        days=DAYS,
        accuracy=await rule_accuracy(
            ctx.hub.store,
            since=now - timedelta(days=30),
            until=now,
            target=ops.settings.accuracy_target,
        ),
        week=await breaches(
            ctx.hub.store, since=now - timedelta(days=7), until=now, targets=targets
        ),
    )


def _words(raw: str) -> list[str]:
    return [w.strip() for w in raw.replace(";", ",").split(",") if w.strip()]


def _value(ctx: Ctx, section: str) -> dict[str, Any]:
    if section == "teams":
        return {
            "lead": ctx.field("lead").strip() or None,
            "skill": ctx.field("skill").strip() or None,
        }
    if section == "staff":
        raw = ctx.field("capacity").strip() or "3"
        if not raw.isdigit():
            raise InvalidInput("capacity", "capacity must be a whole number")
        return {
            "skills": _words(ctx.field("skills")),
            "languages": _words(ctx.field("languages")) or ["en"],
            "capacity": int(raw),
        }
    hours = {d: _words(ctx.field(f"hours_{d}")) for d in DAYS}
    return {
        "timezone": ctx.field("timezone").strip() or "UTC",
        "hours": {d: spans for d, spans in hours.items() if spans},
        "holidays": _words(ctx.field("holidays")),
    }


@action
async def edit(ctx: Ctx) -> Response:
    """``section`` (teams, staff, calendars), ``name``; ``op=remove`` drops the edit."""
    ops = _ops(ctx)
    if not ctx.agent.is_admin:
        raise Forbidden("only admins change teams, staffing and business hours")
    section = ctx.field("section")
    if section not in EDITABLE:
        raise InvalidInput("section", f"section must be one of {', '.join(EDITABLE)}")
    name = ctx.field("name").strip()
    value = None if ctx.field("op") == "remove" else _value(ctx, section)
    await ops.edit(section, name, value)
    return RedirectResponse("/agent/operations", status_code=303)
