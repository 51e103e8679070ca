"""Request bodies for the Send API and WhatsApp's ``/messages`` (pure functions).

Outside the 24 h window a Messenger/Instagram reply carries ``meta["tag"]``
(``"default"`` is the configured human-agent tag) and is sent as
``MESSAGE_TAG``; a WhatsApp reply carries ``meta["template"]`` and is sent as
that template. ``meta["choices"]`` (``[{"id", "title"}]``, e.g. a survey's scores)
becomes quick replies on Messenger/Instagram (at most 13) and an interactive list on
WhatsApp (at most 10 rows, ``meta["choices_button"]`` its button); the customer's pick
comes back as the message's typed ``Reply`` content (its ``payload`` is the id). A
reply the provider can never take raises :class:`~hub.errors.PermanentError` with a
reason the agent can act on.
"""

from __future__ import annotations

from typing import Any

from hub.connectors.base import OutboundMessage
from hub.connectors.meta.messaging import OWN_METADATA
from hub.connectors.meta.whatsapp import wa_recipient
from hub.errors import PermanentError
from hub.timeline.model import Attachment

__all__ = [
    "MESSENGER_LIMIT",
    "WHATSAPP_LIMIT",
    "messaging_attachment",
    "messaging_body",
    "tag_ok",
    "template",
    "whatsapp_body",
    "whatsapp_caption",
    "whatsapp_media",
]

MESSENGER_LIMIT = 25 * 1024 * 1024
"""The Send API's limit on an uploaded attachment."""
WHATSAPP_LIMIT = 16 * 1024 * 1024
"""WhatsApp's limit on audio and video (images 5 MB, documents 100 MB)."""
WHATSAPP_IMAGE_LIMIT = 5 * 1024 * 1024
WHATSAPP_IMAGES = ("image/jpeg", "image/png")
WHATSAPP_VIDEOS = ("video/mp4", "video/3gpp")
CAPTION_LIMIT = 1024


def tag_ok(tag: str) -> bool:
    """True for a well-formed message tag (``HUMAN_AGENT``, ``ACCOUNT_UPDATE``…)."""
    return 2 <= len(tag) <= 64 and tag.replace("_", "").isalpha() and tag.isupper()


def messaging_body(message: OutboundMessage, *, default_tag: str) -> dict[str, Any]:
    """The Send API body for a Messenger or Instagram reply."""
    if not message.text:
        raise PermanentError(f"{message.channel} replies need text")
    return _envelope(message, {"text": message.text}, default_tag)


def _envelope(
    message: OutboundMessage, content: dict[str, Any], default_tag: str
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "recipient": {"id": message.to.value},
        "messaging_type": "RESPONSE",
        "message": content,
    }
    tag = message.meta.get("tag")
    if tag:
        tag = default_tag if tag in ("default", True) else str(tag)
        if not tag_ok(tag):
            raise PermanentError(f"{tag!r} is not a message tag (e.g. HUMAN_AGENT)")
        body["messaging_type"] = "MESSAGE_TAG"
        body["tag"] = tag
    choices = _choices(message)
    if choices:
        body["message"]["quick_replies"] = [
            {"content_type": "text", "title": c["title"][:20], "payload": c["id"][:1000]}
            for c in choices[:13]
        ]
    if message.channel == "messenger":
        # Echoed back to the webhook: how the connector knows its own replies.
        body["message"]["metadata"] = OWN_METADATA + message.event_id
    return body


def _choices(message: OutboundMessage) -> list[dict[str, str]]:
    raw = message.meta.get("choices")
    if not isinstance(raw, list):
        return []
    return [
        {"id": str(c["id"]), "title": str(c["title"])}
        for c in raw
        if isinstance(c, dict) and c.get("id") and c.get("title")
    ]


def whatsapp_body(message: OutboundMessage, *, default_language: str) -> dict[str, Any]:
    """The ``/{phone-number-id}/messages`` body for a WhatsApp reply."""
    body: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": wa_recipient(message.to),
    }
    spec = message.meta.get("template")
    if spec:
        body["type"] = "template"
        body["template"] = template(spec, default_language=default_language)
    elif message.text and _choices(message):
        button = str(message.meta.get("choices_button") or "Choose")
        rows = [{"id": c["id"][:200], "title": c["title"][:24]} for c in _choices(message)[:10]]
        body["type"] = "interactive"
        body["interactive"] = {
            "type": "list",
            "body": {"text": message.text[:1024]},
            "action": {"button": button[:20], "sections": [{"title": button[:24], "rows": rows}]},
        }
    elif message.text:
        body["type"] = "text"
        body["text"] = {"body": message.text, "preview_url": False}
    else:
        raise PermanentError("whatsapp replies need text or a template")
    return body


def template(spec: Any, *, default_language: str) -> dict[str, Any]:
    """A WhatsApp ``template`` object from a reply's ``template`` meta.

    ``spec`` is a name, or ``{"name", "language"?, "components"?}`` with
    ``"parameters": [..]`` as a shorthand for one body component of text
    parameters.
    """
    if isinstance(spec, str):
        spec = {"name": spec}
    name = spec.get("name") if isinstance(spec, dict) else None
    if not isinstance(name, str) or not name:
        raise PermanentError("a WhatsApp template needs a name")
    language = spec.get("language") or default_language
    built: dict[str, Any] = {
        "name": name,
        "language": {"code": language} if isinstance(language, str) else language,
    }
    parameters = spec.get("parameters")
    if spec.get("components") is not None:
        built["components"] = spec["components"]
    elif isinstance(parameters, list) and parameters:
        built["components"] = [
            {"type": "body", "parameters": [{"type": "text", "text": str(p)} for p in parameters]}
        ]
    return built


def _messaging_type(content_type: str) -> str:
    for prefix, kind in (("image/", "image"), ("video/", "video"), ("audio/", "audio")):
        if content_type.startswith(prefix):
            return kind
    return "file"


def messaging_attachment(
    message: OutboundMessage, attachment: Attachment, default_tag: str
) -> dict[str, Any]:
    """The Send API form fields for one uploaded attachment (the file goes as ``filedata``)."""
    kind = _messaging_type(attachment.content_type)
    return _envelope(message, {"attachment": {"type": kind, "payload": {}}}, default_tag)


def _whatsapp_kind(attachment: Attachment) -> str:
    kind = attachment.content_type.split(";")[0].strip().lower()
    if kind in WHATSAPP_IMAGES and attachment.size <= WHATSAPP_IMAGE_LIMIT:
        return "image"
    if kind in WHATSAPP_VIDEOS:
        return "video"
    if kind.startswith("audio/"):
        return "audio"
    return "document"


def whatsapp_caption(message: OutboundMessage) -> str | None:
    """The reply's text as the first attachment's caption, when it can be one."""
    if not message.attachments or not message.text or len(message.text) > CAPTION_LIMIT:
        return None
    if message.meta.get("template") or _whatsapp_kind(message.attachments[0]) == "audio":
        return None
    return message.text


def whatsapp_media(
    message: OutboundMessage, attachment: Attachment, media_id: str, caption: str | None
) -> dict[str, Any]:
    """The ``/messages`` body sending uploaded media ``media_id``."""
    kind = _whatsapp_kind(attachment)
    media: dict[str, Any] = {"id": media_id}
    if caption:
        media["caption"] = caption
    if kind == "document":
        media["filename"] = attachment.filename
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": wa_recipient(message.to),
        "type": kind,
        kind: media,
    }
