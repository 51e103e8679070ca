"""What protects the hub from its own users and strangers (README: Security).

* :mod:`.throttle` — sign-in attempts counted per (account, client) with backoff,
  and per client across accounts.
* :mod:`.clients` — the client address of a request (its trusted proxy's
  forwarded address) and the per-client visitor budgets.
* :mod:`.headers` — CSP, ``frame-ancestors`` and HSTS on every HTML answer.
* :mod:`.health` — ``/healthz`` details only for a token.
"""
