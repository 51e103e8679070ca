"""The conversation view: the customer's whole timeline, the composer and the customer panel.

The timeline is the customer's (every channel and conversation interleaved,
in the store's order); events of the open conversation are marked. The page
renders the latest page; the script loads earlier pages on scroll
(``/agent/fragments/customers/{id}/events?cursor=…``) and single events as the
live socket announces them (``/agent/fragments/events/{id}``).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse, PlainTextResponse, Response

from hub.agent import suggestions
from hub.agent.i18n import N_
from hub.agent.inbox import agent_names
from hub.agent.macros import fill, hub_values, library
from hub.agent.presence import publish_read
from hub.agent.visitors import customer_label, visitor_context
from hub.agent.web import Ctx, fragment, page, templates
from hub.connectors.base import Template
from hub.errors import HubError, InvalidIdentity, InvalidInput, NotFound
from hub.handoff.threads import merge_suggestions, open_promises
from hub.operations.display import SlaBadge, badges, resolution_badge
from hub.operations.triage import team_of, tier_of
from hub.pipeline import HUB_CHANNEL
from hub.timeline.handoff import LinkSuggestion
from hub.timeline.merges import survivor
from hub.timeline.model import (
    Agent,
    Conversation,
    Customer,
    Direction,
    Event,
    normalise_identity,
)
from hub.timeline.store import EventPage, InboxFilter, encode_cursor

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from hub.app import Hub

__all__ = ["conversation_page", "event_fragment", "events_fragment"]

PAGE = 50
INLINE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
PLAYABLE = ("audio/", "video/")
HANDOFF_ACTIONS = (
    ("email_transcript", N_("Email the conversation")),
    ("verify", N_("Send a verification link")),
    ("text_me", N_("Text them")),
    ("call_me", N_("Call them back")),
)


def attachment_kind(content_type: str) -> str:
    """How the page shows an attachment: ``image``, ``audio``, ``video`` or ``file``."""
    if content_type in INLINE_TYPES:
        return "image"
    for prefix in PLAYABLE:
        if content_type.startswith(prefix):
            return prefix.rstrip("/")
    return "file"


templates.filters["attachment_kind"] = attachment_kind


async def people_labels(ctx: Ctx, events: list[Event]) -> dict[str, str]:
    """How the agent view names the people a shared-address question offers."""
    ids = {
        str(p.get("customer_id"))
        for e in events
        if isinstance(e.meta.get("shared_question"), dict)
        for p in e.meta["shared_question"].get("people", [])
        if isinstance(p, dict)
    }
    found = await ctx.hub.store.get_customers(sorted(ids)) if ids else {}
    return {cid: customer_label(c) for cid, c in found.items()}


async def render_events(
    ctx: Ctx, events: list[Event], conversation_id: str | None, customer: Customer | None = None
) -> str:
    """The timeline items for ``events`` (autoescaped HTML)."""
    tpl = templates.get_template("_events.html")
    return tpl.render(
        labels=await people_labels(ctx, events),
        events=events,
        conversation_id=conversation_id,
        customer_name=customer.name if customer else None,
        csrf=ctx.session.csrf,
        admin=ctx.agent.is_admin,
    )


def default_channel(events: list[Event], conv: Conversation) -> str | None:
    """The channel of the customer's last message in ``conv`` (else its last channel)."""
    for event in reversed(events):
        if (
            event.conversation_id == conv.id
            and event.direction is Direction.IN
            and event.channel != HUB_CHANNEL
        ):
            return event.channel
    return conv.last_channel if conv.last_channel != HUB_CHANNEL else None


async def macro_values(hub: Hub, customer: Customer, agent: Agent) -> dict[str, str]:
    """What the hub fills into macros for this customer and agent (their latest events)."""
    recent = await hub.store.events(customer_id=customer.id, limit=200)
    return hub_values(customer, agent, recent.items)


async def macros_for(ctx: Ctx, conv: Conversation, customer: Customer) -> list[dict[str, Any]]:
    """The conversation's macros, filled, as the composer's picker lists them."""
    values = await macro_values(ctx.hub, customer, ctx.agent)
    return [
        {"id": m.id, "title": m.title, "text": fill(m.text, values)}
        for m in library(ctx.hub.settings.agent, team_of(conv.tags))
    ]


