"""Read models fed by the ledger's events (audit trail, health, skills growth, relationship index)."""
