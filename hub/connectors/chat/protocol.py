"""The widget's websocket protocol: JSON frames, one object each, with a ``type``.

The socket is ``/connectors/chat/ws?site=<site>``; a page whose ``Origin`` the
site does not allow is closed with 1008, a frame over ``max_frame_bytes`` with
1009. Cursors are opaque; the client keeps the ``cursor`` of the last
``event``/``events`` frame it received and sends it in ``hello`` on reconnect.

Client → server::

    hello          {token?, cursor?, page?}         first frame; token/cursor from localStorage;
                                                    page: {url, title, referrer, lang, tz}
    message        {id, text?, attachments?: [ref]} id: client-generated, makes resends idempotent
    typing         {typing: bool}
    identify       {user_id?, email?, name?, user_hash, email_hash?}
    offline_email  {id, email}                      stored as an unverified claim
    history        {before: older}                  an older page
    ping           {}

Server → client::

    welcome    {visitor, token, online, identified, name?}   token: keep it (may be new)
    events     {events: [event], cursor, older, reset}       history / everything missed
    event      {event, cursor}                               one new event, live
    history    {events, older}                               the page asked for
    ack        {id, event?, duplicate}                       a client frame was stored
    typing     {typing, name?}                               an agent is typing
    read       {up_to, name?}                                an agent read up to that event
    presence   {online}
    identified {name?}                                       then an ``events`` reset
    error      {code, message, id?}                          the connection stays
    pong       {}

``event`` objects: ``{id, seq, channel, direction: "in"|"out", author, text, at,
attachments: [{url, name, type, size, image}], client_id?}``: the customer's
messages on every channel (``channel`` names it), never internal events.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
)

from hub.payloads import parse_json
from hub.timeline.model import Direction, Event, EventKind

__all__ = [
    "ClientFrame",
    "FrameError",
    "HelloFrame",
    "HistoryFrame",
    "IdentifyFrame",
    "MessageFrame",
    "OfflineEmailFrame",
    "PageInfo",
    "PingFrame",
    "TypingFrame",
    "event_frame",
    "frame_id_of",
    "parse_frame",
    "visible",
]

CHANNEL = "chat"


class _Frame(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


def _web_url(value: str | None) -> str | None:
    """An ``http(s)`` URL without its query and fragment (they may carry secrets)."""
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


_LANG = re.compile(r"[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*")
_LIMITS = {"url": 2000, "title": 300, "referrer": 2000, "lang": 35, "tz": 64}


def _zone(value: str) -> str | None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return value


class PageInfo(_Frame):
    """Where the visitor is, as their browser reports it (shown to agents as text).

    Unverifiable and never evidence of anything: context for the agent only. A
    field the hub cannot use (not a string, too long, not an ``http(s)`` URL,
    not a language tag or an IANA time zone) is dropped, never the whole report.
    """

    url: str | None = None
    title: str | None = None
    referrer: str | None = None
    lang: str | None = None
    tz: str | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _usable(cls, value: Any, info: ValidationInfo) -> str | None:
        name = info.field_name or ""
        if not isinstance(value, str) or not value or len(value) > _LIMITS[name]:
            return None
        if name in ("url", "referrer"):
            return _web_url(value)
        if name == "lang":
            return value if _LANG.fullmatch(value) else None
        if name == "tz":
            return _zone(value)
        return value


class HelloFrame(_Frame):
    type: Literal["hello"]
    token: str | None = Field(None, max_length=1000)
    cursor: str | None = Field(None, max_length=200)
    page: PageInfo | None = None

    @field_validator("page", mode="wrap")
    @classmethod
    def _lenient(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> PageInfo | None:
        """A page report the server cannot use is dropped; the visitor still chats."""
        try:
            page: PageInfo | None = handler(value)
        except ValidationError:
            return None
        return page


class MessageFrame(_Frame):
    type: Literal["message"]
    id: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")
    text: str | None = None
    attachments: list[str] = Field(default_factory=list, max_length=5)


class TypingFrame(_Frame):
    type: Literal["typing"]
    typing: bool


class IdentifyFrame(_Frame):
    type: Literal["identify"]
    user_id: str | None = Field(None, min_length=1, max_length=200)
    email: str | None = Field(None, max_length=320)
    name: str | None = Field(None, max_length=200)
    user_hash: str = Field(min_length=1, max_length=200)
    email_hash: str | None = Field(None, min_length=1, max_length=200)


class OfflineEmailFrame(_Frame):
    type: Literal["offline_email"]
    id: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")
    email: str = Field(min_length=3, max_length=320)


class HistoryFrame(_Frame):
    type: Literal["history"]
    before: str = Field(min_length=1, max_length=200)


class PingFrame(_Frame):
    type: Literal["ping"]


ClientFrame = Annotated[
    HelloFrame
    | MessageFrame
    | TypingFrame
    | IdentifyFrame
    | OfflineEmailFrame
    | HistoryFrame
    | PingFrame,
    Field(discriminator="type"),
]
_frames: TypeAdapter[ClientFrame] = TypeAdapter(ClientFrame)


class FrameError(ValueError):
    """A frame the server cannot use: ``code`` for the client, ``id`` if it had one."""

    def __init__(self, code: str, message: str, frame_id: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.frame_id = frame_id


def parse_frame(text: str) -> ClientFrame:
    """Parse one client frame; raise :class:`FrameError` (``bad_json`` / ``bad_frame``)."""
    try:
        raw = parse_json(text, field="frame")
    except ValueError:
        raise FrameError("bad_json", "frame is not valid JSON") from None
    if not isinstance(raw, dict):
        raise FrameError("bad_json", "a frame is a JSON object")
    frame_id = raw.get("id") if isinstance(raw.get("id"), str) else None
    try:
        return _frames.validate_python(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "frame"
        raise FrameError("bad_frame", f"{where}: {first['msg']}", frame_id) from None


def frame_id_of(text: str) -> str | None:
    """The ``id`` a client frame carries (to name it in an error), else ``None``."""
    try:
        raw = parse_json(text, field="frame")
    except ValueError:
        return None
    frame_id = raw.get("id") if isinstance(raw, dict) else None
    return frame_id if isinstance(frame_id, str) and len(frame_id) <= 200 else None


def visible(event: Event) -> bool:
    """What a visitor may see: their customer's messages in and out on every channel
    (an email thread continued in chat shows there), never notes or other internals.

    The visitor's customer is theirs by verified evidence only (DESIGN.md "Trust and
    identity"), so everything on it is their own history — except a message filed there
    from an address nobody has proved (``meta.unverified_from``), which only agents see.
    """
    return (
        event.kind is EventKind.MESSAGE
        and event.direction in (Direction.IN, Direction.OUT)
        and not event.meta.get("unverified_from")
    )


def _display_author(event: Event) -> str | None:
    """An agent's name for the visitor; machine authors (``token:…``) stay internal."""
    if event.direction is not Direction.OUT or not event.author or ":" in event.author:
        return None
    return event.author


