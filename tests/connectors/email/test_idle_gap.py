"""Mail that lands while the watcher is between its catch-up search and IDLE.

A real Dovecot reports such mail once, in an untagged ``EXISTS`` on whichever
command is running (a FETCH of the earlier mail, or the IDLE itself). The
watcher's ``searched`` hook appends the message right after the catch-up
``UID SEARCH`` answered, so it lands exactly in that window; it must reach the
timeline at once, not at the IDLE renewal 29 minutes later.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from hub.timeline.store import TimelineStore
from tests.connectors.email.conftest import Mailbox, SmtpSink
from tests.connectors.email.rig import email_settings, make_rig
from tests.connectors.email.test_imap import Counter, numbered


@pytest.mark.parametrize("waiting", [0, 2], ids=["nothing-found", "fetching-earlier-mail"])
async def test_mail_landing_after_the_catch_up_search_is_imported_at_once(
    store: TimelineStore, tmp_path: Path, mailbox: Mailbox, smtp_sink: SmtpSink, waiting: int
) -> None:
    await mailbox.append(*(numbered(n) for n in range(1, waiting + 1)))
    late = numbered(99, "Sent while the watcher was between search and IDLE")
    landed = asyncio.Event()
    counter = Counter()

    async def append_once(found: list[int]) -> None:
        if not landed.is_set():
            assert len(found) == waiting
            await mailbox.append(late)
            landed.set()

    settings = email_settings(smtp_sink.port, mailbox.account())  # IDLE renewed after 29 min
    async with make_rig(store, tmp_path, settings, counter.wrap) as rig:
        watcher = rig.connector.watchers[0]
        watcher.searched = append_once
        await rig.connector.start()
        async with asyncio.timeout(10):
            await landed.wait()
        await counter.reach(waiting + 1, within=5)
        async with asyncio.timeout(5):
            await watcher.idling.wait()
    event = await store.find_event("email", "<q99@c.example>")
    assert event is not None and event.subject == "Question 99"
    assert event.text == "Sent while the watcher was between search and IDLE"
    assert sorted(counter.ingested) == sorted(
        f"<q{n}@c.example>" for n in [*range(1, waiting + 1), 99]
    )
