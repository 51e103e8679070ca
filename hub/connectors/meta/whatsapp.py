"""WhatsApp Cloud API webhook items (``object: whatsapp_business_account``).

Each entry carries ``changes[]``; the ``messages`` field's ``value`` holds
``metadata.phone_number_id`` (the business number written to), ``contacts[]``
(profile names by ``wa_id``), ``messages[]`` and ``statuses[]``. Timestamps
are Unix seconds as strings. ``from`` is usually a phone number without ``+``
but may be another kind of WhatsApp id: only a phone number becomes a
``phone:`` identity (shared with SMS and voice); anything else is ``whatsapp:``.
"""

from __future__ import annotations

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
    from_epoch,
    listed,
)
from hub.errors import InvalidIdentity
from hub.timeline.model import DeliveryStatus, Identity, normalise_identity

__all__ = ["CHANNEL", "parse_entry", "wa_identity", "wa_recipient"]

CHANNEL = "whatsapp"
MEDIA_TYPES = ("image", "video", "audio", "document", "sticker")
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
                names[str(contact.get("wa_id"))] = name.strip()[:200]
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
    sender = _text(message.get("from"), "from")
    kind = str(message.get("type") or "unknown")
    if kind in ("system", "reaction"):
        return Skipped(f"whatsapp {kind} message {wamid} is not handled")
    found = message.get(kind)
    body: dict[str, Any] = found if isinstance(found, dict) else {}
    text: str | None = None
    media: tuple[Media, ...] = ()
    meta: dict[str, Any] = {"account": account, "type": kind}
    if kind == "text":
        text = _text(body.get("body"), "text.body")
    elif kind in MEDIA_TYPES:
        media_id = _text(body.get("id"), f"{kind}.id")
        caption = body.get("caption")
        text = caption if isinstance(caption, str) and caption else None
        filename = body.get("filename")
        mime = body.get("mime_type")
        media = (
            Media(
                "whatsapp",
                media_id,
                kind,
                filename=filename if isinstance(filename, str) else None,
                content_type=mime if isinstance(mime, str) else None,
            ),
        )
    elif kind == "location":
        parts = [str(body[k]) for k in ("name", "address") if body.get(k)]
        where = f"{body.get('latitude')}, {body.get('longitude')}"
        text = "Location: " + ", ".join([*parts, f"({where})"])
        meta["location"] = {k: body.get(k) for k in ("latitude", "longitude", "name", "address")}
    elif kind == "interactive":
        reply = body.get("button_reply") or body.get("list_reply") or {}
        text = str(reply.get("title")) if isinstance(reply, dict) and reply.get("title") else None
        meta["reply_id"] = reply.get("id") if isinstance(reply, dict) else None
    elif kind == "button":
        text = str(body.get("text")) if body.get("text") else None
        meta["payload"] = body.get("payload")
    else:
        meta["unsupported"] = True
    context = message.get("context")
    parent = context.get("id") if isinstance(context, dict) else None
    return Incoming(
        InboundMessage(
            channel=CHANNEL,
            external_id=wamid,
            identity=wa_identity(sender),
            text=text,
            customer_name=names.get(sender),
            occurred_at=from_epoch(message["timestamp"], millis=False)
            if "timestamp" in message
            else None,
            thread_ref=wamid,
            in_reply_to=(parent,) if isinstance(parent, str) else (),
            meta=meta,
        ),
        account=account,
        media=media,
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
