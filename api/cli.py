"""`flask --app wsgi tokens|projections|audit ...`: operations from the command line."""

from __future__ import annotations

import os
import re
import signal
import subprocess  # nosec B404 - the CLI starts itself, with fixed arguments
import sys
import threading
import time
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from domain.principal import ROLES
from persistence.pg_datastore import not_answering
from persistence.sqlite import StoreFileChangedError
from persistence.tokens import UnknownTokenError
from projections.service import VIEW_CLASSES

tokens_cli = AppGroup("tokens", help="Issue, list and revoke API bearer tokens.")


@tokens_cli.command("issue")
@click.option("--role", required=True, type=click.Choice(ROLES), help="The role the token acts in.")
@click.option("--principal", required=True, help="The principal id (1-128 characters), e.g. an email or HR id.")
def issue(role: str, principal: str) -> None:
    """Issue a token; it is printed alone, once, and stored only as a hash."""
    from domain.identifiers import normalised

    vault, tokens = current_app.extensions["ledger"].vault, current_app.extensions["tokens"]

    def refuse_if_erased(participant_id: str) -> None:
        refusal = vault.erasure_refusal(participant_id)
        if refusal is not None:
            raise click.BadParameter(f"{refusal} No token is issued for the id.", param_hint="--principal")

    refuse_if_erased(normalised(principal))
    try:
        token = tokens.issue(principal, role)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None
    try:  # an erasure begun meanwhile deleted the person's tokens before this one was stored: not this one
        refuse_if_erased(normalised(principal))
    except click.BadParameter:
        tokens.delete_for(normalised(principal))
        raise
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


# What applying an event to a view costs (microseconds, about the mean of SQLite and PostgreSQL, from bench.views:
# a view's rebuild less the reading of the store, which the views of one process share): processes are given
# views of about equal cost.
COST = {"audit_trail": 75, "relationship_health": 80, "relationship_index": 25, "skills_growth": 35}


def groups(names: list[str], processes: int) -> list[list[str]]:
    """``names`` split into at most ``processes`` groups of about equal cost (the costliest placed first)."""
    shares: list[list[str]] = [[] for _ in range(max(1, min(processes, len(names))))]
    for name in sorted(names, key=lambda n: -COST.get(n, 100)):
        min(shares, key=lambda group: sum(COST.get(n, 100) for n in group)).append(name)
    return [sorted(group) for group in shares]


def in_processes(command: list[str], views: list[list[str]]) -> None:
    """Run ``flask --app wsgi <command> <views>`` once per group of views, wait for all; stop them on a signal."""
    flask = [sys.executable, "-m", "flask", "--app", os.environ.get("FLASK_APP", "wsgi")]
    children = [subprocess.Popen([*flask, *command, *group]) for group in views]  # nosec B603 - our own CLI
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda number, _: [child.send_signal(number) for child in children])
    failed = [child.wait() for child in children]
    if any(failed):
        raise SystemExit(1)


@projections_cli.command("run")
@click.option("--poll-interval", default=1.0, show_default=True, help="Seconds between looks when idle.")
@click.option("--views", "names", help="Comma-separated views to keep up to date (default: all).")
@click.option("--processes", type=click.IntRange(1, 4), default=1, show_default=True,
              help="Worker processes, each with its share of the views (PostgreSQL: a lock per view).")
def run(poll_interval: float, names: str | None, processes: int) -> None:
    """Keep the views up to date until stopped (SIGINT/SIGTERM); one active worker per view."""
    chosen = _views(names)
    if processes > 1:
        shares = groups(chosen, processes)
        in_processes(["projections", "run", "--poll-interval", str(poll_interval), "--views"],
                     [[",".join(group)] for group in shares])
        return
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    projections = current_app.extensions["projections"]
    try:
        positions = projections.positions()
    except Exception as error:
        if not not_answering(error):
            raise
        positions = "unknown yet (the store does not answer)"  # the run waits for it
    click.echo(f"projection worker started for {', '.join(chosen)}; positions {positions}", err=True)
    try:
        projections.run(stopping.is_set, poll_interval, log=lambda line: click.echo(line, err=True), names=chosen)
    except StoreFileChangedError as error:  # exits (status 1) for its supervisor to start it again, as the API's
        raise click.ClickException(str(error)) from None  # processes refuse the store until restarted
    click.echo("projection worker stopped", err=True)


def _views(names: str | None) -> list[str]:
    chosen = sorted({name.strip() for name in names.split(",") if name.strip()}) if names else sorted(VIEW_CLASSES)
    unknown = [name for name in chosen if name not in VIEW_CLASSES]
    if unknown:
        raise click.BadParameter(f"no such view: {', '.join(unknown)} (views: {', '.join(sorted(VIEW_CLASSES))})")
    return chosen


@projections_cli.command("rebuild")
@click.argument("names", nargs=-1, type=click.Choice(sorted(VIEW_CLASSES)))
@click.option("--processes", type=click.IntRange(1, 4), default=1, show_default=True,
              help="Rebuild views in this many processes at once, each its share of the views.")
