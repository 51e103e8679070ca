"""Support operations: triage, SLA clocks, assignment, acknowledgements, time rules.

A layer beside the pipeline, off unless ``[operations] enabled = true``. It reads
the bus and the store and writes only through the pipeline; each decision is a
``status`` event naming its rule. Modules: ``settings`` (the ``[operations]``
section and SUPPORT.md's defaults), ``calendar`` (business time), ``triage``
(rules), ``sla`` (policies and clocks), ``staffing`` (assignment, estimates),
``service`` (the bus side and :class:`Operations`), ``sweep`` (thresholds and
time rules), ``report`` (rule accuracy, breaches), ``display`` (what the agent
view shows), ``overrides`` (admins' stored edits), ``api`` and ``web`` (routes).
"""

from __future__ import annotations

from hub.operations.service import ALERT, Operations
from hub.operations.settings import OperationsSettings

__all__ = ["ALERT", "Operations", "OperationsSettings"]
