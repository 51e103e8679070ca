"""The agent view: a server-rendered web UI at ``/agent/`` for agents and admins.

Jinja2 templates (autoescaped: everything from outside renders as text) and a
small vanilla script, both shipped in this package (no CDN, no build step).

* :mod:`.sessions` — signed session cookies and CSRF tokens
* :mod:`.web` — templates, handler kinds (page / fragment / action), error mapping
* :mod:`.auth` — sign-in with lockout, sign-out; :mod:`.passwords` — scrypt
* :mod:`.inbox` — the inbox; :mod:`.conversation` — the customer timeline and composer
* :mod:`.actions` — replies, notes, assignment, status, merges
* :mod:`.together` — @mentions in notes, transfers with a note
* :mod:`.threads` — merging a customer's conversations, keeping promises
* :mod:`.tone` — the tone coach in the composer
* :mod:`.start` — write first: a new conversation from an address
* :mod:`.search` — search every timeline, a hit opens the timeline at the event
* :mod:`.quarantine` — messages a connector could not import: list, download, retry
* :mod:`.admin` — agent management; :mod:`.live` — the websocket fed by the bus
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

__all__ = ["mount"]


def mount() -> Mount:
    """The agent view's routes, to mount at ``/agent``."""
    from hub.agent import (
        actions,
        admin,
        auth,
        conversation,
        inbox,
        live,
        quarantine,
        search,
        start,
        suggestions,
        threads,
        together,
        tone,
    )
    from hub.metrics import web as reports
    from hub.operations import web as operations_web

    routes: list[BaseRoute] = [
        Route("/", inbox.inbox_page, methods=["GET"]),
        Route("/login", auth.login_form, methods=["GET"]),
        Route("/login", auth.login_submit, methods=["POST"]),
        Route("/logout", auth.logout, methods=["POST"]),
        WebSocketRoute("/live", live.live),
        Route("/fragments/inbox", inbox.inbox_rows, methods=["GET"]),
        Route("/fragments/events/{event_id}", conversation.event_fragment, methods=["GET"]),
        Route(
            "/fragments/customers/{customer_id}/events",
            conversation.events_fragment,
            methods=["GET"],
        ),
        Route(
            "/fragments/conversations/{conversation_id}/options",
            conversation.options_fragment,
            methods=["GET"],
        ),
        Route(
            "/events/{event_id}/attachments/{index:int}",
            conversation.attachment,
            methods=["GET"],
        ),
        Route("/events/{event_id}/quoted", conversation.quoted_text, methods=["GET"]),
        Route("/conversations/{conversation_id}", conversation.conversation_page, methods=["GET"]),
        Route("/conversations/{conversation_id}/reply", actions.reply, methods=["POST"]),
        Route("/conversations/{conversation_id}/notes", together.note, methods=["POST"]),
        Route("/conversations/{conversation_id}/transfer", together.transfer, methods=["POST"]),
        Route("/conversations/{conversation_id}/update", actions.update, methods=["POST"]),
        Route(
            "/conversations/{conversation_id}/handoff",
            actions.continue_elsewhere,
            methods=["POST"],
        ),
        Route("/conversations/{conversation_id}/read", actions.mark_read, methods=["POST"]),
        Route("/conversations/{conversation_id}/merge", threads.merge_into, methods=["POST"]),
        Route(
            "/conversations/{conversation_id}/unmerge",
            threads.unmerge_conversation,
            methods=["POST"],
        ),
        Route(
            "/conversations/{conversation_id}/promises/{event_id}/kept",
            threads.keep_promise,
            methods=["POST"],
        ),
        Route("/conversations/{conversation_id}/tone", tone.tone, methods=["POST"]),
        Route("/customers/{customer_id}/merge", actions.merge, methods=["POST"]),
        Route("/customers/{customer_id}/unmerge", actions.unmerge, methods=["POST"]),
        Route("/suggestions/{suggestion_id}/confirm", suggestions.confirm, methods=["POST"]),
        Route("/suggestions/{suggestion_id}/dismiss", suggestions.dismiss, methods=["POST"]),
        Route("/suggestions/{suggestion_id}/share", suggestions.share, methods=["POST"]),
        Route("/events/{event_id}/shared-sender", threads.shared_sender, methods=["POST"]),
        Route("/search", search.search_page, methods=["GET"]),
        Route("/new", start.new_page, methods=["GET"]),
        Route("/new", start.start, methods=["POST"]),
        Route("/quarantine", quarantine.quarantine_page, methods=["GET"]),
        Route("/quarantine/{record_id}/raw", quarantine.raw, methods=["GET"]),
        Route("/quarantine/{record_id}/retry", quarantine.retry, methods=["POST"]),
        Route("/reports", reports.reports_page, methods=["GET"]),
        Route("/reports.csv", reports.reports_csv, methods=["GET"]),
        Route("/operations", operations_web.operations_page, methods=["GET"]),
        Route("/operations", operations_web.edit, methods=["POST"]),
        Route("/admin/agents", admin.agents_page, methods=["GET"]),
        Route("/admin/webhooks", admin.webhooks_page, methods=["GET"]),
        Route("/admin/agents", admin.create, methods=["POST"]),
        Route("/admin/agents/{agent_id}", admin.change, methods=["POST"]),
        Mount("/static", app=StaticFiles(packages=[("hub.agent", "static")]), name="static"),
    ]
    return Mount("/agent", routes=routes)
