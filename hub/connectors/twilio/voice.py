"""The ``voice`` channel: inbound calls, their lifecycle, voicemail, call-me-back.

Connectors cannot update stored events, so a call is a series of ``call``
events, one per step, each keyed ``<CallSid>:<step>`` (replays dedupe, steps
arriving out of order each land once): ``ringing``, ``answered`` (an agent
picked up), ``completed`` (with ``duration`` in seconds), or a miss
(``no-answer``, ``busy``, ``failed``, ``canceled``). The recording is a
``voicemail`` event (``<CallSid>:voicemail``, audio in the blob store) and its
transcript a second ``voicemail`` event (``<CallSid>:transcript``, the text,
``meta.transcript_of`` naming the recording). Every URL Twilio calls back
carries the caller and conversation in its (signed) query string, so each
step lands in the caller's conversation whatever order they arrive in.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from starlette.responses import Response
from twilio.twiml.voice_response import VoiceResponse

from hub.connectors.base import InboundMessage, OutboundMessage, SendResult
from hub.connectors.twilio import twiml as docs
from hub.connectors.twilio.memory import CallerInfo
from hub.connectors.twilio.webhooks import BadForm, Form, twiml
from hub.errors import InvalidIdentity, PermanentError
from hub.timeline.model import DeliveryStatus, Direction, EventKind, Identity

if TYPE_CHECKING:
    from starlette.requests import Request

    from hub.connectors.twilio.connector import TwilioConnector
    from hub.connectors.twilio.settings import TwilioNumber

__all__ = [
    "callback_outcome",
    "dial_outcome",
    "inbound",
    "recording",
    "send",
    "status",
    "transcription",
]

LIVE = ("queued", "ringing", "in-progress")
LOOKUP_SECONDS = 3.0
MISSED = ("no-answer", "busy", "failed", "canceled")
_TEXT = {
    "ringing": "Incoming call",
    "answered": "Call answered",
    "no-answer": "Missed call: nobody answered",
    "busy": "Missed call: line busy",
    "failed": "Call failed",
    "canceled": "Missed call: the caller hung up before anyone answered",
}


def _voice(c: TwilioConnector) -> docs.Voice:
    return docs.Voice(c.config.say_voice, c.config.language)


def _caller(c: TwilioConnector, form: Form, request: Request) -> Identity:
    """The customer on this call: from our signed query, else the form."""
    given = request.query_params.get("caller")
    if given:
        try:
            return Identity.parse(given)
        except InvalidIdentity:
            raise BadForm(422, "caller in the callback URL is not an identity", "caller") from None
    direction = form.get("Direction") or "inbound"
    field = "From" if direction == "inbound" else "To"
    try:
        return c.phone(form.require(field), field)
    except BadForm as exc:
        if exc.status != 422:
            raise
        return Identity("anonymous", f"call-{form.require('CallSid')}")


def _duration(seconds: int | None) -> str:
    if not seconds:
        return ""
    minutes, rest = divmod(seconds, 60)
    return f" after {minutes} min {rest} s" if minutes else f" after {rest} s"


async def _step(
    c: TwilioConnector,
    request: Request,
    *,
    call_sid: str,
    step: str,
    caller: Identity,
    our_number: str,
    kind: EventKind = EventKind.CALL,
    text: str | None = None,
    meta: dict[str, Any] | None = None,
    direction: Direction = Direction.IN,
    attachments: tuple[Any, ...] = (),
) -> str | None:
    """Ingest one step of a call; returns its conversation id."""
    conversation = request.query_params.get("conversation")
    result = await c.ingest(
        InboundMessage(
            channel="voice",
            external_id=f"{call_sid}:{step}",
            identity=caller,
            kind=kind,
            direction=direction,
            text=text if text is not None else _TEXT.get(step, f"Call {step}"),
            attachments=attachments,
            conversation_id=conversation,
            meta={"call_sid": call_sid, "status": step, "to": our_number, **(meta or {})},
        ),
        our_number=our_number,
    )
    return result.event.conversation_id


def _urls(
    c: TwilioConnector, call_sid: str, caller: Identity, conversation: str | None, ours: str
) -> docs.CallUrls:
    ctx = {"caller": str(caller), "conversation": conversation, "ours": ours}
    return docs.CallUrls(
        dial_action=c.url("/voice/dial", **ctx),
        agent_status=c.url("/voice/status", leg="agent", call=call_sid, **ctx),
        recording=c.url("/voice/recording", **ctx),
        transcription=c.url("/voice/transcription", **ctx),
    )


def _ours(c: TwilioConnector, request: Request, form: Form) -> TwilioNumber:
    given = request.query_params.get("ours")
    if given:
        return c.inbox(given)
    direction = form.get("Direction") or "inbound"
    return c.inbox(form.require("To" if direction == "inbound" else "From"))


# -- inbound call ---------------------------------------------------------------
async def inbound(c: TwilioConnector, request: Request, form: Form) -> Response:
    call_sid = form.require("CallSid")
    form.require("From")
    number = c.inbox(form.require("To"))
    call_status = form.require("CallStatus").lower()
    caller = _caller(c, form, request)
    if call_status not in LIVE:
        return twiml(docs.hangup())
    meta: dict[str, Any] = {"direction": "inbound", "inbox": number.label}
    for field, key in (("CallerName", "caller_name"), ("ForwardedFrom", "forwarded_from")):
        value = form.get(field)
        if value:
            meta[key] = value
    try:
        async with asyncio.timeout(LOOKUP_SECONDS):
            info = await c.directory.lookup(caller)
    except Exception:  # a greeting must never cost the caller their call
        c.log.exception("caller lookup failed for call %s", call_sid)
        info = CallerInfo(known=False)
    try:
        conversation = await _step(
            c, request, call_sid=call_sid, step="ringing", caller=caller,
            our_number=number.number, meta=meta,
        )  # fmt: skip
    except Exception:  # the hub is in trouble: still put the caller through
        c.log.exception("could not record call %s; connecting it anyway", call_sid)
        conversation = None
    business = number.business_name or c.config.business_name
    connecting = bool(number.agents or number.queue)
    document = docs.answer_call(
        welcome=docs.greeting(info, business, connecting=connecting),
        agents=number.agents,
        queue=number.queue,
        urls=_urls(c, call_sid, caller, conversation, number.number),
        dial_timeout=c.config.dial_timeout,
        voicemail_seconds=c.config.voicemail_max_seconds,
        voice=_voice(c),
    )
    return twiml(document)


async def status(c: TwilioConnector, request: Request, form: Form) -> Response:
    """Call progress: the number's status callback, an agent leg, or a callback leg."""
    call_sid = form.require("CallSid")
    raw = form.require("CallStatus").lower()
    leg = request.query_params.get("leg")
    parent = request.query_params.get("call") or form.get("ParentCallSid") or call_sid
    number = _ours(c, request, form)
    caller = _caller(c, form, request)
    duration = form.integer("CallDuration") or None
    if leg == "callback":
        if raw in MISSED:
            await c.report(
                "voice",
                call_sid,
                DeliveryStatus.FAILED,
                f"the agent did not take the callback ({raw})",
            )
        elif raw == "completed":
            await _completed(c, request, parent, caller, number, duration, Direction.OUT)
        return twiml(VoiceResponse())
    if leg == "customer":
        if raw == "in-progress":
            await _step(
                c, request, call_sid=parent, step="answered", caller=caller,
                our_number=number.number, text="Customer answered the callback",
                direction=Direction.OUT,
            )  # fmt: skip
        return twiml(VoiceResponse())
    if leg == "agent":
        if raw == "in-progress":
            agent = form.get("To") or form.get("Called")
            await _step(
                c, request, call_sid=parent, step="answered", caller=caller,
                our_number=number.number, text=f"Call answered by {agent}",
                meta={"agent": agent},
            )  # fmt: skip
        elif raw == "completed":
            await _completed(c, request, parent, caller, number, duration, Direction.IN)
        return twiml(VoiceResponse())
    outbound = (form.get("Direction") or "inbound").startswith("outbound")
    way = Direction.OUT if outbound else Direction.IN
    if raw == "completed":
        await _completed(c, request, parent, caller, number, duration, way)
    elif raw in MISSED and outbound:
        await _step(
            c, request, call_sid=parent, step=raw, caller=caller, our_number=number.number,
            text=f"Outbound call not answered ({raw})", direction=Direction.OUT,
        )  # fmt: skip
    elif raw in MISSED:
        await _step(c, request, call_sid=parent, step=raw, caller=caller, our_number=number.number)
    return twiml(VoiceResponse())


