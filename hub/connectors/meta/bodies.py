"""Request bodies for the Send API and WhatsApp's ``/messages`` (pure functions).

Outside the 24 h window a Messenger/Instagram reply carries ``meta["tag"]``
(``"default"`` is the configured human-agent tag) and is sent as
``MESSAGE_TAG``; a WhatsApp reply carries ``meta["template"]`` and is sent as
that template. ``meta["choices"]`` (``[{"id", "title"}]``, e.g. a survey's scores)
becomes quick replies on Messenger/Instagram (at most 13) and an interactive list on
WhatsApp (at most 10 rows, ``meta["choices_button"]`` its button); the customer's pick
comes back as ``meta.quick_reply`` / ``meta.reply_id``. A reply the provider can never take raises
:class:`~hub.errors.PermanentError` with a reason the agent can act on.
"""

from __future__ import annotations

from typing import Any

from hub.connectors.base import OutboundMessage
from hub.connectors.meta.messaging import OWN_METADATA
from hub.connectors.meta.whatsapp import wa_recipient
from hub.errors import PermanentError

__all__ = ["messaging_body", "tag_ok", "template", "whatsapp_body"]


def tag_ok(tag: str) -> bool:
    """True for a well-formed message tag (``HUMAN_AGENT``, ``ACCOUNT_UPDATE``…)."""
    return 2 <= len(tag) <= 64 and tag.replace("_", "").isalpha() and tag.isupper()


def messaging_body(message: OutboundMessage, *, default_tag: str) -> dict[str, Any]:
    """The Send API body for a Messenger or Instagram reply."""
    if not message.text:
        raise PermanentError(f"{message.channel} replies need text")
    body: dict[str, Any] = {
        "recipient": {"id": message.to.value},
        "messaging_type": "RESPONSE",
        "message": {"text": message.text},
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
