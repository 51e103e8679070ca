"""Quoted history in plain-text replies: find it line by line and cut it.

The method follows talon's (mailgun/talon, Apache-2.0): every line is marked
``e`` (empty), ``m`` (``>`` quoted), ``s`` (a splitter: "On … wrote:",
"-----Original Message-----", an Outlook ``From:``/``Sent:`` block, a
localized reply header), ``f`` (a forwarded-message marker) or ``t`` (text),
and patterns over that string decide what is the new message: text above a
splitter, a bottom-posted answer below a quote, or — for answers written
between quoted lines — everything. The splitters here cover the reply headers
of English, German, French, Spanish, Italian, Dutch, Swedish, Danish, Polish,
Norwegian, Portuguese, Russian and Vietnamese clients.
"""

from __future__ import annotations

import re

__all__ = ["cut_quotes"]

_ON = (
    r"On|Le|W dniu|Op|Am|Em|På|Den|Vào|El|Il giorno|Il|Dne|Am \w+|Le \w+\.?|"
    r"Onsdag|Mandag|Tirsdag|Torsdag|Fredag|Lørdag|Søndag"
)
_WROTE = (
    r"wrote|sent|a écrit|napisał|schreef|verzond|geschreven|het volgende geschreven|"
    r"schrieb|escreveu|skrev|đã viết|escribió|ha scritto|написал|napsal|kirjoitti|pisze"
)
_ON_DATE_WROTE = re.compile(
    rf"^[->\s]*(?:{_ON})\s[^\n]*(?:\n[^\n]*){{0,2}}?\b(?:{_WROTE})\b[^\n]{{0,80}}:?[ \t-]*$",
    re.I | re.M,
)
_ORIGINAL = re.compile(
    r"^\s*-{2,}\s*(?:Original Message|Reply Message|Original|Ursprüngliche Nachricht|"
    r"Originalnachricht|Antwort Nachricht|Message d'origine|Message original|"
    r"Mensaje original|Messaggio originale|Oorspronkelijk bericht|Origineel bericht|"
    r"Originalmeddelande|Ursprungligt meddelande|Opprinnelig melding|Original melding|"
    r"Oprindelig meddelelse|Wiadomość oryginalna|Oryginalna wiadomość|"
    r"Исходное сообщение|Původní zpráva|Mensagem original)\s*-{2,}\s*$",
    re.I,
)
_HEADER_WORDS = (
    r"From|Van|De|Von|Fra|Från|Od|Da|От|Date|Sent|Datum|Envoyé|Skickat|Sendt|Gesendet|"
    r"Enviado|Fecha|Inviato|Verzonden|Wysłano|Data|Subject|Betreff|Objet|Emne|Ämne|Asunto|"
    r"Oggetto|Onderwerp|Temat|Assunto|Тема|To|An|Til|À|Till|Para|A|Aan|Do|Кому|Cc|Kopie"
)
_HEADER_LINE = re.compile(rf"^[ \t]*:?\*?(?:{_HEADER_WORDS})\*?[ \t]?:\*?[ \t]*\S", re.I)
_FROM_LINE = re.compile(r"^[ \t]*\*?(?:From|Van|De|Von|Fra|Från|Od|Da|От)\*?[ \t]?:", re.I)
_UNDERSCORES = re.compile(r"^_{10,}\s*$")
_DATE_ADDRESS = tuple(
    re.compile(pattern, re.I | re.M)
    for pattern in (
        # 02.04.2012 14:20 пользователь "bob@example.com" <bob@xxx.mailgun.org> написал:
        r"^[ \t]*(?:\d+/\d+/\d+|\d+\.\d+\.\d+)[^\n]*(?:\n[^\n]*){0,2}?\s\S+@\S+[^\n]{0,40}$",
        # 2014-10-17 11:28 GMT+03:00 Bob <bob@example.com>:
        r"^[ \t]*\d{4}-\d{2}-\d{2}\s+\d{2}:\d{2}[^\n]*(?:\n[^\n]*){0,2}?\S+@\S+:?[ \t]*$",
        # Thu, 26 Jun 2014 14:00:51 +0400 Bob <bob@example.com>:
        r"^[ \t]*\S{3,10}, \d\d? \S{3,10} 20\d\d,? \d\d?:\d\d(?::\d\d)?(?: \S+){1,6}@\S+:[ \t]*$",
        # Sent from Samsung MobileName <address@example.com> wrote:
        r"^[^\n]{0,200}\S+@\S+>? wrote:?[ \t]*$",
        # 5. jan. 2026 kl. 10:00 skrev Support <s@example.org>: (a date or time, then "wrote:")
        rf"^[^\n>]{{0,200}}(?:\d{{4}}|\d{{1,2}}[:.]\d{{2}})[^\n]*(?:\n[^\n]*){{0,2}}?"
        rf"\b(?:{_WROTE})\b[^\n]{{0,60}}:[ \t]*$",
        # ---- John Smith wrote ----
        r"^[ \t]*-+[^\n]*\b(?:wrote|schrieb|a écrit|skrev)[ \t]*-+[ \t]*$",
        # On Tue, Apr 11, 2017 at 10:07 PM John Smith\n\n<\nmailto:John Smith <j@x.com>\n> wrote:
        r"^[ \t]*On [^\n]*\n\s*<\s*mailto:[^\n]*\n>[ \t]*wrote:[ \t]*$",
    )
)
_FORWARD = re.compile(
    r"^\s*-+\s*(?:Forwarded message|Weitergeleitete Nachricht|Message transféré|"
    r"Mensaje reenviado|Messaggio inoltrato|Doorgestuurd bericht|Videresendt melding|"
    r"Vidarebefordrat meddelande)\s*-+\s*$|^\s*Begin forwarded message:\s*$",
    re.I,
)
_SHARED_LINE = re.compile(r"(?<=\S)[ \t]*((?:-{2,}[ \t]*)?On [^\n]{5,200}\bwrote:)")
_QUOTE = re.compile(r"^\s*>")
_RULE = re.compile(r"^\s*(?:-{10,}|_{10,}|={10,})\s*$")
_LINK = re.compile(r"<(https?://[^>]*)>")
_SPLITTER_LINES = 6
_MAX_LINES = 1000