async def _completed(
    c: TwilioConnector,
    request: Request,
    call_sid: str,
    caller: Identity,
    number: TwilioNumber,
    duration: int | None,
    direction: Direction,
) -> None:
    await _step(
        c, request, call_sid=call_sid, step="completed", caller=caller, our_number=number.number,
        text=f"Call ended{_duration(duration)}", meta={"duration": duration}, direction=direction,
    )  # fmt: skip


async def dial_outcome(c: TwilioConnector, request: Request, form: Form) -> Response:
    """After ``<Dial>`` / ``<Enqueue>``: done if an agent talked, else voicemail."""
    call_sid = form.require("CallSid")
    number = _ours(c, request, form)
    caller = _caller(c, form, request)
    outcome = (form.get("DialCallStatus") or form.get("QueueResult") or "no-answer").lower()
    if outcome in ("completed", "answered", "bridged", "bridging-in-process"):
        duration = form.integer("DialCallDuration") or None
        await _completed(c, request, call_sid, caller, number, duration, Direction.IN)
        return twiml(docs.hangup())
    caller_gone = (form.get("CallStatus") or "").lower() in ("completed", "canceled")
    step = "canceled" if caller_gone or outcome in ("hangup", "canceled") else outcome
    if step not in MISSED:
        step = "no-answer"
    conversation = await _step(
        c, request, call_sid=call_sid, step=step, caller=caller, our_number=number.number,
        meta={"dial_status": outcome},
    )  # fmt: skip
    if step == "canceled":
        return twiml(docs.hangup())
    conversation = request.query_params.get("conversation") or conversation
    urls = _urls(c, call_sid, caller, conversation, number.number)
    return twiml(docs.voicemail(urls, c.config.voicemail_max_seconds, _voice(c)))


