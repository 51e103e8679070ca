"""The JSON API for agents and integrations, mounted at ``/api/v1``.

Every route needs ``Authorization: Bearer <token>`` (``omnihub tokens create``).
Errors are JSON ``{"error": …, "field": …}``: 401 without a valid token, 404
for unknown records, 409 for conflicts, 400 for a bad cursor, 422 for invalid
input (naming the field), 413 for a body over the limit.
"""

from __future__ import annotations

from starlette.routing import Route

from hub.api.conversations import (
    conversation_events,
    get_conversation,
    list_conversations,
    start_conversation,
    update_conversation,
)
from hub.api.customers import (
    customer_timeline,
    get_customer,
    merge_customer,
    search_customers,
    unmerge_customer,
)
from hub.api.handling import endpoint, error, json_body
from hub.api.replies import add_note, reply, reply_options
from hub.api.reports import macro_report
from hub.api.search import search

__all__ = ["endpoint", "error", "json_body", "routes"]

routes = [
    Route("/conversations", start_conversation, methods=["POST"]),
    Route("/search", search, methods=["GET"]),
    Route("/reports/macros", macro_report, methods=["GET"]),
    Route("/customers", search_customers, methods=["GET"]),
    Route("/customers/{customer_id}", get_customer, methods=["GET"]),
    Route("/customers/{customer_id}/timeline", customer_timeline, methods=["GET"]),
    Route("/customers/{customer_id}/merge", merge_customer, methods=["POST"]),
    Route("/customers/{customer_id}/unmerge", unmerge_customer, methods=["POST"]),
    Route("/conversations", list_conversations, methods=["GET"]),
    Route("/conversations/{conversation_id}", get_conversation, methods=["GET"]),
    Route("/conversations/{conversation_id}", update_conversation, methods=["PATCH"]),
    Route("/conversations/{conversation_id}/events", conversation_events, methods=["GET"]),
    Route("/conversations/{conversation_id}/reply", reply, methods=["POST"]),
    Route("/conversations/{conversation_id}/reply-options", reply_options, methods=["GET"]),
    Route("/conversations/{conversation_id}/notes", add_note, methods=["POST"]),
]
