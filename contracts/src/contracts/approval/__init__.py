"""Messages owned by the approval service."""
