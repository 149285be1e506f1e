"""The mentorship domain: the relationship aggregate, its events and rules, and the ledger application."""
