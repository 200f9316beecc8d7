"""Stand-ins for systems that are not ours: the shop's identity provider (:mod:`standins.dev_issuer`), a
mailbox (:mod:`standins.smtp_sink`) and the ERP (:mod:`standins.erp_simulator`).

They serve the local stack and the tests only and are never deployed to production. Product code must not
import this package. Each stand-in runs as ``python -m standins.<name>``, reads ``<PREFIX>…`` environment
variables, serves HTTP (``/healthz``, ``/readyz`` and its own inspection endpoints) and logs JSON lines.
"""
