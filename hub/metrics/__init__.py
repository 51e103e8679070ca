"""Measuring the service: operational metrics for Prometheus (``prom``), each
conversation's facts from its timeline (``facts``), service metrics over a period
(``service``), reports as JSON/CSV (``report``, ``api``), the agent view's Reports page
(``web``) and the weekly summary email (``weekly``; settings in ``settings``).

Surveys (CSAT, CES, NPS) live in :mod:`hub.surveys`; their answers are timeline
events, which is what the service metrics read.
"""
