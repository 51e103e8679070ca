"""The public corpus imported through a real Dovecot over IMAP, end to end.

Every message under ``corpus/`` (Sisimai's bounces and auto-replies, talon's
client replies) is appended to a fresh folder and read by the running hub:
each one must end up stored or quarantined (none blocks the mailbox), robots
are counted apart, and a report compares subject and text with what Python's
``email`` package reads.
"""

from __future__ import annotations

import asyncio
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from hub.connectors.email import EmailConnector
from hub.connectors.email.imap import checkpoint_key
from hub.connectors.email.parse import parse_mail
from hub.connectors.email.robots import ROBOTS
from hub.timeline.store import TimelineStore
from tests.agent.kit import hub_for_agents
from tests.connectors.email.conftest import Mailbox, SmtpSink
from tests.connectors.email.rig import SECRET

CORPUS = Path(__file__).parent / "corpus"


def _corpus() -> list[tuple[str, bytes]]:
    files = sorted(CORPUS.glob("sisimai/*.eml")) + sorted(CORPUS.glob("replies/talon/*.eml"))
    return [(str(f.relative_to(CORPUS)), f.read_bytes()) for f in files]


def _python_view(raw: bytes) -> tuple[str, str]:
    msg = message_from_bytes(raw, policy=policy.default)
    try:
        subject = " ".join(str(msg["Subject"] or "").split())
    except Exception:  # the standard library gives up on this header
        subject = ""
    text = ""
    if isinstance(msg, EmailMessage):
        try:
            body = msg.get_body(("plain", "html"))
            text = body.get_content() if body is not None else ""
        except Exception:
            text = ""
    return subject, " ".join(str(text).split())


async def test_every_corpus_message_is_stored_or_quarantined(
    store: TimelineStore, tmp_path: Path, mailbox: Mailbox, smtp_sink: SmtpSink
) -> None:
    corpus = _corpus()
    assert len(corpus) >= 150
    await mailbox.append(*(raw for _, raw in corpus))
    email = {"secret": SECRET, "accounts": [mailbox.account(**smtp_sink.account())]}
    async with hub_for_agents(store, tmp_path, connectors={"email": email}) as running:
        connector = running.hub.connectors["email"]
        assert isinstance(connector, EmailConnector)
        key = checkpoint_key("support", mailbox.name)
        async with asyncio.timeout(120):
            while True:
                if (await store.get_checkpoint("email", key) or {}).get("last_uid") == len(corpus):
                    break
                await asyncio.sleep(0.1)

        quarantined = {q.source.get("uid"): q for q in await store.list_quarantined()}
        stored = robots = bounces = same_subject = same_text = opened_by_robot = 0
        missing: list[str] = []
        for uid, (name, raw) in enumerate(corpus, start=1):
            parsed = parse_mail(raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
            event = await store.find_event("email", parsed.message_id)
            if event is None and uid not in quarantined:
                missing.append(name)
                continue
            if event is None:
                continue
            stored += 1
            if event.meta.get("auto") in ROBOTS:
                robots += 1
                bounces += event.meta["auto"] == "bounce"
                opened_by_robot += bool(event.meta.get("automated") and event.conversation_id)
            subject, text = _python_view(raw)
            same_subject += subject == (event.subject or "")
            ours = " ".join((parsed.full_text or "").split())
            same_text += not text or ours[:60] in text or text[:60] in ours
    print(
        f"\ncorpus: {len(corpus)} messages, {stored} stored, {len(quarantined)} quarantined, "
        f"{robots} robots ({bounces} bounces); agreement with Python's email package: "
        f"subject {same_subject}/{stored}, text {same_text}/{stored}; quarantined: "
        f"{sorted((corpus[int(uid) - 1][0], q.reason) for uid, q in quarantined.items())}"
    )
    assert missing == []
    assert opened_by_robot == 0
    sisimai = sum(name.startswith("sisimai/") and "is-not-bounce" not in name for name, _ in corpus)
    assert robots >= 0.95 * sisimai
    assert same_subject >= 0.95 * stored
    assert same_text >= 0.90 * stored
