"""Parts that are not plain text but must read as something: invites, TNEF, encryption.

* ``text/calendar`` invitations are kept as ``.ics`` attachments and summarised
  ("Invitation: Review — 2026-01-12 10:00 — Room 4").
* ``winmail.dat`` (``application/ms-tnef``, Outlook's rich-text wrapper) is
  unpacked with ``tnefparse``: its files become attachments, its body the text.
* S/MIME and PGP encrypted mail is never decoded as text: the agent is told
  what it is and the encrypted part stays an attachment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.message import Message

__all__ = [
    "Unpacked",
    "calendar_summary",
    "encrypted_notice",
    "is_calendar",
    "is_tnef",
    "unpack_tnef",
]

_ICS_FIELDS = ("SUMMARY", "DTSTART", "DTEND", "LOCATION", "ORGANIZER")
_METHODS = {"REQUEST": "Invitation", "CANCEL": "Cancelled", "REPLY": "Invitation reply"}


def is_calendar(part: Message) -> bool:
    """A calendar part (an invitation, a cancellation, an answer)."""
    return part.get_content_type() in ("text/calendar", "application/ics")


def is_tnef(part: Message) -> bool:
    """Outlook's ``winmail.dat``."""
    name = (part.get_filename() or "").lower()
    return part.get_content_type() in ("application/ms-tnef", "application/vnd.ms-tnef") or (
        name == "winmail.dat"
    )


def _ics_date(value: str) -> str:
    found = re.match(r"(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2}))?", value)
    if not found:
        return value
    year, month, day, hour, minute = found.groups()
    when = f"{year}-{month}-{day}"
    return f"{when} {hour}:{minute}{' UTC' if value.endswith('Z') else ''}" if hour else when


def calendar_summary(ics: str) -> str | None:
    """One line about the first event of an iCalendar text, or ``None``."""
    unfolded = re.sub(r"\r?\n[ \t]", "", ics)
    values: dict[str, str] = {}
    method = None
    in_event = False
    for line in unfolded.splitlines():
        name, _, value = line.partition(":")
        key = name.split(";", 1)[0].strip().upper()
        if key == "METHOD":
            method = value.strip().upper()
        elif key == "BEGIN" and value.strip().upper() == "VEVENT":
            in_event = True
        elif key == "END" and value.strip().upper() == "VEVENT":
            break
        elif in_event and key in _ICS_FIELDS and key not in values:
            values[key] = value.replace("\\,", ",").replace("\\n", " ").strip()
    if not values:
        return None
    pieces = [values.get("SUMMARY") or "(no title)"]
    if "DTSTART" in values:
        pieces.append(_ics_date(values["DTSTART"]))
    if values.get("LOCATION"):
        pieces.append(values["LOCATION"])
    organizer = values.get("ORGANIZER", "")
    if organizer.lower().startswith("mailto:"):
        pieces.append(f"organiser {organizer[7:]}")
    return f"{_METHODS.get(method or '', 'Calendar event')}: " + " — ".join(pieces)


@dataclass(slots=True)
class Unpacked:
    """What a ``winmail.dat`` held."""

    files: list[tuple[str, bytes]] = field(default_factory=list)
    text: str | None = None
    html: str | None = None


def unpack_tnef(data: bytes) -> Unpacked | None:
    """The files and body inside a TNEF blob, or ``None`` if it cannot be read."""
    try:
        from tnefparse import TNEF

        tnef = TNEF(data)
        out = Unpacked()
        for attachment in tnef.attachments:
            name = attachment.long_filename() or attachment.name or "attachment"
            out.files.append((str(name), bytes(attachment.data)))
        body = getattr(tnef, "body", None)
        html = getattr(tnef, "htmlbody", None)
    except Exception:  # tnefparse on a damaged blob: keep winmail.dat as it is
        return None
    if isinstance(body, bytes) and body.strip():
        out.text = body.decode("cp1252", errors="replace")
    elif isinstance(body, str) and body.strip():
        out.text = body
    if isinstance(html, bytes) and html.strip():
        out.html = html.decode("utf-8", errors="replace")
    elif isinstance(html, str) and html.strip():
        out.html = html
    return out


def encrypted_notice(msg: Message) -> str | None:
    """What to show instead of the body of S/MIME- or PGP-encrypted mail."""
    ctype = msg.get_content_type()
    smime = str(msg.get_param("smime-type", "") or "").lower()
    if ctype in ("application/pkcs7-mime", "application/x-pkcs7-mime") and smime != "signed-data":
        return "This message is encrypted (S/MIME): it cannot be shown here."
    if ctype == "multipart/encrypted":
        return "This message is encrypted (PGP/MIME): it cannot be shown here."
    return None
