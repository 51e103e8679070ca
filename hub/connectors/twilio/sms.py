"""The ``sms`` channel: inbound SMS/MMS, consent keywords, sending, delivery status.

Consent follows the carriers' keywords (as Twilio's default opt-out handling
does): a text that is just STOP (or STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT,
OPTOUT, REVOKE) opts the number out of every SMS from this hub; START (YES,
UNSTOP) opts it back in; HELP (INFO) is answered with ``help_reply`` when set.
Twilio's ``OptOutType`` field, when present, wins. Each change of consent is a
``status`` event on the customer's timeline; a send to an opted-out number
fails permanently, naming why.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.responses import Response
from twilio.twiml.messaging_response import MessagingResponse

from hub.connectors.base import InboundMessage, OutboundMessage, SendResult
from hub.connectors.twilio.client import OPTED_OUT, delivery_error
from hub.connectors.twilio.segments import sms_segments
from hub.connectors.twilio.webhooks import BadForm, Form, twiml
from hub.errors import PermanentError
from hub.timeline.content import Content, Location, Reply
from hub.timeline.model import DeliveryStatus, EventKind, Identity

if TYPE_CHECKING:
    from starlette.requests import Request

    from hub.connectors.twilio.connector import TwilioConnector

__all__ = ["channel_of", "consent_keyword", "inbound", "send", "status"]

MAX_MEDIA = 10
WA_PREFIX = "whatsapp:"
_KEYWORDS = {
    **dict.fromkeys(
        ("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"), "stop"
    ),
    **dict.fromkeys(("START", "YES", "UNSTOP"), "start"),
    **dict.fromkeys(("HELP", "INFO"), "help"),
}
_STATUS = {
    "sent": DeliveryStatus.SENT,
    "delivered": DeliveryStatus.DELIVERED,
    "partially_delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.READ,
    "failed": DeliveryStatus.FAILED,
    "undelivered": DeliveryStatus.FAILED,
    "canceled": DeliveryStatus.FAILED,
}


def consent_keyword(body: str, opt_out_type: str | None = None) -> str | None:
    """``"stop"``, ``"start"``, ``"help"`` or ``None`` for a text."""
    if opt_out_type:
        return _KEYWORDS.get(opt_out_type.strip().upper())
    word = body.strip().strip(".!").upper()
    return _KEYWORDS.get(word)


def channel_of(address: str | None) -> tuple[str, str]:
    """``("whatsapp", "+1…")`` for ``whatsapp:+1…`` addresses, else ``("sms", address)``."""
    value = address or ""
    if value.lower().startswith(WA_PREFIX):
        return "whatsapp", value[len(WA_PREFIX) :]
    return "sms", value


async def inbound(c: TwilioConnector, request: Request, form: Form) -> Response:
    sid = form.require("MessageSid")
    channel, sender = channel_of(form.require("From"))
    number = c.inbox(channel_of(form.require("To"))[1])
    if channel == "whatsapp" and not number.whatsapp:
        raise BadForm(404, f"{number.number} is not configured as a WhatsApp sender", "To")
    identity = _sender(c, sender) if channel == "sms" else c.phone(sender, "From")
    body = form.get("Body") or ""
    count = form.integer("NumMedia")
    if not 0 <= count <= MAX_MEDIA:
        raise BadForm(422, f"NumMedia must be 0 to {MAX_MEDIA}", "NumMedia")
    media = [
        (form.require(f"MediaUrl{i}"), form.get(f"MediaContentType{i}") or "") for i in range(count)
    ]
    sms_consent = channel == "sms" and identity.kind == "phone"
    keyword = consent_keyword(body, form.get("OptOutType")) if sms_consent else None

    attachments, failures = await c.fetch(media, prefix=sid)
    meta: dict[str, Any] = {"to": number.number, "inbox": number.label, "message_sid": sid}
    meta.update(sms_segments(body).as_meta())
    if form.get("NumSegments"):
        meta["segments"] = form.integer("NumSegments")
    if keyword:
        meta["keyword"] = keyword
    if failures:
        meta["media_errors"] = [
            {"content_type": f["content_type"], "error": f["error"]} for f in failures
        ]
    content = _whatsapp_content(form) if channel == "whatsapp" else None
    profile = form.get("ProfileName") if channel == "whatsapp" else None
    message = InboundMessage(
        channel=channel,
        external_id=sid,
        identity=identity,
        text=body or None,
        customer_name=profile.strip()[:200] or None if profile else None,
        attachments=tuple(attachments),
        meta=meta,
        content=content,
    )
    result = await c.ingest(message, our_number=number.number)
    if failures:  # a replay too: its first delivery may have died before queuing the retry
        await c.retry_later(message, failures, result.event.conversation_id)
    if keyword in ("stop", "start"):
        await _consent(c, sid, keyword, identity.value, number.number, result)

    answer = MessagingResponse()
    if keyword == "help" and c.config.help_reply:
        answer.message(c.config.help_reply)
    return twiml(answer)


def _sender(c: TwilioConnector, sender: str) -> Identity:
    """A phone number, else (when ``other_senders = "store"``) a short code or an
    alphanumeric sender id as an identity of its own; 422 naming ``From`` otherwise."""
    try:
        return c.phone(sender, "From")
    except BadForm:
        if c.config.other_senders != "store":
            raise
        value = sender.strip()
        if value.isdigit() and 3 <= len(value) <= 8:
            return Identity("shortcode", value)
        if 1 <= len(value) <= 11 and value.replace(" ", "").replace("-", "").isalnum():
            return Identity("sender", value)
        raise


def _whatsapp_content(form: Form) -> Content | None:
    """A shared location or a button reply on Twilio's WhatsApp webhook."""
    latitude, longitude = form.get("Latitude"), form.get("Longitude")
    if latitude and longitude:
        try:
            return Location(
                float(latitude),
                float(longitude),
                name=form.get("Label") or None,
                address=form.get("Address") or None,
            )
        except ValueError:
            raise BadForm(422, "Latitude and Longitude must be numbers", "Latitude") from None
    if form.get("ButtonPayload") or form.get("ButtonText"):
        return Reply(
            "button", title=form.get("ButtonText") or None, payload=form.get("ButtonPayload")
        )
    return None


