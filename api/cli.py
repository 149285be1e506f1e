"""`flask --app wsgi tokens issue|revoke|list`: API tokens from the command line."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from domain.principal import ROLES
from persistence.tokens import UnknownTokenError

tokens_cli = AppGroup("tokens", help="Issue, list and revoke API bearer tokens.")


@tokens_cli.command("issue")
@click.option("--role", required=True, type=click.Choice(ROLES), help="The role the token acts in.")
@click.option("--principal", required=True, help="The principal id (1-128 characters), e.g. an email or HR id.")
def issue(role: str, principal: str) -> None:
    """Issue a token; it is printed alone, once, and stored only as a hash."""
    try:
        token = current_app.extensions["tokens"].issue(principal, role)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None
    click.echo(token)


@tokens_cli.command("revoke")
@click.argument("token_or_prefix")
def revoke(token_or_prefix: str) -> None:
    """Revoke a token, named by the token itself or by its 8-character prefix."""
    try:
        info = current_app.extensions["tokens"].revoke(token_or_prefix)
    except UnknownTokenError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"revoked {info.prefix} ({info.role} {info.principal_id})", err=True)


@tokens_cli.command("list")
def list_tokens() -> None:
    """List tokens: prefix, role, principal, created, revoked. Never the secrets."""
    for info in current_app.extensions["tokens"].list():
        state = f"revoked {info.revoked_at}" if info.revoked_at else "active"
        click.echo(f"{info.prefix}\t{info.role}\t{info.principal_id}\t{info.created_at}\t{state}")
