"""Surveys on the customer's own channel: CSAT after a resolution, CES where an inbox asks
for it, NPS at most quarterly per customer. Answers are timeline events (:mod:`.records`).
"""

from __future__ import annotations

from hub.surveys.records import KINDS, SCALES, answer_event, sent_event

__all__ = ["KINDS", "SCALES", "answer_event", "sent_event"]
