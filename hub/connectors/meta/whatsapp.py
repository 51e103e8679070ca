"""WhatsApp Cloud API webhook items (``object: whatsapp_business_account``).

Each entry carries ``changes[]``; the ``messages`` field's ``value`` holds
``metadata.phone_number_id`` (the business number written to), ``contacts[]``
(profile names by ``wa_id``), ``messages[]`` and ``statuses[]``. Timestamps
are Unix seconds as strings. ``from`` is usually a phone number without ``+``
but may be another kind of WhatsApp id: only a phone number becomes a
``phone:`` identity (shared with SMS and voice); anything else is ``whatsapp:``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

from hub.connectors.base import InboundMessage
from hub.connectors.meta.actions import (
    Action,
    BadItem,
    Incoming,
    Media,
    Receipt,
    Skipped,
    listed,
    when,
)
from hub.errors import InvalidIdentity
from hub.timeline.content import (
    Contact,
    Contacts,
    Content,
    Edit,
    Location,
    Order,
    OrderItem,
    Reaction,
    Reply,
    Revoke,
    Sticker,
    Unsupported,
    Voice,
)
from hub.timeline.model import DeliveryStatus, Identity, normalise_identity

__all__ = ["CHANNEL", "parse_entry", "wa_identity", "wa_recipient"]

CHANNEL = "whatsapp"
MEDIA_TYPES = ("image", "video", "audio", "document", "sticker", "voice")
STATUSES = {
    "sent": DeliveryStatus.SENT,
    "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.READ,
    "failed": DeliveryStatus.FAILED,
}


def wa_identity(wa_id: str) -> Identity:
    """``phone:+<E.164>`` when ``wa_id`` is a phone number, else ``whatsapp:<wa_id>``."""
    if wa_id.isdigit() and 7 <= len(wa_id) <= 15:
        try:
            return normalise_identity("phone", "+" + wa_id)
        except InvalidIdentity:
            pass
    try:
        return normalise_identity(CHANNEL, wa_id)
    except InvalidIdentity as exc:
        raise BadItem(f"from: {exc.reason}") from None


def wa_recipient(identity: Identity) -> str:
    """The ``to`` of a send for ``identity`` (digits for a phone number)."""
    return identity.value.removeprefix("+") if identity.kind == "phone" else identity.value


def parse_entry(entry: dict[str, Any]) -> Iterator[Action]:
    """Every action in one ``entry`` of a WhatsApp webhook."""
    try:
        changes = listed(entry.get("changes"), "changes")
    except BadItem as exc:
        yield Skipped(f"bad whatsapp entry: {exc}", logging.WARNING)
        return
    for change in changes:
        if not isinstance(change, dict):
            yield Skipped("whatsapp change is not an object", logging.WARNING)
            continue
        if change.get("field") != "messages":
            yield Skipped(f"whatsapp change field {change.get('field')!r} is not handled")
            continue
        value = change.get("value")
        if not isinstance(value, dict):
            yield Skipped("whatsapp change has no value", logging.WARNING)
            continue
        for part in ("contacts", "messages", "statuses", "errors"):
            if not isinstance(value.get(part), list | None):
                yield Skipped(f"bad whatsapp value: {part} is not a list", logging.WARNING)
                value = {**value, part: None}
        yield from _value(value)


def _value(value: dict[str, Any]) -> Iterator[Action]:
    metadata = value.get("metadata")
    account = str(metadata.get("phone_number_id") or "") if isinstance(metadata, dict) else ""
    names: dict[str, str] = {}
    for contact in value.get("contacts") or []:
        if isinstance(contact, dict) and isinstance(contact.get("profile"), dict):
            name = contact["profile"].get("name")
            if isinstance(name, str) and name.strip():
                for key in ("wa_id", "user_id"):
                    if contact.get(key):
                        names[str(contact[key])] = name.strip()[:200]
    for message in value.get("messages") or []:
        try:
            yield _message(account, message, names)
        except BadItem as exc:
            yield Skipped(f"bad whatsapp message: {exc}", logging.WARNING)
    for status in value.get("statuses") or []:
        try:
            yield _status(status)
        except BadItem as exc:
            yield Skipped(f"bad whatsapp status: {exc}", logging.WARNING)
    for error in value.get("errors") or []:
        yield Skipped(f"whatsapp reported an error: {_error_text(error)}", logging.WARNING)


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise BadItem(f"{where} is missing")
    return value


def _message(account: str, message: Any, names: dict[str, str]) -> Action:
    if not isinstance(message, dict):
        raise BadItem("message is not an object")
    wamid = _text(message.get("id"), "id")
    sender = message.get("from") or message.get("from_user_id")
    if not isinstance(sender, str) or not sender:
        raise BadItem("from and from_user_id are missing")
    kind = str(message.get("type") or "unknown")
    if kind == "system":
        return Skipped(f"whatsapp system message {wamid} is not handled")
    found = message.get(kind)
    body: dict[str, Any] = found if isinstance(found, dict) else {}
    meta: dict[str, Any] = {"account": account, "type": kind}
    text, content, media = _content(kind, body, message)
    if message.get("from_user_id"):
        meta["user_id"] = str(message["from_user_id"])[:256]
    context = message.get("context")
    parent = context.get("id") if isinstance(context, dict) else None
    if isinstance(context, dict) and context.get("referred_product"):
        meta["referred_product"] = context["referred_product"]
    referral = message.get("referral")
    if isinstance(referral, dict):
        meta["referral"] = {
            k: str(referral[k])[:500] for k in ("source_url", "headline", "body") if k in referral
        }
    return Incoming(
        InboundMessage(
            channel=CHANNEL,
            external_id=wamid,
            identity=wa_identity(sender),
            text=text,
            customer_name=names.get(sender) or names.get(str(message.get("from_user_id"))),
            occurred_at=when(message, millis=False),
            thread_ref=wamid,
            in_reply_to=(parent,) if isinstance(parent, str) else (),
            meta=meta,
            content=content,
        ),
        account=account,
        media=media,
    )


def _content(
    kind: str, body: dict[str, Any], message: dict[str, Any]
) -> tuple[str | None, Content | None, tuple[Media, ...]]:
    """``(text, content, media)`` of one message of type ``kind`` (``body`` is its object)."""
    if kind == "text":
        return _text(body.get("body"), "text.body"), None, ()
    if kind in MEDIA_TYPES:
        media_id = _text(body.get("id"), f"{kind}.id")
        caption = _str(body.get("caption"))
        filename, mime = body.get("filename"), body.get("mime_type")
        media = Media(
            "whatsapp",
            media_id,
            "audio" if kind == "voice" else kind,
            filename=filename if isinstance(filename, str) else None,
            content_type=mime if isinstance(mime, str) else None,
        )
        content: Content | None = None
        if kind == "sticker":
            content = Sticker(animated=body.get("animated") is True)
        elif kind == "voice" or (kind == "audio" and body.get("voice") is True):
            content = Voice()
        return caption, content, (media,)
    if kind == "location":
        return None, _location(body), ()
    if kind == "contacts":
        cards = tuple(_card(c) for c in listed(message.get("contacts"), "contacts"))
        return None, Contacts(tuple(c for c in cards if c is not None)), ()
    if kind == "interactive":
        return None, _interactive(body), ()
    if kind == "button":
        return (
            None,
            Reply("button", title=_str(body.get("text")), payload=_str(body.get("payload"))),
            (),
        )
    if kind == "order":
        items = tuple(_order_item(i) for i in listed(body.get("product_items"), "product_items"))
        order = Order(_str(body.get("catalog_id")), tuple(i for i in items if i is not None))
        return _str(body.get("text")), order, ()
    if kind == "reaction":
        target = body.get("message_id") or body.get("messsage_id")  # sic: seen in the wild
        return None, Reaction(_text(target, "reaction.message_id"), _str(body.get("emoji"))), ()
    if kind == "edit":
        target = body.get("original_message_id") or body.get("message_id")
        edited = body.get("message") if isinstance(body.get("message"), dict) else body
        text_part = edited.get("text") if isinstance(edited, dict) else None
        new_text = text_part.get("body") if isinstance(text_part, dict) else None
        caption = _nested_caption(edited)
        return (
            None,
            Edit(_text(target, "edit.original_message_id"), _str(new_text) or caption or ""),
            (),
        )
    if kind == "revoke":
        target = body.get("original_message_id") or body.get("message_id")
        return None, Revoke(_text(target, "revoke.original_message_id")), ()
    errors = message.get("errors")
    reason = "; ".join(_error_text(e) for e in errors) if isinstance(errors, list) else None
    return None, Unsupported(kind[:64], reason or None), ()


def _str(value: Any) -> str | None:
    return value.strip()[:4096] or None if isinstance(value, str) else None


def _nested_caption(edited: Any) -> str | None:
    if not isinstance(edited, dict):
        return None
    for part in edited.values():
        if isinstance(part, dict) and isinstance(part.get("caption"), str):
            return _str(part["caption"])
    return None


def _location(body: dict[str, Any]) -> Content:
    try:
        latitude, longitude = float(body["latitude"]), float(body["longitude"])
    except (KeyError, TypeError, ValueError):
        return Unsupported("location", "the location has no usable coordinates")
    return Location(
        latitude,
        longitude,
        name=_str(body.get("name")),
        address=_str(body.get("address")),
        url=_str(body.get("url")),
    )


def _card(card: Any) -> Contact | None:
    if not isinstance(card, dict):
        return None
    found = card.get("name")
    name_part: dict[str, Any] = found if isinstance(found, dict) else {}
    name = _str(name_part.get("formatted_name")) or " ".join(
        p for p in (_str(name_part.get(k)) for k in ("first_name", "last_name")) if p
    )
    phones = tuple(
        p
        for p in (_str(x.get("phone")) for x in card.get("phones") or [] if isinstance(x, dict))
        if p
    )
    emails = tuple(
        e
        for e in (_str(x.get("email")) for x in card.get("emails") or [] if isinstance(x, dict))
        if e
    )
    org = card.get("org")
    company = _str(org.get("company")) if isinstance(org, dict) else None
    return Contact(name or (phones[0] if phones else "?"), phones, emails, company)


def _interactive(body: dict[str, Any]) -> Content:
    kind = str(body.get("type") or "")
    found = body.get(kind)
    reply: dict[str, Any] = found if isinstance(found, dict) else {}
    if kind == "nfm_reply":
        fields: dict[str, str] = {}
        raw = reply.get("response_json")
        try:
            parsed = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            fields = {
                str(k)[:100]: str(v)[:1000]
                for k, v in parsed.items()
                if k != "flow_token" and not isinstance(v, dict | list)
            }
        title = _str(reply.get("body"))
        return Reply("flow", title=title, payload=_str(reply.get("name")), fields=fields)
    if kind in ("button_reply", "list_reply"):
        title = _str(reply.get("title"))
        description = _str(reply.get("description"))
        return Reply(
            "button" if kind == "button_reply" else "list",
            title=f"{title} — {description}" if title and description else title,
            payload=_str(reply.get("id")),
        )
    return Unsupported(f"interactive {kind}"[:64], None)


def _order_item(item: Any) -> OrderItem | None:
    if not isinstance(item, dict):
        return None
    try:
        quantity = float(item.get("quantity") or 1)
        price = float(item["item_price"]) if item.get("item_price") is not None else None
    except (TypeError, ValueError):
        quantity, price = 1, None
    return OrderItem(
        _str(str(item.get("product_retailer_id") or "")) or "?",
        quantity,
        price,
        _str(item.get("currency")),
    )


def _error_text(error: Any) -> str:
    if not isinstance(error, dict):
        return str(error)[:300]
    details = error.get("error_data", {})
    detail = details.get("details") if isinstance(details, dict) else None
    words = error.get("message") or error.get("title") or "unknown error"
    text = f"{error.get('code')} {words}"
    return (f"{text}: {detail}" if detail and detail != words else text)[:500]


def _status(status: Any) -> Action:
    if not isinstance(status, dict):
        raise BadItem("status is not an object")
    wamid = _text(status.get("id"), "id")
    name = status.get("status")
    if not isinstance(name, str):
        raise BadItem("status is not a string")
    if name not in STATUSES:
        return Skipped(f"whatsapp status {name!r} for {wamid} is not handled")
    errors = status.get("errors")
    error = "; ".join(_error_text(e) for e in errors) if isinstance(errors, list) else None
    return Receipt(CHANNEL, STATUSES[name], mids=(wamid,), error=error or None)