def handoff_addresses(
    events: list[Event],
    conv: Conversation,
    customer: Customer,
    pending: list[LinkSuggestion],
) -> list[str]:
    """Where the conversation could continue (``kind:value``), the likeliest first: an
    email the customer left in this conversation (``meta.claimed_email``, unverified),
    then pending suggestions, then the customer's own email and phone identities."""
    found: list[str] = []
    for event in reversed(events):
        claimed = event.meta.get("claimed_email")
        if event.conversation_id == conv.id and isinstance(claimed, str):
            try:
                found.append(str(normalise_identity("email", claimed)))
            except InvalidIdentity:
                continue
    found += [str(s.identity) for s in pending if s.identity.kind in ("email", "phone")]
    found += [str(i) for i in customer.identities if i.kind in ("email", "phone")]
    return list(dict.fromkeys(found))


@dataclass(frozen=True, slots=True)
class Option:
    """A reply channel as the composer shows it."""

    channel: str
    available: bool
    to: str | None
    text_limit: int | None
    needs: str | None
    window_closes_at: str | None
    attachments: bool = False
    max_attachment_bytes: int | None = None


async def reply_options(hub: Hub, conv: Conversation) -> list[Option]:
    return [
        Option(
            channel=o.channel,
            available=o.available,
            to=str(o.to) if o.to else None,
            text_limit=o.text_limit,
            needs=o.needs,
            attachments=o.attachments,
            max_attachment_bytes=o.max_attachment_bytes,
            window_closes_at=o.window_closes_at.strftime("%Y-%m-%d %H:%M UTC")
            if o.window_closes_at
            else None,
        )
        for o in await hub.pipeline.reply_options(conv.id)
        if o.channel != HUB_CHANNEL
    ]


async def channel_templates(hub: Hub, options: list[Option]) -> list[Template]:
    """The approved templates of the channels whose reply window needs one."""
    found: list[Template] = []
    for option in options:
        connector = hub.channels.get(option.channel)
        if option.needs != "template" or connector is None:
            continue
        try:
            offered = await connector.templates(option.channel)
        except HubError as exc:
            log.warning("templates of %s not read: %s", option.channel, exc)
            continue
        found.extend(t for t in offered if t.approved)
    return found


async def sla_badges(hub: Hub, conv: Conversation, customer: Customer) -> list[SlaBadge]:
    """The conversation's SLA clocks (reply owed, resolution) when operations are on."""
    ops = hub.operations
    if ops is None:
        return []
    now = ops.clock()
    out = list(badges(ops, [conv], {customer.id: customer}, now).values())
    events = await hub.store.events(conversation_id=conv.id, limit=200)
    out.append(resolution_badge(ops, conv, customer, events.items, now))
    return out


def transfers(events: list[Event]) -> list[Event]:
    """The transfer notes among ``events`` (see :mod:`hub.agent.together`), in order."""
    return [e for e in events if isinstance(e.meta.get("transfer"), dict)]


AROUND = 10
"""Events shown after the one a search hit opens the timeline at."""


async def timeline_at(hub: Hub, customer: Customer, at: str | None) -> tuple[EventPage, bool]:
    """The latest page of the customer's timeline, or (``at``: an event id of theirs)
    the page ending a few events after that event; and whether later ones exist."""
    if at:
        try:
            event = await hub.store.get_event(at)
        except NotFound:
            event = None
        if event is not None and event.customer_id == customer.id:
            before = await hub.store.events(
                customer_id=customer.id, cursor=encode_cursor(event.seq + 1), limit=PAGE - AROUND
            )
            after = await hub.store.events(
                customer_id=customer.id,
                cursor=encode_cursor(event.seq),
                direction="newer",
                limit=AROUND,
            )
            items = before.items + after.items
            page = EventPage(items, before.older, after.newer, after.has_newer)
            return page, after.has_newer
    return await hub.store.events(customer_id=customer.id, limit=PAGE), False


