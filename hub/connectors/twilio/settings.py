"""``[connectors.twilio]``: the account, the numbers it answers, how calls are routed."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from hub.connectors.base import ConnectorSettings
from hub.errors import InvalidIdentity
from hub.timeline.model import normalise_identity

__all__ = ["TwilioNumber", "TwilioSettings"]


def _e164(value: str) -> str:
    try:
        return normalise_identity("phone", value).value
    except InvalidIdentity as exc:
        raise ValueError(f"{value!r} is not a phone number in E.164 form: {exc.reason}") from None


class TwilioNumber(BaseModel):
    """One Twilio number: the inbox it feeds and who answers its calls.

    ``agents`` are rung together when a call comes in (E.164 numbers, or
    ``client:<identity>`` for Twilio Voice SDK clients); if nobody answers
    within ``dial_timeout`` the caller is offered voicemail. With ``queue``
    instead, callers wait in that Twilio queue (agents take them with
    ``<Dial><Queue>``) and leaving the queue unanswered also goes to voicemail.
    Without either, calls go straight to voicemail.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    number: str
    inbox: str | None = Field(None, max_length=100)
    agents: tuple[str, ...] = ()
    queue: str | None = Field(None, min_length=1, max_length=64)
    business_name: str | None = Field(None, max_length=100)
    whatsapp: bool = Field(
        False,
        description="this number is also a WhatsApp sender on Twilio (`whatsapp:+…`): its "
        "WhatsApp messages are the `whatsapp` channel and answered through Twilio",
    )

    @field_validator("number")
    @classmethod
    def _number(cls, value: str) -> str:
        return _e164(value)

    @field_validator("agents")
    @classmethod
    def _agents(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(a if a.startswith("client:") else _e164(a) for a in value)

    @property
    def label(self) -> str:
        return self.inbox or self.number


class TwilioSettings(ConnectorSettings):
    """Settings of the Twilio connector (channels ``sms`` and ``voice``).

    Point every number's messaging webhook at ``<public_url>/connectors/twilio/sms``,
    its voice webhook at ``…/voice`` and its call status callback at
    ``…/voice/status``. ``api_base_url`` sends REST calls elsewhere than
    ``https://api.twilio.com`` (tests use a local double).
    """

    account_sid: str = Field(pattern=r"^AC[0-9a-fA-F]{32}$")
    auth_token: SecretStr = Field(min_length=8)
    numbers: tuple[TwilioNumber, ...] = Field(min_length=1)
    messaging_service_sid: str | None = Field(None, pattern=r"^MG[0-9a-fA-F]{32}$")
    business_name: str = Field("us", max_length=100)
    say_voice: str | None = None
    language: str = "en-US"
    dial_timeout: int = Field(20, ge=5, le=600)
    voicemail_max_seconds: int = Field(120, ge=5, le=3600)
    callback_agent: str | None = None
    """Who is rung first for a "call me back" (default: the number's first agent)."""
    help_reply: str | None = Field(None, max_length=1600)
    """Answer to a HELP text (leave unset when Twilio's Advanced Opt-Out answers it)."""
    media_max_bytes: int = Field(5 * 1024 * 1024, gt=0)
    fetch_timeout: float = Field(5.0, gt=0)
    retry_delays: tuple[float, ...] = (10.0, 60.0, 300.0, 1800.0, 7200.0)
    """Seconds between background retries of a media or recording download that failed."""
    request_timeout: float = Field(10.0, gt=0)
    api_base_url: str | None = None
    other_senders: Literal["store", "refuse"] = Field(
        "store",
        description="texts from short codes and alphanumeric sender ids: `store` them "
        "(identity `shortcode:<code>` or `sender:<name>`, which cannot be answered), or "
        "`refuse` them with a 422",
    )

    @field_validator("callback_agent")
    @classmethod
    def _callback_agent(cls, value: str | None) -> str | None:
        if value is None or value.startswith("client:"):
            return value
        return _e164(value)

    @model_validator(mode="after")
    def _unique_numbers(self) -> TwilioSettings:
        seen = [n.number for n in self.numbers]
        if len(seen) != len(set(seen)):
            raise ValueError("numbers: each number may be listed once")
        return self

    @property
    def whatsapp(self) -> bool:
        """True when one of the numbers is a WhatsApp sender."""
        return any(n.whatsapp for n in self.numbers)

    def number(self, e164: str) -> TwilioNumber | None:
        """The configured number ``e164``, or ``None``."""
        return next((n for n in self.numbers if n.number == e164), None)
