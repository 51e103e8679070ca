"""Twilio connector, the parts without a hub: signatures, segments, keywords, TwiML, errors."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator

from hub.connectors.twilio import CallerInfo, TwilioSettings, sms_segments
from hub.connectors.twilio import twiml as docs
from hub.connectors.twilio.client import delivery_error, translate
from hub.connectors.twilio.sms import consent_keyword
from hub.errors import PermanentError, TransientError
from tests.connectors.twilio_kit import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    OUR_NUMBER,
    parse_twiml,
    sign,
    verbs,
)

URLS = docs.CallUrls(
    dial_action="https://hub.example.com/connectors/twilio/voice/dial?caller=phone%3A%2B1",
    agent_status="https://hub.example.com/connectors/twilio/voice/status?leg=agent",
    recording="https://hub.example.com/connectors/twilio/voice/recording",
    transcription="https://hub.example.com/connectors/twilio/voice/transcription",
)
VOICE = docs.Voice(voice="Polly.Joanna", language="en-US")


# -- signatures ------------------------------------------------------------------
def test_reference_test_vector_validates() -> None:
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+12349013030",
        "Digits": "1234",
        "From": "+12349013030",
        "To": "+18005551212",
    }
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    expected = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    assert RequestValidator("12345").validate(url, params, expected)
    assert sign(url, params, "12345") == expected
    assert not RequestValidator("12345").validate(url, {**params, "Digits": "1235"}, expected)


# -- segments ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "encoding", "segments"),
    [
        ("", "GSM-7", 0),
        ("a" * 160, "GSM-7", 1),
        ("a" * 161, "GSM-7", 2),
        ("a" * 306, "GSM-7", 2),
        ("a" * 307, "GSM-7", 3),
        ("€" * 80, "GSM-7", 1),  # extension characters take two septets
        ("€" * 81, "GSM-7", 2),
        ("a" * 152 + "€" + "a" * 10, "GSM-7", 2),  # the escape pair is not split
        ("a" * 152 + "€" + "a" * 152, "GSM-7", 3),
        ("ç" * 70, "UCS-2", 1),  # ç is not GSM-7 (only Ç is)
        ("ç" * 71, "UCS-2", 2),
        ("Hi 😀" + "a" * 66, "UCS-2", 2),  # an emoji is two UTF-16 units
        ("a" * 66 + "😀" + "a" * 67, "UCS-2", 3),  # a surrogate pair never splits
    ],
)
def test_segment_count_follows_gsm7_and_ucs2_rules(text: str, encoding: str, segments: int) -> None:
    info = sms_segments(text)
    assert (info.encoding, info.segments) == (encoding, segments)


# -- keywords ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "opt_out_type", "keyword"),
    [
        ("STOP", None, "stop"),
        (" stop. ", None, "stop"),
        ("Unsubscribe", None, "stop"),
        ("start", None, "start"),
        ("HELP", None, "help"),
        ("please stop texting me", None, None),
        ("Arrêt", "STOP", "stop"),  # Twilio's Advanced Opt-Out recognised it
        ("hello", None, None),
    ],
)
def test_consent_keywords(body: str, opt_out_type: str | None, keyword: str | None) -> None:
    assert consent_keyword(body, opt_out_type) == keyword


# -- TwiML ------------------------------------------------------------------------------
def test_known_caller_is_greeted_by_name_then_agents_are_rung() -> None:
    welcome = docs.greeting(CallerInfo(known=True, name="Ana"), "Acme", connecting=True)
    root = parse_twiml(
        str(
            docs.answer_call(
                welcome=welcome,
                agents=("+15005550100", "client:sam"),
                queue=None,
                urls=URLS,
                dial_timeout=20,
                voicemail_seconds=120,
                voice=VOICE,
            )
        )
    )
    assert verbs(root) == ["Say", "Dial"]
    say, dial = root
    assert say.text == "Hi Ana, thanks for calling Acme. Connecting you now."
    assert say.get("voice") == "Polly.Joanna"
    assert dial.get("action") == URLS.dial_action and dial.get("timeout") == "20"
    assert [(c.tag, c.text) for c in dial] == [("Number", "+15005550100"), ("Client", "sam")]
    assert all(c.get("statusCallback") == URLS.agent_status for c in dial)


def test_handoff_context_wins_over_the_name() -> None:
    info = CallerInfo(known=True, name="Ana", context="Hi Ana, I see you texted about a refund.")
    assert docs.greeting(info, "Acme", connecting=False) == info.context


def test_unknown_caller_gets_a_plain_welcome_and_can_be_queued() -> None:
    welcome = docs.greeting(CallerInfo(known=False), "Acme", connecting=True)
    root = parse_twiml(
        str(
            docs.answer_call(
                welcome=welcome,
                agents=(),
                queue="support",
                urls=URLS,
                dial_timeout=20,
                voicemail_seconds=120,
                voice=VOICE,
            )
        )
    )
    assert verbs(root) == ["Say", "Enqueue"]
    assert root[0].text == "Thanks for calling Acme. Connecting you now."
    assert root[1].text == "support" and root[1].get("action") == URLS.dial_action


def test_no_answer_leads_to_a_transcribed_voicemail() -> None:
    root = parse_twiml(str(docs.voicemail(URLS, 90, VOICE)))
    assert verbs(root) == ["Say", "Record", "Say", "Hangup"]
    record = root[1]
    assert record.get("action") == URLS.recording
    assert record.get("maxLength") == "90"
    assert record.get("transcribe") == "true"
    assert record.get("transcribeCallback") == URLS.transcription
    assert record.get("playBeep") == "true"


def test_callback_whispers_to_the_agent_then_dials_the_customer() -> None:
    root = parse_twiml(
        str(
            docs.callback_call(
                whisper="Callback to 1 5 5 5. Refund question.",
                customer="+15551230001",
                caller_id=OUR_NUMBER,
                dial_action="https://hub.example.com/connectors/twilio/voice/callback",
                customer_status="https://hub.example.com/connectors/twilio/voice/status",
                dial_timeout=25,
                voice=VOICE,
            )
        )
    )
    assert verbs(root) == ["Say", "Dial"]
    assert "Refund question" in (root[0].text or "")
    assert root[1].get("callerId") == OUR_NUMBER
    assert [c.text for c in root[1]] == ["+15551230001"]


def test_names_with_markup_stay_valid_xml() -> None:
    welcome = docs.greeting(CallerInfo(known=True, name="<Ana & Bo>"), "A&B", connecting=False)
    root = parse_twiml(str(docs.goodbye(welcome, VOICE)))
    assert root[0].text == "Hi <Ana & Bo>, thanks for calling A&B."


# -- errors -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "code", "kind", "reason"),
    [
        (400, 21211, PermanentError, "not a valid phone number"),
        (400, 21610, PermanentError, "opted out"),
        (401, 20003, PermanentError, "credentials"),
        (429, 20429, TransientError, "rate limited"),
        (503, 20500, TransientError, "unavailable"),
        (400, 99999, PermanentError, "Twilio error 99999"),
    ],
)
def test_twilio_errors_map_to_retry_or_permanent_failure(
    status: int, code: int, kind: type[Exception], reason: str
) -> None:
    error = translate(TwilioRestException(status, "https://api.twilio.com/x", "boom", code))
    assert isinstance(error, kind)
    assert reason in str(error)


def test_network_errors_are_transient() -> None:
    assert isinstance(translate(ConnectionRefusedError()), TransientError)
    assert isinstance(translate(TimeoutError()), TransientError)


def test_delivery_error_codes_read_plainly() -> None:
    assert delivery_error("30006") == (
        "Twilio error 30006: the number is a landline or unreachable carrier"
    )
    assert delivery_error(None, "message undelivered") == "message undelivered"


# -- settings ---------------------------------------------------------------------------
def test_settings_normalise_numbers_and_hide_the_token() -> None:
    settings = TwilioSettings.model_validate(
        {
            "account_sid": ACCOUNT_SID,
            "auth_token": AUTH_TOKEN,
            "numbers": [{"number": "+1 (500) 555-0006", "agents": ["+1 500 555 0100"]}],
        }
    )
    assert settings.numbers[0].number == OUR_NUMBER
    assert settings.numbers[0].agents == ("+15005550100",)
    assert AUTH_TOKEN not in repr(settings)


@pytest.mark.parametrize(
    "change",
    [
        {"account_sid": "nope"},
        {"numbers": []},
        {"numbers": [{"number": "12"}]},
        {"numbers": [{"number": OUR_NUMBER}, {"number": OUR_NUMBER}]},
    ],
)
def test_bad_settings_are_refused(change: dict[str, object]) -> None:
    base = {
        "account_sid": ACCOUNT_SID,
        "auth_token": AUTH_TOKEN,
        "numbers": [{"number": OUR_NUMBER}],
    }
    with pytest.raises(ValidationError):
        TwilioSettings.model_validate({**base, **change})
