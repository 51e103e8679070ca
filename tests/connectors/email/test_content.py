"""Readable text from awkward mail: empty text parts, bad bytes, encryption, invites, TNEF."""

from __future__ import annotations

import base64
import os
import threading
from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from hub.timeline.model import Event
from hub.timeline.store import TimelineStore
from tests.connectors.email.conftest import SmtpSink
from tests.connectors.email.rig import Rig, email_settings, make_rig

TNEF = Path(__file__).parent / "corpus" / "tnef"


@pytest.fixture
async def rig(store: TimelineStore, tmp_path: Path, smtp_sink: SmtpSink) -> AsyncIterator[Rig]:
    async with make_rig(store, tmp_path, email_settings(smtp_sink.port)) as r:
        yield r


def _mail(message_id: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Olga <olga@example.com>"
    msg["To"] = "support@example.org"
    msg["Subject"] = "Hello"
    msg["Date"] = "Tue, 6 Jan 2026 10:00:00 +0000"
    msg["Message-ID"] = message_id
    return msg


async def _got(rig: Rig, raw: bytes) -> Event:
    event = await rig.receive(raw)
    assert event is not None
    return event


def _printable(text: str) -> bool:
    return all(c.isprintable() or c in "\n\t" for c in text)


async def test_empty_text_part_does_not_hide_the_html_body(rig: Rig) -> None:
    msg = _mail("<r1@c.example>")
    msg.set_content("\n")
    msg.add_alternative("<p>My order <b>1234</b> never arrived.</p>", subtype="html")
    event = await _got(rig, msg.as_bytes())
    assert event.text == "My order 1234 never arrived."


async def test_one_bad_byte_does_not_turn_cyrillic_to_mojibake(rig: Rig) -> None:
    body = "Здравствуйте, мой заказ не пришёл.".encode() + b"\xff" + " Спасибо!".encode()
    raw = (
        b"From: olga@example.com\r\nTo: support@example.org\r\nSubject: Order\r\n"
        b"Message-ID: <r2@c.example>\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    ) + body
    event = await _got(rig, raw)
    assert event.text == "Здравствуйте, мой заказ не пришёл.\ufffd Спасибо!"


async def test_smime_encrypted_mail_is_not_shown_as_binary(rig: Rig) -> None:
    msg = _mail("<r3@c.example>")
    msg.set_content(
        os.urandom(600),
        maintype="application",
        subtype="pkcs7-mime",
        params={"smime-type": "enveloped-data", "name": "smime.p7m"},
        filename="smime.p7m",
    )
    event = await _got(rig, msg.as_bytes())
    assert event.text == "This message is encrypted (S/MIME): it cannot be shown here."
    assert [a.filename for a in event.attachments] == ["smime.p7m"]


async def test_pgp_mime_encrypted_mail_is_not_shown_as_binary(rig: Rig) -> None:
    msg = _mail("<r4@c.example>")
    msg.make_mixed()
    msg.replace_header("Content-Type", 'multipart/encrypted; protocol="application/pgp-encrypted"')
    control = EmailMessage()
    control.set_content(b"Version: 1\n", maintype="application", subtype="pgp-encrypted")
    armored = EmailMessage()
    armored.set_content(
        b"-----BEGIN PGP MESSAGE-----\n\nhQEMA\x00\x01\x02\n-----END PGP MESSAGE-----\n",
        maintype="application",
        subtype="octet-stream",
        filename="encrypted.asc",
    )
    msg.attach(control)
    msg.attach(armored)
    event = await _got(rig, msg.as_bytes())
    assert event.text == "This message is encrypted (PGP/MIME): it cannot be shown here."
    assert "encrypted.asc" in [a.filename for a in event.attachments]


async def test_attachment_only_mail_has_no_binary_text(rig: Rig) -> None:
    msg = _mail("<r5@c.example>")
    msg.set_content(b"%PDF-1.4\x00\xff\xfe binary", maintype="application", subtype="pdf")
    event = await _got(rig, msg.as_bytes())
    assert not event.text and _printable(event.text or "")
    assert [a.content_type for a in event.attachments] == ["application/pdf"]


ICS = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\n"
    "UID:abc@example.com\r\nDTSTART:20260112T100000Z\r\nDTEND:20260112T110000Z\r\n"
    "SUMMARY:Contract review\r\nLOCATION:Room 4\\, second floor\r\n"
    "ORGANIZER;CN=Olga:mailto:olga@example.com\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


async def test_calendar_invite_is_kept_and_summarised(rig: Rig) -> None:
    msg = _mail("<r6@c.example>")
    msg.set_content("Please join the review.")
    msg.add_alternative(ICS, subtype="calendar", params={"method": "REQUEST"})
    event = await _got(rig, msg.as_bytes())
    assert event.text == (
        "Please join the review.\n\nInvitation: Contract review — 2026-01-12 10:00 UTC — "
        "Room 4, second floor — organiser olga@example.com"
    )
    [invite] = event.attachments
    assert invite.filename == "invite.ics" and invite.content_type == "text/calendar"
    assert b"SUMMARY:Contract review" in await rig.blobs.get(invite.blob_id)


async def test_winmail_dat_is_unpacked(rig: Rig) -> None:
    msg = _mail("<r7@c.example>")
    msg.set_content("See the files.")
    msg.add_attachment(
        (TNEF / "two-files.tnef").read_bytes(),
        maintype="application",
        subtype="ms-tnef",
        filename="winmail.dat",
    )
    event = await _got(rig, msg.as_bytes())
    assert event.text == "See the files."
    names = [a.filename for a in event.attachments]
    assert names == ["AUTHORS", "README"]
    assert await rig.blobs.get(event.attachments[1].blob_id) != b""


def _nested(levels: int) -> bytes:
    head = (
        "From: olga@example.com\r\nTo: support@example.org\r\nSubject: Nested\r\n"
        "Message-ID: <nested@c.example>\r\nMIME-Version: 1.0\r\n"
    )
    body = "Content-Type: text/plain; charset=utf-8\r\n\r\nThe innermost text.\r\n"
    for level in range(levels):
        body = (
            f'Content-Type: multipart/mixed; boundary="b{level}"\r\n\r\n'
            f"--b{level}\r\n{body}\r\n--b{level}--\r\n"
        )
    return (head + body).encode()


async def test_large_or_nested_mail_is_parsed_off_the_event_loop(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hub.connectors.email import inbound

    threads: list[int] = []
    real = inbound.parse_mail

    def watched(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.get_ident())
        return real(*args, **kwargs)

    monkeypatch.setattr(inbound, "parse_mail", watched)
    event = await _got(rig, _nested(60))
    assert event.text == "The innermost text."
    small = _mail("<small@c.example>")
    small.set_content("Hi")
    await _got(rig, small.as_bytes())
    loop_thread = threading.get_ident()
    assert threads[0] != loop_thread and threads[1] == loop_thread


async def test_inline_cid_image_is_shown_from_the_mail(rig: Rig) -> None:
    msg = _mail("<r8@c.example>")
    msg.set_content("See the picture.")
    msg.add_alternative('<p>See <img src="cid:icon.png@01D9"></p>', subtype="html")
    html_part = msg.get_payload()[1]
    png = b"\x89PNG\r\n\x1a\n"
    html_part.add_related(png, maintype="image", subtype="png", cid="<icon.png@01D9>")
    event = await _got(rig, msg.as_bytes())
    assert event.meta["inline"] == [{"cid": "icon.png@01D9", "blob": event.attachments[0].blob_id}]
    assert event.html is not None
    assert f'<img src="data:image/png;base64,{base64.b64encode(png).decode()}">' in event.html
    msg = _mail("<r9@c.example>")
    msg.set_content("x")
    msg.add_alternative('<a href="cid:a.b">l</a><img src="cid:missing@x">', subtype="html")
    event = await _got(rig, msg.as_bytes())
    assert event.html is not None and "cid:" not in event.html
