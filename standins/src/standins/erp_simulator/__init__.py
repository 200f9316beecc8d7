"""ERP simulator: plays the ERP on Kafka (local stack and tests only).

It consumes every topic the contracts registry gives to the consumer ``erp``, records each message it
receives (table ``received``) and creates each sales order once per ``idempotency_key`` (table
``sales_orders``); a further message with the same key only increments ``duplicates_discarded``. Tests read
``GET /stats`` and ``GET /sales-orders`` to prove "exactly once at the ERP".
"""
