"""ERP simulator: plays the ERP on Kafka (local stack and tests only).

It consumes every topic the contracts registry gives to the consumer ``erp`` and records each message it
receives (table ``received``, ``GET /received``). It creates each sales order once per ``idempotency_key``
(table ``sales_orders``; a further message with the same key only increments ``duplicates_discarded``), answers
customer verifications from its customers (seed data in :mod:`.seed`, more through ``POST /admin/customers``)
on the ERP's inbound topic through its outbox (``GET /sent``), and switches a customer's customer center on when
told (``GET /customers/{number}``). ``POST /admin/pause`` and ``/admin/resume`` simulate an ERP outage: while
paused it neither consumes nor answers.
"""
