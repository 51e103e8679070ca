"""Surveys on the customer's own channel: CSAT after a resolution (in the widget at once,
by email within the hour with signed single-use links, by SMS as a 1-5 reply, on WhatsApp
and Messenger with buttons), CES where a channel asks for it, NPS at most every
``nps_days`` per customer. Never twice for one conversation, never on spam or a
conversation we never answered.

Modules: ``settings`` (``[surveys]``), ``records`` (the timeline events: sent, answered),
``service`` (:class:`Surveys`: the bus side and the sweep), ``replies`` (the ingest
policy that takes a reply of 1-5, or a picked button, as the answer), ``web`` (the
answer page and route).
"""
