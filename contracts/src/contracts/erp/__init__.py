"""The ERP-facing contract: a deliberately stable topic family (``erp.outbound.*``, ``erp.inbound.*``)."""
