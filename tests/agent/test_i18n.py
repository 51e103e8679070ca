"""The agent view's one translation layer: every text is a gettext message, German
ships beside English, and the agent's browser language picks one."""

from __future__ import annotations

import html
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from hub.agent import i18n
from hub.timeline.store import TimelineStore
from tests.agent.kit import Running, hub_for_agents

AGENT = Path(i18n.__file__).parent
TEMPLATE_OPTIONS = {"extensions": "jinja2.ext.i18n", "trim_blocks": "true", "lstrip_blocks": "true"}
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def extracted() -> set[str]:
    found = extract_from_dir(
        str(AGENT),
        method_map=[("templates/**.html", "jinja2"), ("**.py", "python")],
        options_map={"templates/**.html": TEMPLATE_OPTIONS},
    )
    return {m if isinstance(m, str) else m[0] for _, _, m, _, _ in found}


def test_every_message_has_a_german_translation_with_the_same_placeholders() -> None:
    assert i18n.LANGUAGES == ("en", "de")
    with (AGENT / "locale" / "de" / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalog = read_po(po)
    translated = {m.id: m.string for m in catalog if m.id}
    messages = extracted()
    assert len(messages) > 150
    assert sorted(messages - set(translated)) == [], "untranslated: update the catalog"
    assert sorted(set(translated) - messages) == [], "obsolete entries in the catalog"
    for msgid, msgstr in translated.items():
        assert msgstr, msgid
        assert set(PLACEHOLDER.findall(msgid)) == set(PLACEHOLDER.findall(str(msgstr))), msgid


def test_the_browser_language_picks_the_catalog() -> None:
    assert i18n.language_for("de-DE,de;q=0.9,en;q=0.8") == "de"
    assert i18n.language_for("fr-FR,de;q=0.5") == "de"
    assert i18n.language_for("en-GB,de;q=0.5") == "en"
    assert i18n.language_for("de;q=0, fr") == "en"
    assert i18n.language_for("") == i18n.language_for(None) == "en"
    assert i18n.language_for("?!;q=x,,") == "en"


@pytest.fixture
async def running(store: TimelineStore, tmp_path: Path) -> AsyncIterator[Running]:
    async with hub_for_agents(store, tmp_path) as r:
        yield r


async def test_the_agent_view_speaks_german_to_a_german_browser(running: Running) -> None:
    await running.agent("ana@example.com")
    created = await running.push("m-1", text="Wo ist meine Bestellung?")
    conversation = f"/agent/conversations/{created['conversation_id']}"
    async with running.signed_in("ana@example.com", **{"Accept-Language": "de-DE,de"}) as ana:
        inbox = (await ana.client.get("/agent/")).text
        assert '<html lang="de">' in inbox
        assert "Posteingang" in inbox and "Abmelden" in inbox and "Sign out" not in inbox
        page = (await ana.client.get(conversation)).text
        assert "Interne Notiz hinzufügen" in page and "Add internal note" not in page
        strings = re.search(r'data-strings="([^"]*)"', page)
        assert strings is not None
        assert json.loads(html.unescape(strings.group(1)))["offline"] == "offline"
        assert json.loads(html.unescape(strings.group(1)))["inbox"] == "Posteingang"
    async with running.signed_in("ana@example.com") as ana:
        english = (await ana.client.get(conversation)).text
        assert '<html lang="en">' in english and "Add internal note" in english
