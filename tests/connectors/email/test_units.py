"""Pure pieces of the email connector: tokens, subjects, settings, SMTP error mapping."""

from __future__ import annotations

import pytest

from hub.connectors.email import EmailSettings, ReplyTokens
from hub.connectors.email.body import decode_payload, html_to_text, sanitise_html
from hub.connectors.email.smtp import OutgoingMail, build_mail, deliver
from hub.connectors.email.threading import normalise_subject, reply_subject
from hub.errors import TransientError
from tests.peers import free_port

SECRET = "0123456789abcdef-secret"


def test_reply_token_round_trips_and_survives_case_folding() -> None:
    tokens = ReplyTokens(SECRET)
    address = tokens.reply_address("reply@in.example.org", "conv_0123456789abcdef0123")
    local = address.partition("@")[0]
    assert len(local) <= 64 and local.startswith("reply+")
    assert tokens.from_recipients("reply@in.example.org", [address.upper()]) == (
        "conv_0123456789abcdef0123"
    )


@pytest.mark.parametrize("conversation_id", ["conv_1", "Conv-With.Odd/Chars"])
def test_tampered_or_foreign_tokens_prove_nothing(conversation_id: str) -> None:
    tokens = ReplyTokens(SECRET)
    token = tokens.token(conversation_id)
    assert tokens.verify(token) == conversation_id
    assert ReplyTokens("another-secret-0123456789").verify(token) is None
    encoded, _, mac = token.partition(".")
    assert tokens.verify(f"{encoded}.{'0' * len(mac)}") is None
    assert tokens.verify(f"conv_2.{mac}") is None


def test_our_message_ids_carry_the_conversation() -> None:
    tokens = ReplyTokens(SECRET)
    mid = tokens.message_id("evt_abc", "conv_9", "example.org")
    assert mid == tokens.message_id("evt_abc", "conv_9", "example.org")  # stable on retry
    assert tokens.is_ours(mid) and not tokens.is_ours("<evt_abc@example.org>")
    assert tokens.from_references(["<other@x.example>", mid]) == "conv_9"
    assert tokens.from_references([mid.replace("omh.evt_abc", "omh.evt_abd")]) == "conv_9"
    assert tokens.from_references([mid.replace("conv_9", "conv_8")]) is None


def test_subjects() -> None:
    assert normalise_subject("RE: AW: Fwd: Order 12") == "Order 12"
    assert reply_subject("Order 12") == "Re: Order 12"
    assert reply_subject("Re: Order 12") == "Re: Order 12"
    assert reply_subject(None) is None


def test_secrets_never_reach_repr() -> None:
    settings = EmailSettings.model_validate(
        {
            "secret": SECRET,
            "accounts": [
                {
                    "name": "a",
                    "address": "a@example.org",
                    "imap_host": "imap.example.org",
                    "username": "a",
                    "password": "imap-password-value",
                    "smtp_host": "smtp.example.org",
                    "smtp_password": "smtp-password-value",
                }
            ],
        }
    )
    text = repr(settings) + str(settings) + repr(ReplyTokens(SECRET))
    for secret in (SECRET, "imap-password-value", "smtp-password-value"):
        assert secret not in text


def test_charsets_and_html() -> None:
    assert decode_payload("Grüße".encode("latin-1"), "x-unknown") == "Grüße"
    assert decode_payload("Grüße".encode(), "us-ascii") == "Grüße"
    assert decode_payload(b"\x81\xfe", "utf-8") == "\ufffd\ufffd"  # the declared charset, replaced
    assert decode_payload("Привет".encode("koi8-r") + b"\xff", "koi8-r").startswith("Привет")
    html = '<p>Hi<br>there</p><script>x()</script><a href="javascript:alert(1)" onclick="y">l</a>'
    assert html_to_text(html) == "Hi\nthere\nl"
    clean = sanitise_html(html)
    assert "script" not in clean and "javascript" not in clean and "onclick" not in clean


async def test_unreachable_smtp_server_is_transient() -> None:
    settings = EmailSettings.model_validate(
        {
            "secret": SECRET,
            "accounts": [
                {
                    "name": "a",
                    "address": "a@example.org",
                    "smtp_host": "127.0.0.1",
                    "smtp_port": free_port(),
                    "smtp_security": "plain",
                    "timeout_seconds": 2,
                }
            ],
        }
    )
    account = settings.accounts[0]
    mail = build_mail(account, OutgoingMail("<m@example.org>", "b@example.com", "Hi", "Hello"))
    with pytest.raises(TransientError, match="SMTP unreachable"):
        await deliver(account, mail, ["b@example.com"])
