"""The single write path: :meth:`Pipeline.ingest` for inbound, :meth:`Pipeline.send` for outbound.

Every connector's traffic passes here, so dedupe, identity, threading, the
handoff rules and publishing happen once, the same way for every channel, and
nothing else writes the timeline. Each write is one unit of work
(:mod:`hub.timeline.work`): the pipeline plans it — consulting policies such as
the handoff module's continuity and identity rules, which decide and never
write — and the store executes it atomically::

    ingest: sender → policies.resolve → customer → thread (conversation_id,
            in_reply_to, policies.route, same channel, new) → policies.extras
            → [store: one unit] → publish
    send:   conversation, channel, address, window → [store: one unit] → publish
            → wake the outbox

Modules: ``types`` (policies, contexts, reply options), ``base`` (shared state,
appending, publishing), ``inbound`` (ingest), ``outbound`` (send, notes,
delivery reports), ``records`` (links, suggestions, expected replies, merges,
conversation changes).
"""

from __future__ import annotations

from hub.pipeline.inbound import Inbound
from hub.pipeline.records import Records, link_event
from hub.pipeline.start import Started, Starts
from hub.pipeline.types import HUB_CHANNEL, IngestContext, IngestPolicy, ReplyOption, SendRejected

__all__ = [
    "HUB_CHANNEL",
    "IngestContext",
    "IngestPolicy",
    "Pipeline",
    "ReplyOption",
    "SendRejected",
    "Started",
    "link_event",
]


class Pipeline(Inbound, Starts, Records):
    """Ingest and send, for every channel, and every other timeline write."""
