"""`flask --app wsgi tokens|projections|audit ...`: operations from the command line."""

from __future__ import annotations

import os
import signal
import threading
import time

import click
from flask import current_app
from flask.cli import AppGroup

from domain.principal import ROLES
from persistence.tokens import UnknownTokenError
from projections.service import VIEW_CLASSES

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


projections_cli = AppGroup("projections", help="Run, rebuild and inspect the projections (read models).")


@projections_cli.command("run")
@click.option("--poll-interval", default=1.0, show_default=True, help="Seconds between looks when idle.")
def run(poll_interval: float) -> None:
    """Keep every view up to date until stopped (SIGINT/SIGTERM); one active worker at a time."""
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    projections = current_app.extensions["projections"]
    click.echo(f"projection worker started; positions {projections.positions()}", err=True)
    projections.run(stopping.is_set, poll_interval, log=lambda line: click.echo(line, err=True))
    click.echo("projection worker stopped", err=True)


@projections_cli.command("rebuild")
@click.argument("names", nargs=-1, type=click.Choice(sorted(VIEW_CLASSES)))
def rebuild(names: tuple[str, ...]) -> None:
    """Replay every event into fresh view tables, then switch over; queries keep working meanwhile."""
    projections = current_app.extensions["projections"]
    for name in names or sorted(VIEW_CLASSES):
        started = time.monotonic()
        generation = projections.rebuild(name, progress=_progress)
        click.echo(f"{name}: generation {generation} live after {time.monotonic() - started:.1f}s", err=True)


@projections_cli.command("status")
def status() -> None:
    """Each view's position and how far it lags behind the store."""
    projections = current_app.extensions["projections"]
    lag = projections.lag()
    for name, position in projections.positions().items():
        click.echo(f"{name}\tposition {position}\tlag {lag[name]}")


def _progress(name: str, position: int, head: int) -> None:
    click.echo(f"\r{name}: {position}/{head}", err=True, nl=False)
    if position >= head:
        click.echo("", err=True)


audit_cli = AppGroup("audit", help="Verify the audit trail and the derived state against the events.")


@audit_cli.command("verify")
@click.option("--incremental", is_flag=True,
              help="Check only what is new since the checkpoint the last incremental run kept (then move it).")
@click.option("--head-position", type=int, help="With --head-hash: a head kept earlier; the chain must pass through it.")
@click.option("--head-hash", help="The hash of that head.")
@click.option("--processes", type=click.IntRange(1, 64), default=os.cpu_count() or 1, show_default=True,
              help="Slices of the chain verified at once, each by its own process.")
def verify(incremental: bool, head_position: int | None, head_hash: str | None, processes: int) -> None:
    """Verify the chain (and snapshots, idempotency records, index rows); the answer as JSON on stdout.

    Progress goes to stderr every 50,000 entries. Exit status 0 when all is well, 1 when not.
    """
    import json

    from domain.principal import AUDITOR, Principal

    if (head_position is None) != (head_hash is None):
        raise click.UsageError("give --head-position and --head-hash together")
    started = time.perf_counter()

    def progress(checked: int, position: int) -> None:
        click.echo(f"verified {checked:,} entries, up to position {position:,} "
                   f"({time.perf_counter() - started:.1f} s)", err=True)

    queries = current_app.extensions["queries"]
    if current_app.config["PROJECTIONS_MODE"] == "inline":
        current_app.extensions["projections"].catch_up()
    anchor = (head_position, head_hash) if head_position is not None else None
    answer = queries.verify_audit(Principal("cli", AUDITOR), anchor, incremental=incremental, progress=progress,
                                  processes=processes)
    click.echo(json.dumps(answer, indent=1))
    click.echo(f"{'ok' if answer['ok'] else 'NOT OK'}: {answer['entries_checked']:,} entries checked "
               f"in {time.perf_counter() - started:.2f} s", err=True)
    if not answer["ok"]:
        raise SystemExit(1)
