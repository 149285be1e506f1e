"""Stores behind the ledger: selecting one from DATABASE_URL, the PostgreSQL adapter, API tokens."""
