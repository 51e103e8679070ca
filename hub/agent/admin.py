"""Admins manage agents: list, create, disable / enable, reset a password."""

from __future__ import annotations

from starlette.responses import RedirectResponse, Response

from hub.agent.auth import create_agent
from hub.agent.passwords import MIN_PASSWORD_LENGTH, hash_password_async
from hub.agent.web import Ctx, Forbidden, action, page
from hub.errors import InvalidInput
from hub.timeline.model import AgentRole
from hub.timeline.store import AgentUpdate

__all__ = ["agents_page", "change", "create", "webhooks_page"]


def _admin(ctx: Ctx) -> None:
    if not ctx.agent.is_admin:
        raise Forbidden("only admins manage agents")


@page
async def agents_page(ctx: Ctx) -> Response:
    _admin(ctx)
    return ctx.render("agents.html", agents=await ctx.hub.store.list_agents())


@action
async def create(ctx: Ctx) -> Response:
    _admin(ctx)
    role = AgentRole.ADMIN if ctx.field("role") == "admin" else AgentRole.AGENT
    await create_agent(
        ctx.hub.store,
        email=ctx.field("email"),
        name=ctx.field("name"),
        password=ctx.field("password"),
        role=role,
    )
    return RedirectResponse("/agent/admin/agents", status_code=303)


@action
async def change(ctx: Ctx) -> Response:
    """``op``: disable, enable or password (with ``password``)."""
    _admin(ctx)
    agent_id = ctx.request.path_params["agent_id"]
    op = ctx.field("op")
    if op in ("disable", "enable"):
        if agent_id == ctx.agent.id:
            raise InvalidInput("op", "you cannot disable yourself")
        update = AgentUpdate(disabled=op == "disable")
    elif op == "password":
        password = ctx.field("password")
        if len(password) < MIN_PASSWORD_LENGTH:
            raise InvalidInput("password", f"use at least {MIN_PASSWORD_LENGTH} characters")
        update = AgentUpdate(password_hash=await hash_password_async(password))
    else:
        raise InvalidInput("op", "op must be disable, enable or password")
    await ctx.hub.store.update_agent(agent_id, update)
    return RedirectResponse("/agent/admin/agents", status_code=303)


@page
async def webhooks_page(ctx: Ctx) -> Response:
    """The outgoing webhooks' delivery log (admins): newest first, every attempt."""
    _admin(ctx)
    subs = ctx.hub.settings.webhooks.subscriptions
    deliveries = await ctx.hub.store.webhook_deliveries(limit=100)
    return ctx.render("webhooks.html", subscriptions=subs, deliveries=deliveries)