async def _consent(
    c: TwilioConnector, sid: str, keyword: str, customer: str, ours: str, result: Any
) -> None:
    """Apply STOP / START once: a replay of an old keyword never overrides a newer one."""
    opted_out = keyword == "stop"
    current = await c.memory.opt_out(customer)
    stale = current is not None and current.at > result.event.received_at
    if result.created or not stale:
        await c.memory.set_opt_out(customer, opted_out=opted_out, keyword=keyword, our_number=ours)
    text = (
        f"{customer} opted out of SMS (texted {keyword.upper()}); "
        "no SMS can be sent until they text START"
        if opted_out
        else f"{customer} opted back in to SMS (texted {keyword.upper()})"
    )
    await c.context.ingest(
        InboundMessage(
            channel="sms",
            external_id=f"{sid}:consent",
            identity=result.event.identity,
            kind=EventKind.STATUS,
            text=text,
            conversation_id=result.event.conversation_id,
            meta={"sms_opt_out": opted_out, "keyword": keyword, "number": ours},
        )
    )


async def status(c: TwilioConnector, request: Request, form: Form) -> Response:
    sid = form.require("MessageSid")
    raw = form.require("MessageStatus").lower()
    mapped = _STATUS.get(raw)
    if mapped is not None:
        error = None
        if mapped is DeliveryStatus.FAILED:
            error = delivery_error(form.get("ErrorCode"), f"message {raw}")
        channel = (
            "whatsapp"
            if "whatsapp" in (channel_of(form.get("To"))[0], channel_of(form.get("From"))[0])
            else "sms"
        )
        await c.report(channel, sid, mapped, error)
    return Response(status_code=204)


async def send(c: TwilioConnector, message: OutboundMessage) -> SendResult:
    """Send one SMS, or one WhatsApp message through Twilio (``whatsapp:`` addresses);
    long texts go as one body (Twilio and the carriers concatenate)."""
    to = message.to.value
    whatsapp = message.channel == "whatsapp"
    consent = None if whatsapp else await c.memory.opt_out(to)
    if consent is not None and consent.opted_out:
        raise PermanentError(
            f"{to} opted out of SMS on {consent.at:%Y-%m-%d %H:%M} UTC "
            f"(texted {consent.keyword.upper()}); they must text START before we can text them"
        )
    if not message.text:
        raise PermanentError("a WhatsApp message needs text" if whatsapp else "an SMS needs text")
    ours = await c.our_number_for(to, message.meta.get("from"))
    if whatsapp and not ours.whatsapp:
        ours = next(n for n in c.config.numbers if n.whatsapp)
    prefix = WA_PREFIX if whatsapp else ""
    kwargs: dict[str, Any] = {
        "to": prefix + to,
        "body": message.text,
        "status_callback": c.url("/sms/status"),
    }
    if c.config.messaging_service_sid and not whatsapp:
        kwargs["messaging_service_sid"] = c.config.messaging_service_sid
    else:
        kwargs["from_"] = prefix + ours.number
    try:
        sid = await c.rest.send_message(**kwargs)
    except PermanentError as exc:
        if exc.reason.startswith(f"Twilio error {OPTED_OUT}"):
            await c.memory.set_opt_out(to, opted_out=True, keyword="stop", our_number=ours.number)
        raise
    return SendResult(provider_id=sid, status=DeliveryStatus.SENT)
