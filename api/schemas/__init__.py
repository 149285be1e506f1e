"""Marshmallow schemas: the shape of every request and answer of the HTTP contract, by subject."""