def _splitter(lines: list[str], i: int) -> int:
    """How many lines starting at ``i`` form a splitter (0: none)."""
    line = lines[i]
    if _ORIGINAL.match(line):
        return 1
    window = "\n".join(lines[i : i + _SPLITTER_LINES])
    found = _ON_DATE_WROTE.match(window)
    if found and re.search(r"[\d,]", found.group(0)) and "\n\n" not in found.group(0).strip():
        return found.group(0).count("\n") + 1
    for pattern in _DATE_ADDRESS:
        found = pattern.match(window)
        if found:
            return found.group(0).count("\n") + 1
    if _UNDERSCORES.match(line) and i + 1 < len(lines) and _FROM_LINE.match(lines[i + 1]):
        return 1
    if _HEADER_LINE.match(line):
        following = [x for x in lines[i + 1 : i + 5] if x.strip()]
        headers = following and any(_HEADER_LINE.match(x) for x in following[:3])
        if headers and (_FROM_LINE.match(line) or _FROM_LINE.match(following[0])):
            return 1
    return 0


def _markers(lines: list[str]) -> str:
    marks = ["e"] * len(lines)
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            marks[i] = "e"
        elif _QUOTE.match(line):
            marks[i] = "m"
        elif _FORWARD.match(line):
            marks[i] = "f"
        else:
            span = _splitter(lines, i)
            if span:
                for j in range(span):
                    marks[i + j] = "s"
                i += span - 1
            else:
                marks[i] = "t"
        i += 1
    return "".join(marks)


_QUOTATION = re.compile(r"((?:s|(?:me*){2,}).*me*)[te]*$")
_EMPTY_QUOTATION = re.compile(r"((?:se*)+|(?:me*){2,})e*")


def _kept(lines: list[str], marks: str) -> list[str]:
    """The lines of the new message."""
    if "s" not in marks and not re.search("(me*){3}", marks):
        marks = marks.replace("m", "t")
    if re.match("[te]*f", marks):
        return lines
    for inline in re.finditer(r"(?<=m)e*(t[te]*)m", marks):
        previous = lines[inline.start() - 1] if inline.start() else ""
        if not ("(http" in previous or lines[inline.start()].strip().startswith("(http")):
            return lines
    found = re.search("(se*)+((t|f)+e*)+", marks)
    if found:
        return lines[: found.start()]
    quotation = _QUOTATION.search(marks) or _EMPTY_QUOTATION.search(marks)
    if quotation:
        return lines[: quotation.start(1)] + lines[quotation.end(1) :]
    return lines


def _own_line(found: re.Match[str]) -> str:
    """A reply header after text on the same line, moved to a line of its own."""
    start = found.string.rfind("\n", 0, found.start()) + 1
    if found.string[start:].lstrip().startswith(">"):
        return found.group(0)
    return "\n" + found.group(1)


def cut_quotes(text: str) -> str | None:
    """``text`` without its quoted history; ``None`` when it has no quote, reply
    header or forward marker at all (then other heuristics may still apply)."""
    text = _LINK.sub(r"@@\1@@", text.replace("\r\n", "\n"))
    text = _SHARED_LINE.sub(_own_line, text)
    lines = text.split("\n")[:_MAX_LINES]
    marks = _markers(lines)
    if not any(m in marks for m in "smf"):
        return None
    kept = _kept(lines, marks)
    while kept and (not kept[-1].strip() or _RULE.match(kept[-1])):
        kept.pop()
    return re.sub(r"@@(https?://[^>@]*)@@", r"<\1>", "\n".join(kept)).strip()
