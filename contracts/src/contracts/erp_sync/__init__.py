"""Messages owned by erp-sync (besides the ERP-facing family in :mod:`contracts.erp`)."""
