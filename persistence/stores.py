"""What else lives in the ledger's database besides events, for whichever store it uses."""

from __future__ import annotations

from eventsourcing.application import Application

from persistence.postgres import PostgresFactory
from persistence.tokens import TokenStore


def store_kind(application: Application) -> str:
    """'sqlite' or 'postgresql'."""
    return "postgresql" if isinstance(application.factory, PostgresFactory) else "sqlite"


def token_store_for(application: Application) -> TokenStore:
    """A token store in the same database as the application's events."""
    if store_kind(application) == "postgresql":
        datastore = application.factory.datastore
        store = TokenStore(datastore, placeholder="%s", table=datastore.qualified("api_tokens"),
                           reader=datastore.cursor)
    else:
        store = TokenStore(application.factory.datastore, placeholder="?")
    store.create_table()
    return store
