"""Messenger (``object: page``) and Instagram (``object: instagram``) webhook items.

Each entry carries ``messaging[]`` (and ``standby[]`` while another app holds
the thread); Instagram may instead send ``changes[]`` whose ``value`` is the
same item. One item holds one of: ``message`` (an echo when ``is_echo``),
``delivery`` (``mids`` and/or a ``watermark``), ``read`` (a ``watermark`` on
Messenger, a ``mid`` on Instagram), ``postback``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

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
from hub.timeline.model import DeliveryStatus, Direction, Identity, normalise_identity

__all__ = ["OWN_METADATA", "channel_for", "parse_entry"]

OWN_METADATA = "omnihub:"
"""Prefix of the ``metadata`` the connector puts on its Messenger replies."""

FETCHED_TYPES = frozenset({"image", "video", "audio", "file"})
CHANGE_FIELDS = frozenset({"messages", "messaging_seen", "message_echoes", "messaging_postbacks"})


def channel_for(obj: str) -> str:
    return "messenger" if obj == "page" else "instagram"


def parse_entry(obj: str, entry: dict[str, Any], app_id: str | None) -> Iterator[Action]:
    """Every action in one ``entry`` of a ``page`` or ``instagram`` webhook."""
    channel = channel_for(obj)
    account = str(entry.get("id") or "")
    items: list[Any] = []
    for key in ("messaging", "standby"):
        found = entry.get(key) or []
        items.extend(found if isinstance(found, list) else [None])
    changes = entry.get("changes")
    if not isinstance(changes, list | None):
        yield Skipped(f"bad {channel} entry: changes is not a list", logging.WARNING)
        changes = None
    for change in changes or []:
        field = change.get("field") if isinstance(change, dict) else None
        if isinstance(change, dict) and field in CHANGE_FIELDS:
            items.append(change.get("value"))
        else:
            yield Skipped(f"{obj} change field {field!r} is not handled")
    for item in items:
        try:
            yield parse_item(channel, account, item, app_id)
        except BadItem as exc:
            yield Skipped(f"bad {channel} item: {exc}", logging.WARNING)


def _identity(channel: str, party: Any, role: str) -> Identity:
    value = party.get("id") if isinstance(party, dict) else None
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise BadItem(f"{role}.id is missing")
    try:
        return normalise_identity(channel, str(value))
    except InvalidIdentity as exc:
        raise BadItem(f"{role}.id: {exc.reason}") from None


def _mid(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 1024:
        raise BadItem(f"{where} is missing")
    return value


def parse_item(channel: str, account: str, item: Any, app_id: str | None) -> Action:
    """One messaging item as an action (raises :class:`BadItem`)."""
    if not isinstance(item, dict):
        raise BadItem("item is not an object")
    if "message" in item:
        return _message(channel, account, item, app_id)
    if "delivery" in item:
        delivery = item["delivery"] if isinstance(item["delivery"], dict) else {}
        mids = delivery.get("mids") or []
        if not isinstance(mids, list):
            raise BadItem("delivery.mids is not a list")
        watermark = delivery.get("watermark")
        return Receipt(
            channel,
            DeliveryStatus.DELIVERED,
            mids=tuple(_mid(m, "delivery.mids[]") for m in mids),
            customer=_identity(channel, item.get("sender"), "sender"),
            watermark=from_epoch(watermark, millis=True) if watermark is not None else None,
        )
    if "read" in item:
        read = item["read"] if isinstance(item["read"], dict) else {}
        watermark = read.get("watermark")
        mid = read.get("mid")
        if watermark is None and mid is None:
            raise BadItem("read has neither watermark nor mid")
        return Receipt(
            channel,
            DeliveryStatus.READ,
            mids=(_mid(mid, "read.mid"),) if mid is not None else (),
            customer=_identity(channel, item.get("sender"), "sender"),
            watermark=from_epoch(watermark, millis=True) if watermark is not None else None,
        )
    if "postback" in item:
        return _postback(channel, account, item)
    kinds = sorted(k for k in item if k not in ("sender", "recipient", "timestamp"))
    return Skipped(f"{channel} item {kinds} is not handled")


def _message(channel: str, account: str, item: dict[str, Any], app_id: str | None) -> Action:
    message = item["message"]
    if not isinstance(message, dict):
        raise BadItem("message is not an object")
    mid = _mid(message.get("mid"), "message.mid")
    echo = message.get("is_echo") is True
    if echo:
        metadata = message.get("metadata")
        own_app = app_id is not None and str(message.get("app_id")) == app_id
        if own_app or (isinstance(metadata, str) and metadata.startswith(OWN_METADATA)):
            return Skipped(f"echo of our own {channel} reply {mid}")
    if message.get("is_deleted") is True:
        return Skipped(f"{channel} message {mid} was unsent")
    role = "recipient" if echo else "sender"
    customer = _identity(channel, item.get(role), role)
    occurred = from_epoch(item["timestamp"], millis=True) if "timestamp" in item else None
    text = message.get("text")
    if text is not None and not isinstance(text, str):
        raise BadItem("message.text is not a string")
    meta: dict[str, Any] = {"account": account}
    media: list[Media] = []
    skipped: list[dict[str, Any]] = []
    for attachment in listed(message.get("attachments"), "message.attachments"):
        kind, url = _attachment(attachment)
        if kind in FETCHED_TYPES and url:
            media.append(Media("url", url, kind, filename=_filename(url)))
        else:
            skipped.append({"type": kind, "url": url})
    if skipped:
        meta["other_attachments"] = skipped
    quick = message.get("quick_reply")
    if isinstance(quick, dict) and quick.get("payload") is not None:
        meta["quick_reply"] = str(quick["payload"])[:1000]
    reply_to = message.get("reply_to")
    parent = reply_to.get("mid") if isinstance(reply_to, dict) else None
    if echo:
        meta["app_id"] = message.get("app_id")
    return Incoming(
        InboundMessage(
            channel=channel,
            external_id=mid,
            identity=customer,
            text=text,
            direction=Direction.OUT if echo else Direction.IN,
            author=f"{channel}:page:{account}" if echo else None,
            occurred_at=occurred,
            thread_ref=mid,
            in_reply_to=(parent,) if isinstance(parent, str) else (),
            meta=meta,
        ),
        account=account,
        media=tuple(media),
    )


def _attachment(attachment: Any) -> tuple[str, str | None]:
    if not isinstance(attachment, dict):
        raise BadItem("attachment is not an object")
    kind = str(attachment.get("type") or "unknown")
    payload = attachment.get("payload")
    url = payload.get("url") if isinstance(payload, dict) else None
    return kind, url if isinstance(url, str) and url.startswith(("https://", "http://")) else None


def _filename(url: str) -> str | None:
    name = PurePosixPath(urlsplit(url).path).name
    return name[:200] or None


def _postback(channel: str, account: str, item: dict[str, Any]) -> Action:
    postback = item["postback"] if isinstance(item["postback"], dict) else {}
    mid = postback.get("mid")
    if not isinstance(mid, str) or not mid:
        return Skipped(f"{channel} postback without a mid")
    title = postback.get("title")
    return Incoming(
        InboundMessage(
            channel=channel,
            external_id=mid,
            identity=_identity(channel, item.get("sender"), "sender"),
            text=str(title) if title is not None else None,
            occurred_at=from_epoch(item["timestamp"], millis=True) if "timestamp" in item else None,
            meta={"account": account, "postback": str(postback.get("payload"))[:1000]},
        ),
        account=account,
    )
