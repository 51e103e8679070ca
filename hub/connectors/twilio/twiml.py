"""TwiML documents the voice channel answers with, built with the SDK's ``VoiceResponse``.

Pure functions: given what is known about the call, the document. Every
answer is a complete ``<Response>``, so Twilio always gets valid XML — an
unexpected call state gets a polite ``<Hangup/>``.
"""

from __future__ import annotations

from dataclasses import dataclass

from twilio.twiml.voice_response import Dial, Gather, VoiceResponse

from hub.connectors.twilio.memory import CallerInfo

__all__ = [
    "CallUrls",
    "Voice",
    "answer_call",
    "callback_call",
    "goodbye",
    "greeting",
    "hangup",
    "menu",
    "voicemail",
]

AGENT_LEG_EVENTS = "initiated ringing answered completed"


@dataclass(frozen=True, slots=True)
class Voice:
    """How ``<Say>`` speaks."""

    voice: str | None = None
    language: str | None = None


@dataclass(frozen=True, slots=True)
class CallUrls:
    """Where Twilio reports back during one call (each carries the call's context)."""

    dial_action: str
    agent_status: str
    recording: str
    transcription: str


def _say(response: VoiceResponse | Dial | Gather, text: str, voice: Voice) -> None:
    if text:
        response.say(text, voice=voice.voice, language=voice.language)


def menu(*, say: str, options: dict[str, str], action: str, voice: Voice) -> VoiceResponse:
    """Say ``say`` and the options (key → label), then ``0`` for an agent, and gather
    one key for ``action``; silence goes to ``action`` as ``0``."""
    response = VoiceResponse()
    gather = Gather(num_digits=1, action=action, method="POST", timeout=6)
    spoken = " ".join(f"For {label}, press {key}." for key, label in sorted(options.items()))
    _say(gather, f"{say} {spoken} To speak to someone, press 0.".strip(), voice)
    response.append(gather)
    response.redirect(action + ("&" if "?" in action else "?") + "Digits=0", method="POST")
    return response


def greeting(caller: CallerInfo, business: str, *, connecting: bool) -> str:
    """What a caller hears first: the handoff context, else their name, else a welcome."""
    tail = " Connecting you now." if connecting else ""
    if caller.context:
        if not connecting or "Connecting you" in caller.context:
            return caller.context[:160]
        return caller.context[: 160 - len(tail)] + tail
    if caller.name:
        return f"Hi {caller.name}, thanks for calling {business}.{tail}"
    if caller.known:
        return f"Welcome back to {business}.{tail}"
    return f"Thanks for calling {business}.{tail}"


def answer_call(
    *,
    welcome: str,
    agents: tuple[str, ...],
    queue: str | None,
    urls: CallUrls,
    dial_timeout: int,
    voicemail_seconds: int,
    voice: Voice,
) -> VoiceResponse:
    """Greet, then ring the agents together (or queue the caller); the Dial / Enqueue
    action continues with voicemail when nobody answers. No agents and no queue:
    straight to voicemail."""
    response = VoiceResponse()
    _say(response, welcome, voice)
    if agents:
        dial = Dial(action=urls.dial_action, method="POST", timeout=dial_timeout)
        for agent in agents:
            if agent.startswith("client:"):
                dial.client(
                    agent.removeprefix("client:"),
                    status_callback=urls.agent_status,
                    status_callback_event=AGENT_LEG_EVENTS,
                )
            else:
                dial.number(
                    agent,
                    status_callback=urls.agent_status,
                    status_callback_event=AGENT_LEG_EVENTS,
                )
        response.append(dial)
    elif queue:
        response.enqueue(queue, action=urls.dial_action, method="POST")
    else:
        _record(response, urls, voicemail_seconds, voice)
    return response


def voicemail(urls: CallUrls, voicemail_seconds: int, voice: Voice) -> VoiceResponse:
    """Nobody answered: apologise and record a message with transcription."""
    response = VoiceResponse()
    _record(response, urls, voicemail_seconds, voice)
    return response


def _record(response: VoiceResponse, urls: CallUrls, seconds: int, voice: Voice) -> None:
    _say(
        response,
        "Sorry, nobody can take your call right now. "
        "Please leave a message after the tone and we will get back to you.",
        voice,
    )
    response.record(
        action=urls.recording,
        method="POST",
        max_length=seconds,
        timeout=5,
        play_beep=True,
        trim="trim-silence",
        transcribe=True,
        transcribe_callback=urls.transcription,
    )
    _say(response, "We did not get a message. Goodbye.", voice)
    response.hangup()


def goodbye(text: str, voice: Voice) -> VoiceResponse:
    response = VoiceResponse()
    _say(response, text, voice)
    response.hangup()
    return response


def hangup() -> VoiceResponse:
    response = VoiceResponse()
    response.hangup()
    return response


def callback_call(
    *,
    whisper: str,
    customer: str,
    caller_id: str,
    dial_action: str,
    customer_status: str,
    dial_timeout: int,
    voice: Voice,
) -> VoiceResponse:
    """The agent's leg of a "call me back": tell them who and why, then dial the customer."""
    response = VoiceResponse()
    _say(response, whisper, voice)
    dial = Dial(action=dial_action, method="POST", timeout=dial_timeout, caller_id=caller_id)
    dial.number(customer, status_callback=customer_status, status_callback_event=AGENT_LEG_EVENTS)
    response.append(dial)
    return response
