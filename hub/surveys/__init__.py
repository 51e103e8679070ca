"""Surveys on the customer's own channel: CSAT after a resolution (in the widget at once,
by email within the hour with signed single-use links, by SMS as a 1-5 reply), CES where a
channel asks for it, NPS at most every ``nps_days`` per customer. Never twice for one
conversation, never on spam or a conversation we never answered.

Modules: ``settings`` (``[surveys]``), ``records`` (the timeline events: sent, answered),
``service`` (:class:`Surveys`: the bus side and the sweep), ``sms`` (the ingest policy
that takes a 1-5 reply as an answer), ``web`` (the answer page and route).
"""
