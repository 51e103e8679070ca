"""Write first: ``/agent/new`` opens a conversation with a phone (SMS or WhatsApp),
an email address or a Telegram chat, for a customer who has not written in.

The address's owner is used as they are (never merged); nobody owns it: a new
customer holds it. WhatsApp needs a template outside its 24 h window. The checks
run before anything is stored; a refused form comes back with the field named.
"""

from __future__ import annotations

from starlette.responses import RedirectResponse, Response

from hub.agent.web import Ctx, action, page
from hub.errors import InvalidInput

__all__ = ["new_page", "start"]

CHANNELS = ("sms", "whatsapp", "email", "telegram")
FIELDS = ("channel", "to", "name", "subject", "template", "text")


def _channels(ctx: Ctx) -> list[str]:
    running = ctx.hub.pipeline.channels
    return [c for c in CHANNELS if c in running]


@page
async def new_page(ctx: Ctx) -> Response:
    params = ctx.request.query_params
    form = {k: params.get(k, "") for k in FIELDS}
    return ctx.render("new.html", form=form, channels=_channels(ctx), error=None, error_field=None)


@action
async def start(ctx: Ctx) -> Response:
    form = {k: ctx.field(k) for k in FIELDS}
    template = form["template"].strip()
    meta: dict[str, object] = {"agent_id": ctx.agent.id}
    if template:
        meta["template"] = template
    try:
        if form["channel"] not in _channels(ctx):
            raise InvalidInput("channel", "choose a channel")
        started = await ctx.hub.pipeline.start_conversation(
            channel=form["channel"],
            to=form["to"],
            text=form["text"].strip(),
            subject=form["subject"].strip() or None,
            name=form["name"].strip() or None,
            author=ctx.agent.name,
            meta=meta,
            default_region=ctx.hub.settings.default_region,
        )
    except InvalidInput as exc:
        return ctx.render(
            "new.html",
            422,
            form=form,
            channels=_channels(ctx),
            error=exc.reason,
            error_field=exc.field,
        )
    return RedirectResponse(f"/agent/conversations/{started.conversation.id}", status_code=303)
