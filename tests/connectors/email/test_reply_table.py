"""Reply stripping measured on public fixtures with stated expected text (≥ 90 % exact).

See ``corpus/replies/README.md`` for the sources, licences and the rule the
expected texts follow. The talon ``.eml`` files go through the whole parser
(MIME, charset, text part); the other cases through :func:`strip_reply`.
"""

from __future__ import annotations

import json
from pathlib import Path

from hub.connectors.email.body import strip_reply
from hub.connectors.email.parse import parse_mail
from hub.connectors.email.settings import EmailSettings

TABLE = Path(__file__).parent / "corpus" / "replies"
LANGUAGES: tuple[str, ...] = EmailSettings.model_fields["languages"].default


def _norm(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def _cases() -> list[tuple[str, str, str]]:
    """(name, stripped, expected) for every case in the table."""
    out: list[tuple[str, str, str]] = []
    for eml in sorted((TABLE / "talon").glob("*.eml")):
        expected_file = eml.with_name(eml.stem + "_reply_text")
        expected = expected_file.read_text() if expected_file.exists() else "Hello"
        out.append(
            (f"talon/{eml.name}", parse_mail(eml.read_bytes(), languages=LANGUAGES).text, expected)
        )
    for i, case in enumerate(json.loads((TABLE / "talon" / "inline.json").read_text())):
        name = f"talon/{case['source'].rpartition('::')[2]}#{i}"
        out.append((name, strip_reply(case["text"], LANGUAGES), case["expected"]))
    expected_erp = json.loads((TABLE / "email_reply_parser" / "expected.json").read_text())
    for name, expected in sorted(expected_erp.items()):
        text = (TABLE / "email_reply_parser" / name).read_text(encoding="utf-8")
        out.append((f"email_reply_parser/{name}", strip_reply(text, LANGUAGES), expected))
    for case in json.loads((TABLE / "omnihub.json").read_text()):
        out.append(
            (f"omnihub/{case['name']}", strip_reply(case["text"], LANGUAGES), case["expected"])
        )
    return out


def test_reply_stripping_table_is_at_least_90_percent_exact() -> None:
    cases = _cases()
    misses = [name for name, got, expected in cases if _norm(got) != _norm(expected)]
    exact = 1 - len(misses) / len(cases)
    print(f"reply stripping: {len(cases) - len(misses)}/{len(cases)} exact ({exact:.1%})")
    assert len(cases) >= 100
    assert exact >= 0.90, f"{exact:.1%} exact; misses: {misses}"


def test_norwegian_and_outlook_separators_are_all_stripped() -> None:
    misses = [
        name
        for name, got, expected in _cases()
        if name.startswith("omnihub/") and _norm(got) != _norm(expected)
    ]
    assert misses == []
