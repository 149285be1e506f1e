"""Relationship health: what each event changes (figures), the score (score), its SQL twin (sql), the view."""
