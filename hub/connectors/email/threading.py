"""Proof that a mail belongs to a conversation: signed reply tokens and Message-IDs.

Every mail we send carries two signed copies of its conversation id:

* ``Reply-To: <local>+<token>@<domain>`` — replies come back to that address;
* ``Message-ID: <omh.<event id>.<token>@<domain>>`` — replies quote it in
  ``In-Reply-To`` / ``References`` even when a client or a forwarder dropped
  the Reply-To.

``<token>`` is ``<encoded conversation id>.<HMAC-SHA256 prefix>``, lower case
only (some mail systems fold the case of local parts) and short enough for a
64-character local part. A token is only proof of a conversation; the pipeline
still honours it only for that conversation's own customer.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable

__all__ = [
    "ReplyTokens",
    "normalise_subject",
    "reply_subject",
]

_SAFE_ID = re.compile(r"[a-z0-9_]{1,40}")
_TOKEN = re.compile(r"([a-z0-9_]{1,40})\.([0-9a-f]{20})")
_MAC_BYTES = 10
_NO_CONVERSATION = "none"
_OUR_ID = re.compile(r"<omh\.([A-Za-z0-9_-]{1,64})\.([a-z0-9_]{1,40}\.[0-9a-f]{20})@[^<>@\s]+>")
_REPLY_PREFIX = re.compile(
    r"^\s*(?:(?:re|aw|sv|vs|antw|odp|r|rif|réf|ref|fw|fwd|wg|tr|rv|enc|doorst)\s*(?:\[\d+\])?\s*:\s*)+",
    re.IGNORECASE,
)


class ReplyTokens:
    """Signs and verifies the conversation tokens in reply addresses and Message-IDs."""

    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(b"omnihub-email-thread\x00" + secret.encode()).digest()

    def __repr__(self) -> str:
        return "<ReplyTokens>"

    def _mac(self, encoded: str) -> str:
        return hmac.new(self._key, encoded.encode(), hashlib.sha256).digest()[:_MAC_BYTES].hex()

    def token(self, conversation_id: str) -> str:
        """The signed token for ``conversation_id``."""
        if _SAFE_ID.fullmatch(conversation_id):
            encoded = conversation_id
        else:
            raw = base64.b32encode(conversation_id.encode()).decode().rstrip("=").lower()
            encoded = "b32_" + raw
            if len(encoded) > 40:
                raise ValueError("conversation id too long for a reply token")
        return f"{encoded}.{self._mac(encoded)}"

    def verify(self, token: str) -> str | None:
        """The conversation id in ``token``, or ``None`` if it is not ours."""
        match = _TOKEN.fullmatch(token.strip().lower())
        if match is None:
            return None
        encoded, mac = match.groups()
        if not hmac.compare_digest(self._mac(encoded), mac):
            return None
        if not encoded.startswith("b32_"):
            return encoded
        raw = encoded.removeprefix("b32_").upper()
        try:
            return base64.b32decode(raw + "=" * (-len(raw) % 8)).decode()
        except (ValueError, UnicodeDecodeError):
            return None

    def reply_address(self, base: str, conversation_id: str) -> str:
        """``local+<token>@domain`` for the configured ``local@domain``."""
        local, _, domain = base.rpartition("@")
        local = local.split("+", 1)[0]
        return f"{local}+{self.token(conversation_id)}@{domain}"

    def from_recipients(self, base: str, addresses: Iterable[str]) -> str | None:
        """The conversation named by a ``local+<token>@domain`` among ``addresses``."""
        local, _, domain = base.rpartition("@")
        local = local.split("+", 1)[0].lower()
        for address in addresses:
            addr_local, _, addr_domain = address.strip().lower().rpartition("@")
            if addr_domain != domain.lower():
                continue
            head, plus, token = addr_local.partition("+")
            if plus and head == local:
                found = self.verify(token)
                if found is not None:
                    return found
        return None

    def message_id(self, event_id: str, conversation_id: str | None, domain: str) -> str:
        """Our Message-ID for the outbound event ``event_id``: stable across retries."""
        safe = event_id if re.fullmatch(r"[A-Za-z0-9_-]{1,64}", event_id) else None
        if safe is None:
            safe = hashlib.sha256(event_id.encode()).hexdigest()[:40]
        return f"<omh.{safe}.{self.token(conversation_id or _NO_CONVERSATION)}@{domain}>"

    def from_references(self, refs: Iterable[str]) -> str | None:
        """The conversation named by one of our Message-IDs among ``refs``, newest first."""
        for ref in reversed(list(refs)):
            match = _OUR_ID.fullmatch(ref.strip())
            if match is not None:
                found = self.verify(match.group(2))
                if found is not None and found != _NO_CONVERSATION:
                    return found
        return None

    def ours_in(self, text: str) -> list[str]:
        """Our Message-IDs quoted anywhere in ``text`` (a plain-text bounce)."""
        found = (m.group(0) for m in _OUR_ID.finditer(text) if self.verify(m.group(2)))
        return list(dict.fromkeys(found))

    def is_ours(self, message_id: str) -> bool:
        """True if ``message_id`` is one we generated (an echo of our own mail)."""
        match = _OUR_ID.fullmatch(message_id.strip())
        return match is not None and self.verify(match.group(2)) is not None


def normalise_subject(subject: str | None) -> str:
    """``subject`` without reply / forward prefixes in common languages (Re:, AW:, Fwd:…)."""
    return _REPLY_PREFIX.sub("", subject or "").strip()


def reply_subject(subject: str | None) -> str | None:
    """``Re: <subject>`` unless it already is a reply."""
    if not subject:
        return None
    if re.match(r"^\s*re\s*:", subject, re.IGNORECASE):
        return subject
    return f"Re: {normalise_subject(subject) or subject}"
