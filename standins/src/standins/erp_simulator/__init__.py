"""ERP simulator: plays the ERP side of the whole ERP-facing contract (local stack and tests only).

It consumes every topic the contracts registry gives to the consumer ``erp`` and records each message it
receives (table ``received``, ``GET /received``). It acts on each message once per ``idempotency_key`` and counts
the copies it discarded: it creates each sales order once (table ``sales_orders``, ``duplicates_discarded``) and
confirms it with its order number or rejects it by its rules (``GET``/``PUT /admin/rules``; a SKU starting with
``REJECT-`` by default); it keeps the contact persons the Kundencenter sends (``GET /contacts``) and answers with
its contact ids; it answers customer verifications from its customers (seed data in :mod:`.seed`, more through
``POST /admin/customers``) and switches a customer's customer center on when told (``GET /customers/{number}``).
Copies of a request are answered again (the asker missed the answer). Everything it sends goes through its
outbox (``GET /sent``), also what it sends on command: master data (``POST /admin/customers/{n}/master-data``,
e.g. revoking the customer center), contact persons (``…/contacts``) and invoices (``…/invoices``).
``POST /admin/pause`` and ``/admin/resume`` simulate an ERP outage: while paused it neither consumes nor sends.

It is the price authority too (:mod:`.prices`: the default price list, the seeded prices, as tables): each
customer's articles and prices (``GET /customers/{number}/prices``), published when a customer is created (the
default list), at start (the seed, only what was never published) and on every change through
``PUT /admin/customers/{number}/prices/{sku}``; a ``CustomerPriceListRequested`` is answered once per key with a
full resend (every article with a ``resend_id``, then ``CustomerPriceListResent``).
"""
