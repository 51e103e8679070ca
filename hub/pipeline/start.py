"""An agent writes first: a new conversation opened by an outbound message."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hub.errors import InvalidIdentity
from hub.pipeline.outbound import Outbound
from hub.pipeline.types import SendRejected
from hub.timeline.model import Conversation, Customer, Event, Identity, normalise_identity
from hub.timeline.work import drive

__all__ = ["Started", "Starts"]


@dataclass(frozen=True, slots=True)
class Started:
    """What :meth:`Starts.start_conversation` made: the conversation, its first
    message (queued) and the customer (``new_customer``: created for it)."""

    conversation: Conversation
    event: Event
    customer: Customer
    new_customer: bool


class Starts(Outbound):
    async def start_conversation(
        self,
        *,
        channel: str,
        to: str,
        text: str,
        subject: str | None = None,
        name: str | None = None,
        author: str | None = None,
        client_ref: str | None = None,
        meta: Mapping[str, Any] | None = None,
        default_region: str | None = None,
    ) -> Started:
        """Open a conversation with ``to`` on ``channel`` and queue ``text`` to it.

        ``to`` is ``kind:value`` or a bare address of the channel's kind (a phone
        number for sms and whatsapp, an email address, a Telegram chat id). The
        identity's owner is used as it is (never merged); nobody owns it: a new
        customer holds it, named ``name``. A channel with a reply window (WhatsApp)
        needs ``meta.template`` unless the customer wrote in on it within the
        window. Everything is checked before anything is stored (SendRejected,
        naming the field); ``client_ref`` makes the call idempotent.
        """
        info = self.channels.get(channel)
        if info is None:
            raise SendRejected("channel", f"no running connector for channel {channel!r}")
        identity = _identity(to, info.identity_kind, default_region)
        if not text.strip():
            raise SendRejected("text", "the first message needs text")
        limit = info.capabilities.text_limit
        if limit is not None and len(text) > limit:
            raise SendRejected("text", f"{channel} takes at most {limit} characters")
        owner = await self.store.find_customer(identity)
        if info.capabilities.reply_window is not None:
            needs = info.capabilities.window_escape or "template"
            if not (meta or {}).get(needs):
                option = None
                if owner is not None:
                    probe = Conversation(id="", customer_id=owner.id)
                    option = await drive(self.store, self._option(probe, info))
                if option is None or option.needs:
                    raise SendRejected(
                        needs,
                        f"{channel} lets a business write first only with a {needs} "
                        "(the customer has not written in the last "
                        f"{info.capabilities.reply_window.total_seconds() / 3600:g} h)",
                    )
        customer, created = await self.store.get_or_create_customer(identity, name=name)
        conv = await self.store.open_conversation(
            customer.id,
            channel=channel,
            subject=subject,
            open_key=f"start:{client_ref}" if client_ref else None,
        )
        event = await self.send(
            conv.id,
            text=text,
            subject=subject,
            channel=channel,
            to=identity,
            author=author,
            client_ref=client_ref,
            meta=meta,
        )
        conv = await self.store.get_conversation(conv.id)
        return Started(conv, event, customer, created)


def _identity(to: str, kind: str | None, default_region: str | None) -> Identity:
    to = to.strip()
    try:
        if ":" in to:
            identity = Identity.parse(to, default_region=default_region)
        elif kind is None:
            raise SendRejected("to", "give the address as kind:value, e.g. phone:+15551234567")
        else:
            identity = normalise_identity(kind, to, default_region=default_region)
    except InvalidIdentity as exc:
        raise SendRejected("to", exc.reason) from None
    if kind is not None and identity.kind != kind:
        raise SendRejected("to", f"this channel reaches {kind} addresses, not {identity.kind}")
    return identity