@page
async def conversation_page(ctx: Ctx) -> Response:
    hub = ctx.hub
    conv = await hub.store.get_conversation(ctx.request.path_params["conversation_id"])
    customer = await survivor(hub.store, conv.customer_id)
    timeline, later = await timeline_at(hub, customer, ctx.request.query_params.get("at"))
    others = await hub.store.list_conversations(
        InboxFilter(status=(), customer_id=customer.id), limit=20
    )
    if timeline.items:
        await hub.store.mark_read(ctx.agent.id, conv.id, timeline.items[-1].seq)
        await publish_read(hub, ctx.agent, conv, customer.id, timeline.items[-1].seq)
    pending = await suggestions.for_customer(hub, customer)
    handed = transfers((await hub.store.events(conversation_id=conv.id, limit=200)).items)
    return ctx.render(
        "conversation.html",
        sla=await sla_badges(hub, conv, customer),
        team=team_of(conv.tags),
        tier=tier_of(conv.tags),
        teams=hub.operations.team_names() if hub.operations is not None else [],
        conv=conv,
        customer=customer,
        events_html=await render_events(ctx, timeline.items, conv.id, customer),
        older=timeline.older,
        newer=timeline.newer,
        later=later,
        transfers=handed,
        others=[c for c in others.items if c.id != conv.id],
        options=(options := await reply_options(hub, conv)),
        templates=await channel_templates(hub, options),
        default_channel=default_channel(timeline.items, conv),
        macros=await macros_for(ctx, conv, customer),
        agents=await agent_names(hub),
        can_act=ctx.agent.is_admin or conv.assignee in (None, ctx.agent.id),
        suggestions=pending,
        handoff_actions=HANDOFF_ACTIONS if hub.handoff is not None else (),
        handoff_to=handoff_addresses(timeline.items, conv, customer, pending),
        visitor=visitor_context(timeline.items),
        promises=await open_promises(hub.store, conv),
        same_issue=await merge_suggestions(hub.store, conv),
    )


@fragment
async def event_fragment(ctx: Ctx) -> Response:
    event = await ctx.hub.store.get_event(ctx.request.path_params["event_id"])
    conversation_id = ctx.request.query_params.get("conversation")
    customer = await survivor(ctx.hub.store, event.customer_id)
    return JSONResponse(
        {
            "id": event.id,
            "seq": event.seq,
            "customer_id": customer.id,
            "html": await render_events(ctx, [event], conversation_id, customer),
        }
    )


@fragment
async def events_fragment(ctx: Ctx) -> Response:
    q = ctx.request.query_params
    direction = q.get("direction", "older")
    if direction not in ("older", "newer"):
        raise InvalidInput("direction", "direction must be older or newer")
    customer = await survivor(ctx.hub.store, ctx.request.path_params["customer_id"])
    timeline = await ctx.hub.store.events(
        customer_id=customer.id,
        cursor=q.get("cursor") or None,
        direction="older" if direction == "older" else "newer",
        limit=PAGE,
    )
    return JSONResponse(
        {
            "html": await render_events(ctx, timeline.items, q.get("conversation"), customer),
            "older": timeline.older,
            "newer": timeline.newer,
            "has_newer": timeline.has_newer,
            "last_seq": timeline.items[-1].seq if timeline.items else None,
        }
    )


@fragment
async def options_fragment(ctx: Ctx) -> Response:
    conv = await ctx.hub.store.get_conversation(ctx.request.path_params["conversation_id"])
    return JSONResponse({"items": [o.__dict__ for o in await reply_options(ctx.hub, conv)]})


async def _attachment(ctx: Ctx) -> tuple[Event, int]:
    event = await ctx.hub.store.get_event(ctx.request.path_params["event_id"])
    index = int(ctx.request.path_params["index"])
    if not 0 <= index < len(event.attachments):
        raise NotFound(f"no attachment {index} on {event.id}")
    return event, index


@fragment
async def attachment(ctx: Ctx) -> Response:
    """An attachment's bytes: images, audio and video inline, anything else downloaded.

    Served under ``Content-Security-Policy: sandbox`` so an HTML or SVG file
    can never run script in the agent view's origin.
    """
    event, index = await _attachment(ctx)
    meta = event.attachments[index]
    data = await ctx.hub.blobs.get(meta.blob_id)
    kind = attachment_kind(meta.content_type)
    safe_name = re.sub(r"[^\w.\- ]", "_", meta.filename)[:120] or "attachment"
    disposition = "inline" if kind != "file" else "attachment"
    return Response(
        data,
        media_type=meta.content_type if kind != "file" else "application/octet-stream",
        headers={
            "Content-Disposition": f'{disposition}; filename="{safe_name}"',
            "Content-Security-Policy": "sandbox; default-src 'none'",
        },
    )


@fragment
async def quoted_text(ctx: Ctx) -> Response:
    """An email's full text, quoted history included, re-read from the stored raw message."""
    event = await ctx.hub.store.get_event(ctx.request.path_params["event_id"])
    raw_blob = event.meta.get("raw_blob")
    if event.channel != "email" or not isinstance(raw_blob, str):
        raise NotFound("this message has no stored original")
    try:
        from hub.connectors.email.parse import parse_mail
    except ImportError:  # the email extra is not installed
        raise NotFound("the email connector is not installed") from None
    try:
        full = parse_mail(await ctx.hub.blobs.get(raw_blob)).full_text
    except Exception:  # an original the parser cannot read: show what we stored
        full = ""
    return PlainTextResponse(full or event.text or "")