def _shown_text(event: Event) -> str | None:
    """``meta.notice`` stands in for a message meant for its recipient only (one that
    carries a continuation link to an address, shown as "We sent you a link.")."""
    notice = event.meta.get("notice")
    return notice if isinstance(notice, str) else event.text


def event_frame(event: Event, file_url: Any) -> dict[str, Any]:
    """The visitor's view of ``event``; ``file_url(attachment) -> str`` links files."""
    out: dict[str, Any] = {
        "id": event.id,
        "seq": event.seq,
        "channel": event.channel,
        "direction": event.direction.value,
        "author": _display_author(event),
        "text": _shown_text(event),
        "at": event.occurred_at.isoformat(),
        "attachments": [
            {
                "url": file_url(a),
                "name": a.filename,
                "type": a.content_type,
                "size": a.size,
                "image": a.content_type.startswith("image/"),
            }
            for a in event.attachments
        ],
    }
    if event.direction is Direction.IN and event.external_id and ":" in event.external_id:
        out["client_id"] = event.external_id.split(":", 1)[1]
    survey = event.meta.get("survey_request")
    if event.direction is Direction.OUT and isinstance(survey, dict):
        url = survey.get("url")
        if isinstance(url, str) and url.startswith("/s/"):
            out["survey"] = {"url": url, "kind": survey.get("kind"), "scale": survey.get("scale")}
    return out


def dumps(frame: dict[str, Any]) -> str:
    """A server frame as compact JSON."""
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False)
