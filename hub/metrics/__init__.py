"""Measuring the service: operational metrics for Prometheus (``prom``), service
metrics computed from the timeline (``service``), and the reports built on them.

Surveys (CSAT, CES, NPS) live in :mod:`hub.surveys`; their answers are timeline
events, which is what the service metrics read.
"""

from __future__ import annotations

from hub.metrics.prom import HubMetrics

__all__ = ["HubMetrics"]
