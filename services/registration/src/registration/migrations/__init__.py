"""registration's migration history (Alembic, plain SQL; ADR 0019)."""
