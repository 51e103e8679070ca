"""Message bodies: decoding any charset, HTML to text, sanitising, quote stripping.

Stripping uses maintained libraries: ``mail-parser-reply`` for text (reply
headers in many languages, signatures, disclaimers) and ``quotequail`` for
HTML. A forwarded message is never stripped: what was forwarded is the point.
"""

from __future__ import annotations

import codecs
import re
from email.message import Message
from html.parser import HTMLParser

import quotequail
from mailparser_reply.constants import MAIL_LANGUAGES
from mailparser_reply.parser import EmailMessage as ReplyText

from hub.connectors.email.quotes import cut_quotes
from hub.payloads import sanitise_html

__all__ = [
    "decode_payload",
    "html_to_text",
    "is_forward",
    "part_text",
    "sanitise_html",
    "strip_html_reply",
    "strip_reply",
]

_BLOCK = {
    "address", "article", "aside", "blockquote", "div", "dl", "dt", "dd", "fieldset",
    "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header",
    "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "tr", "ul",
}  # fmt: skip
_SKIP = {"script", "style", "head", "title", "template", "noscript"}
_FORWARD = re.compile(
    r"^\s*(?:-{2,}\s*(?:Forwarded message|Weitergeleitete Nachricht|"
    r"Message transféré|Mensaje reenviado)\s*-{2,}|Begin forwarded message:|"
    r"Anfang der weitergeleiteten Nachricht:)",
    re.IGNORECASE | re.MULTILINE,
)
_FORWARD_SUBJECT = re.compile(r"^\s*(?:fwd?|wg|tr|rv|enc|doorst)\s*:", re.IGNORECASE)
_DEVICE_LINE = re.compile(
    r"\n\s*(?:Sent from my [^\n]{1,40}|Sent from (?:Mail|Outlook|Yahoo Mail) for [^\n]{1,30}|"
    r"Get Outlook for [^\n]{1,30}|Von meinem [^\n]{1,40} gesendet|Envoyé de mon [^\n]{1,40}|"
    r"Enviado desde mi [^\n]{1,40}|Inviato da [^\n]{1,40}|Verzonden met [^\n]{1,30}|"
    r"Sendt fra min [^\n]{1,30}|Skickat från min [^\n]{1,30}|Wysłane z [^\n]{1,30})\s*\Z"
)
_LIST_FOOTER = re.compile(r"\n_{10,}\n[^\n]{0,80}mailing list\n(?:[^\n]*\n?){0,6}\Z")
_TRAILING_QUOTE = re.compile(r"(?:\n\s*>[^\n]*)+\s*\Z")


def decode_payload(payload: bytes, charset: str | None) -> str:
    """``payload`` as text: its declared charset if it works, else UTF-8, else cp1252."""
    for candidate in (charset, "utf-8"):
        if not candidate:
            continue
        try:
            codecs.lookup(candidate)
            return payload.decode(candidate)
        except (LookupError, UnicodeDecodeError, ValueError):
            continue
    return payload.decode("cp1252", errors="replace")


def part_text(part: Message) -> str:
    """The decoded text of a non-multipart part, whatever its charset claims."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        raw = part.get_payload()
        return raw if isinstance(raw, str) else ""
    try:
        charset = part.get_content_charset()
    except (ValueError, LookupError):
        charset = None
    return decode_payload(payload, charset)


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skip += 1
        elif tag == "br":
            self.out.append("\n")
        elif tag == "li":
            self.out.append("\n- ")
        elif tag in _BLOCK:
            self.out.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag in _BLOCK or tag == "td":
            self.out.append("\n" if tag != "td" else " ")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.out.append(re.sub(r"[ \t\r\n\f]+", " ", data))


def html_to_text(html: str) -> str:
    """Readable text from HTML: block elements become lines, scripts and styles vanish."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    lines = [line.strip() for line in "".join(parser.out).replace("\xa0", " ").split("\n")]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def is_forward(subject: str | None, text: str) -> bool:
    """True if the customer forwarded a message rather than replying."""
    return bool(_FORWARD_SUBJECT.match(subject or "")) or bool(_FORWARD.search(text[:20_000]))


def strip_reply(text: str, languages: tuple[str, ...]) -> str:
    """The new part of a reply: quoted history and reply headers removed, and a
    trailing "Sent from my iPhone"; other signatures and bottom-posted answers kept.

    Quotes, splitters and forwards are found line by line (:mod:`.quotes`); in
    text without any, ``mail-parser-reply`` looks for reply headers in
    ``languages``. Never returns less than something: if stripping leaves
    nothing, the whole text is kept.
    """
    top = cut_quotes(text)
    if top is None:
        top = text
        try:
            known = [lang for lang in languages if lang in MAIL_LANGUAGES] or ["en"]
            parsed = ReplyText(text=text, languages=known, keep_hyphen_lists=True).read()
            if len(parsed.replies) > 1:
                top = parsed.replies[0].full_body
        except Exception:  # a library bug must not lose the message
            top = text
    top = _LIST_FOOTER.sub("", top.replace("\r\n", "\n").rstrip() + "\n")
    top = _DEVICE_LINE.sub("", _TRAILING_QUOTE.sub("", top.rstrip())).strip()
    return top or text.strip()


def strip_html_reply(html: str) -> str:
    """The HTML above the quoted history (quotequail), or all of it if none is found."""
    try:
        parts: list[tuple[bool, str]] = quotequail.quote_html(html, quote_intro_line=True)
    except Exception:  # quotequail/lxml on hostile markup: keep everything
        return html
    if len(parts) > 1 and parts[0][0] and parts[0][1].strip():
        return parts[0][1]
    return html
