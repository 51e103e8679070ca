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
    when,
)
from hub.errors import InvalidIdentity
from hub.timeline.content import (
    Content,
    Edit,
    Location,
    Reaction,
    Reply,
    Revoke,
    Share,
    Sticker,
    Unsupported,
    content_to_doc,
)
from hub.timeline.model import DeliveryStatus, Direction, Identity, normalise_identity

__all__ = ["OWN_METADATA", "channel_for", "parse_entry"]

OWN_METADATA = "omnihub:"
"""Prefix of the ``metadata`` the connector puts on its Messenger replies."""

FETCHED_TYPES = frozenset({"image", "video", "audio", "file"})
CHANGE_FIELDS = frozenset(
    {
        "messages",
        "messaging_seen",
        "message_echoes",
        "messaging_postbacks",
        "message_reactions",
        "message_edits",
    }
)


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
    if "message_edit" in item:
        return _edit(channel, account, item)
    if "reaction" in item:
        return _reaction(channel, account, item)
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
    role = "recipient" if echo else "sender"
    customer = _identity(channel, item.get(role), role)
    occurred = when(item, millis=True)
    if message.get("is_deleted") is True:
        return _amending(channel, account, item, f"{mid}#deleted", Revoke(mid), customer)
    text = message.get("text")
    if text is not None and not isinstance(text, str):
        raise BadItem("message.text is not a string")
    meta: dict[str, Any] = {"account": account}
    media: list[Media] = []
    contents: list[Content] = []
    sticker = message.get("sticker_id") is not None
    for attachment in listed(message.get("attachments"), "message.attachments"):
        kind, url, payload = _attachment(attachment)
        if kind in FETCHED_TYPES and url:
            media.append(Media("url", url, kind, filename=_filename(url)))
            sticker = sticker or payload.get("sticker_id") is not None
        else:
            contents.append(_other(kind, url, payload, attachment))
    if len(contents) > 1:
        meta["other_attachments"] = [content_to_doc(c) for c in contents[1:]]
    content: Content | None = contents[0] if contents else None
    if sticker and content is None:
        content = Sticker()
    quick = message.get("quick_reply")
    if isinstance(quick, dict) and quick.get("payload") is not None:
        meta["quick_reply"] = str(quick["payload"])[:1000]
        content = content or Reply("quick_reply", title=text, payload=meta["quick_reply"])
    reply_to = message.get("reply_to")
    parent = reply_to.get("mid") if isinstance(reply_to, dict) else None
    story = reply_to.get("story") if isinstance(reply_to, dict) else None
    if isinstance(story, dict) and content is None:
        content = Share("story_reply", url=_url(story.get("url")))
    if message.get("is_unsupported") is True and content is None and not text and not media:
        content = Unsupported("message", f"{channel} did not pass on what the customer sent")
    if content is None and not text and not media:
        content = Unsupported("empty", f"the {channel} message had no text or attachment")
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
            content=content,
        ),
        account=account,
        media=tuple(media),
    )


def _attachment(attachment: Any) -> tuple[str, str | None, dict[str, Any]]:
    if not isinstance(attachment, dict):
        raise BadItem("attachment is not an object")
    kind = str(attachment.get("type") or "unknown")
    found = attachment.get("payload")
    payload: dict[str, Any] = found if isinstance(found, dict) else {}
    return kind, _url(payload.get("url") or payload.get("story_media_url")), payload


def _url(value: Any) -> str | None:
    return value if isinstance(value, str) and value.startswith(("https://", "http://")) else None


SHARES = {
    "share": "share",
    "fallback": "share",
    "story_mention": "story_mention",
    "ig_reel": "reel",
    "reel": "reel",
    "ig_post": "post",
    "ig_story": "story",
}


def _other(kind: str, url: str | None, payload: dict[str, Any], attachment: Any) -> Content:
    """What an attachment that is not a file to fetch shows."""
    title = payload.get("title") or (
        attachment.get("title") if isinstance(attachment, dict) else None
    )
    title = str(title)[:500] if title else None
    if kind in SHARES:
        return Share(SHARES[kind], url=url, title=title)
    if kind == "location":
        point = payload.get("coordinates")
        try:
            assert isinstance(point, dict)
            return Location(float(point["lat"]), float(point["long"]), name=title, url=url)
        except (AssertionError, KeyError, TypeError, ValueError):
            return Unsupported("location", "the location has no usable coordinates")
    if kind == "template":
        return Share("share", url=url, title=title or "template")
    return Unsupported(kind[:64], None)


def _filename(url: str) -> str | None:
    name = PurePosixPath(urlsplit(url).path).name
    return name[:200] or None


def _postback(channel: str, account: str, item: dict[str, Any]) -> Action:
    postback = item["postback"] if isinstance(item["postback"], dict) else {}
    customer = _identity(channel, item.get("sender"), "sender")
    title = postback.get("title")
    payload = str(postback.get("payload"))[:1000]
    mid = postback.get("mid")
    if not isinstance(mid, str) or not mid:
        # Get Started and ice breakers come without a mid: the sender, the time
        # and the payload identify one press (and its replays).
        mid = f"postback:{customer.value}:{item.get('timestamp')}:{payload[:200]}"
    return Incoming(
        InboundMessage(
            channel=channel,
            external_id=mid,
            identity=customer,
            occurred_at=when(item, millis=True),
            meta={"account": account, "postback": payload},
            content=Reply("postback", title=str(title)[:500] if title else None, payload=payload),
        ),
        account=account,
    )


def _amending(
    channel: str,
    account: str,
    item: dict[str, Any],
    external_id: str,
    content: Content,
    customer: Identity,
) -> Action:
    return Incoming(
        InboundMessage(
            channel=channel,
            external_id=external_id[:1024],
            identity=customer,
            occurred_at=when(item, millis=True),
            meta={"account": account},
            content=content,
        ),
        account=account,
    )


def _edit(channel: str, account: str, item: dict[str, Any]) -> Action:
    edit = item["message_edit"] if isinstance(item["message_edit"], dict) else {}
    mid = _mid(edit.get("mid"), "message_edit.mid")
    text = edit.get("text")
    if not isinstance(text, str):
        raise BadItem("message_edit.text is missing")
    customer = _identity(channel, item.get("sender"), "sender")
    key = f"{mid}#edit:{edit.get('num_edit')}:{item.get('timestamp')}"
    return _amending(channel, account, item, key, Edit(mid, text), customer)


def _reaction(channel: str, account: str, item: dict[str, Any]) -> Action:
    reaction = item["reaction"] if isinstance(item["reaction"], dict) else {}
    mid = _mid(reaction.get("mid"), "reaction.mid")
    customer = _identity(channel, item.get("sender"), "sender")
    emoji = reaction.get("emoji") or reaction.get("reaction")
    removed = reaction.get("action") == "unreact"
    content = Reaction(mid, None if removed or not emoji else str(emoji)[:32])
    key = f"{mid}#reaction:{customer.value}:{item.get('timestamp')}"
    return _amending(channel, account, item, key, content, customer)