def rebuild(names: tuple[str, ...], processes: int) -> None:
    """Replay every event into fresh view tables, then switch over; queries keep working meanwhile. The views
    of one process are rebuilt from one reading of the store."""
    chosen = sorted(names or VIEW_CLASSES)
    if processes > 1 and len(chosen) > 1:
        in_processes(["projections", "rebuild"], groups(chosen, processes))
        return
    projections = current_app.extensions["projections"]
    started = time.monotonic()
    generations = projections.rebuild_together(chosen, progress=_progress)  # one reading of the store for all
    for name, generation in generations.items():
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
    if head_hash is not None and not re.fullmatch(r"[0-9a-f]{64}", head_hash):
        raise click.BadParameter("a head's hash is 64 lowercase hexadecimal digits", param_hint="--head-hash")
    if head_position is not None and head_position < 1:
        raise click.BadParameter("a head's position is 1 or more", param_hint="--head-position")
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


privacy_cli = AppGroup("privacy", help="Personal data: export, erase, rotate the master key, migrate an old store.")


def _operator(by: str) -> Any:
    from domain.principal import COORDINATOR, Principal

    return Principal(by, COORDINATOR)


@privacy_cli.command("erase")
@click.argument("participant_id")
@click.option("--reason", help="Why (kept in the record in plain text; it may not name the person).")
@click.option("--by", default="operator", show_default=True, help="The coordinator recorded as erasing.")
def erase(participant_id: str, reason: str | None, by: str) -> None:
    """Erase a participant's personal data; the answer as JSON on stdout (the same when asked again)."""
    import json

    from domain import errors
    from domain.identifiers import normalised

    from domain.identifiers import identifier_problem

    problem = identifier_problem(normalised(by))
    if problem is not None:
        raise click.BadParameter(problem, param_hint="--by")
    try:
        answer = current_app.extensions["privacy"].erase(_operator(normalised(by)), normalised(participant_id),
                                                         reason)
    except errors.LedgerError as error:
        raise click.ClickException(str(error)) from None
    if current_app.config["PROJECTIONS_MODE"] == "inline":
        current_app.extensions["projections"].catch_up()
    click.echo(json.dumps({**answer, "erased_at": answer["erased_at"].isoformat().replace("+00:00", "Z")}))


@privacy_cli.command("export")
@click.argument("participant_id")
def export(participant_id: str) -> None:
    """Everything held about a participant, as one JSON document on stdout."""
    from api.schemas.privacy import ExportSchema
    from domain import errors
    from domain.identifiers import normalised

    if current_app.config["PROJECTIONS_MODE"] == "inline":
        current_app.extensions["projections"].catch_up()
    try:
        document = current_app.extensions["privacy"].export(_operator("operator"), normalised(participant_id))
    except errors.LedgerError as error:
        raise click.ClickException(str(error)) from None
    click.echo(ExportSchema().dumps(document, indent=1))


@privacy_cli.command("rewrap")
def rewrap() -> None:
    """After a master key rotation: wrap every relationship key with the current LEDGER_MASTER_KEY."""
    count = current_app.extensions["ledger"].vault.rewrap()
    click.echo(f"rewrapped {count} keys with master key {current_app.extensions['ledger'].vault.master_id}", err=True)


@privacy_cli.command("migrate")
@click.option("--to", "target", required=True, help="DATABASE_URL of the new, empty store.")
def migrate(target: str) -> None:
    """Copy a store written before the privacy scheme into a new store under it (people as subjects, texts
    encrypted); the new chain starts from the old store's head. The old store is not changed."""
    from persistence.migration import MigrationError, migrate_store

    if current_app.config["PROJECTIONS_MODE"] == "inline":
        current_app.extensions["projections"].catch_up()
    try:
        report = migrate_store(current_app, target,
                               progress=lambda n: click.echo(f"\rcopied {n:,} events", err=True, nl=False))
    except MigrationError as error:
        raise click.ClickException(str(error)) from None
    click.echo("", err=True)
    for line in report:
        click.echo(line)


@click.command("demo")
@click.option("--seed", type=int, default=7, show_default=True, help="The same seed makes the same program.")
@with_appcontext
def demo_cli(seed: int) -> None:
    """Fill an EMPTY store with a demo program (two cohorts, six months, every health status) made through the
    ledger's own commands, and print a token to sign in with for each role."""
    from api.demo import fill, people_to_sign_in_as
    from domain.principal import Principal
    from projections.index import IndexFilter

    ledger = current_app.extensions["ledger"]
    started = time.perf_counter()
    try:
        made = fill(ledger, seed=seed)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    current_app.extensions["projections"].catch_up()
    queries = current_app.extensions["queries"]
    overseer = Principal(made["coordinator"], "coordinator")
    rows, _ = queries.health_page(overseer, program_id=None, status=None, after=None, limit=500)
    statuses: dict[str, int] = {}
    for row in rows:
        statuses[row["status"]] = statuses.get(row["status"], 0) + 1
    relationships = len(queries.list_relationships(overseer, IndexFilter(), None, 500))
    click.echo(f"demo program: {relationships} relationships, {ledger.position()} events in "
               f"{time.perf_counter() - started:.1f} s; health: "
               + ", ".join(f"{count} {name.replace('_', ' ')}" for name, count in sorted(statuses.items())), err=True)
    click.echo("sign in at /app/ (e.g. http://127.0.0.1:5000/app/) with one of these tokens:", err=True)
    tokens = current_app.extensions["tokens"]
    for role, principal, why in people_to_sign_in_as(made):
        click.echo(f"{role}\t{principal}\t{tokens.issue(principal, role)}\t{why}")