async def recording(c: TwilioConnector, request: Request, form: Form) -> Response:
    """The ``<Record>`` action: store the voicemail (audio fetched into the blob store)."""
    call_sid = form.require("CallSid")
    number = _ours(c, request, form)
    caller = _caller(c, form, request)
    url = form.get("RecordingUrl")
    recording_sid = form.get("RecordingSid")
    seconds = form.integer("RecordingDuration")
    goodbye = docs.goodbye("Thank you. We will get back to you soon. Goodbye.", _voice(c))
    if not url or not recording_sid:
        return twiml(docs.hangup())
    attachments, failures = await c.fetch([(f"{url}.mp3", "audio/mpeg")], prefix=recording_sid)
    meta: dict[str, Any] = {"recording_sid": recording_sid, "duration": seconds}
    if failures:
        meta["media_errors"] = [{"error": f["error"]} for f in failures]
    message = InboundMessage(
        channel="voice",
        external_id=f"{call_sid}:voicemail",
        identity=caller,
        kind=EventKind.VOICEMAIL,
        text=f"Voicemail ({seconds} s)",
        attachments=tuple(attachments),
        conversation_id=request.query_params.get("conversation"),
        meta={"call_sid": call_sid, "to": number.number, **meta},
    )
    result = await c.ingest(message, our_number=number.number)
    if failures:  # a replay too: its first delivery may have died before queuing the retry
        await c.retry_later(message, failures, result.event.conversation_id)
    return twiml(goodbye)


async def transcription(c: TwilioConnector, request: Request, form: Form) -> Response:
    """The voicemail's transcript, as its own event next to the recording."""
    call_sid = form.require("CallSid")
    state = form.require("TranscriptionStatus").lower()
    number = _ours(c, request, form)
    caller = _caller(c, form, request)
    text = form.get("TranscriptionText") if state == "completed" else None
    await _step(
        c, request, call_sid=call_sid, step="transcript", caller=caller,
        our_number=number.number, kind=EventKind.VOICEMAIL,
        text=text or "Voicemail transcription failed",
        meta={
            "transcript_of": form.get("RecordingSid"),
            "transcription_sid": form.get("TranscriptionSid"),
            "transcription_status": state,
        },
    )  # fmt: skip
    return twiml(VoiceResponse())


# -- call me back ---------------------------------------------------------------
async def send(c: TwilioConnector, message: OutboundMessage) -> SendResult:
    """Place a "call me back": ring the agent, whisper who and why, then dial the customer."""
    if message.to.kind != "phone":
        raise PermanentError(f"cannot call {message.to}: not a phone number")
    customer = message.to.value
    ours = await c.our_number_for(customer, message.meta.get("from"))
    agent = message.meta.get("agent") or c.config.callback_agent
    if not agent and ours.agents:
        agent = ours.agents[0]
    if not isinstance(agent, str) or not agent:
        raise PermanentError("no agent to place the callback from: set callback_agent")
    whisper = f"Callback to {' '.join(customer.removeprefix('+'))}. {message.text or ''}".strip()
    ctx: dict[str, str | None] = {
        "caller": str(message.to),
        "conversation": message.conversation_id,
        "ours": ours.number,
    }
    document = docs.callback_call(
        whisper=whisper,
        customer=customer,
        caller_id=ours.number,
        dial_action=c.url("/voice/callback", **ctx),
        customer_status=c.url("/voice/status", leg="customer", **ctx),
        dial_timeout=c.config.dial_timeout,
        voice=_voice(c),
    )
    sid = await c.rest.create_call(
        to=agent,
        from_=ours.number,
        twiml=str(document),
        status_callback=c.url("/voice/status", leg="callback", **ctx),
        status_callback_event=["initiated", "ringing", "answered", "completed"],
        timeout=c.config.dial_timeout,
    )
    return SendResult(provider_id=sid, status=DeliveryStatus.SENT)


async def callback_outcome(c: TwilioConnector, request: Request, form: Form) -> Response:
    """The customer leg of a callback ended: delivered if they talked, else failed."""
    call_sid = form.require("CallSid")
    number = _ours(c, request, form)
    caller = _caller(c, form, request)
    outcome = (form.get("DialCallStatus") or "no-answer").lower()
    if outcome in ("completed", "answered"):
        await c.report("voice", call_sid, DeliveryStatus.DELIVERED)
        duration = form.integer("DialCallDuration") or None
        await _completed(c, request, call_sid, caller, number, duration, Direction.OUT)
        return twiml(docs.hangup())
    await c.report(
        "voice", call_sid, DeliveryStatus.FAILED, f"the customer did not answer ({outcome})"
    )
    step = outcome if outcome in MISSED else "no-answer"
    await _step(
        c, request, call_sid=call_sid, step=step, caller=caller, our_number=number.number,
        text=f"Callback not answered ({outcome})", direction=Direction.OUT,
    )  # fmt: skip
    return twiml(docs.goodbye("The customer did not answer. Goodbye.", _voice(c)))
