"""`chartcode init`, `status`, `records` and `coders`: create an audit, see where it stands,
register records and coders."""

from __future__ import annotations

import json
from pathlib import Path

import click

from chartcode.cli.common import DB, WAIT, _Group, _open
from chartcode.errors import UserError


@click.command()
@DB
@click.option("--audit", "audit_ref", help="Audit definition: a YAML file or a shipped name (e.g. conjoint-pain).")
@click.option("--codebook", "codebook_ref", help="Codebook YAML file or shipped name, when there is no audit file.")
@click.option(
    "--coder",
    "coders",
    multiple=True,
    metavar="NAME[:ROLE]",
    help="Add a coder (role coder, supervisor or lead; default coder). Repeatable.",
)
@click.option("--title", help="Audit title (default: from the audit file or codebook).")
def init(db: Path, audit_ref: str | None, codebook_ref: str | None, coders: tuple[str, ...], title: str | None):
    """Create the audit database DB from an audit definition or a codebook.

    The database is created readable by you only (0600) and stores the codebook it was
    created with, by content hash.
    """
    from chartcode import resources
    from chartcode.audit import load_audit
    from chartcode.codebook import load_codebook
    from chartcode.store import Store

    if bool(audit_ref) == bool(codebook_ref):
        raise UserError("give exactly one of --audit FILE or --codebook FILE")
    extra = []
    for spec in coders:
        name, _, role = spec.partition(":")
        extra.append((name.strip(), (role or "coder").strip()))
    if audit_ref:
        audit = load_audit(audit_ref)
        if db.exists():
            _check_existing(db, audit.codebook, str(audit.codebook_path))
        store = Store.create(
            db,
            audit.codebook,
            title=title,
            audit=audit.as_dict(),
            audit_source=audit.source,
            coders=[*audit.coders, *extra],
        )
        what = f"audit {audit.id} ({audit.codebook_path.name})"
    else:
        assert codebook_ref is not None  # exactly one of the two was given (checked above)
        path = resources.resolve("codebooks", codebook_ref)
        codebook = load_codebook(path)
        if db.exists():
            _check_existing(db, codebook, str(path))
        store = Store.create(db, codebook, title=title, coders=extra)
        what = f"codebook {codebook.id} {codebook.version}"
    with store:
        cb = store.codebook
        click.echo(
            f"created {db} from {what}: {len(cb.fields)} fields, codebook hash {cb.short_hash}, "
            f"coders: {', '.join(c['name'] for c in store.coders()) or 'none (add with `chartcode coders add`)'}"
        )


def _check_existing(db: Path, codebook, shown: str) -> None:
    with _open(db) as store:
        store.require_codebook(codebook, shown)
    raise UserError(f"{db}: already exists with this codebook; nothing to do")


@click.command()
@DB
@click.option("--json", "as_json", is_flag=True, help="Print counts as JSON.")
def status(db: Path, as_json: bool):
    """Counts of records, notes, codes and each coder's progress."""
    with _open(db) as store:
        counts = store.counts()
        if as_json:
            click.echo(json.dumps(counts, indent=None))
            return
        cb = counts["codebook"]
        click.echo(f"{store.title}")
        click.echo(f"codebook {cb['id']} {cb['version']} ({cb['hash'][:12]})")
        click.echo(
            f"{counts['records']} records, {counts['notes']} notes, {counts['codes']} codes,"
            f" {counts['consensus']} consensus values, {counts['history']} history entries"
        )
        for c in counts["coder_progress"]:
            click.echo(
                f"  {c['name']:<16} {c['role']:<10} {c['done']:>5}/{c['assigned']:<5} done"
                f"  {c['codes']:>6} codes  {c['flagged']} flagged"
            )


@click.group(cls=_Group)
def records() -> None:
    """Register and list records (patients, or teams and sites in fidelity audits)."""


@records.command("add")
@DB
@WAIT
@click.argument("ids", nargs=-1, required=True)
def records_add(db: Path, ids: tuple[str, ...]):
    """Register records ID... without notes."""
    with _open(db) as store:
        new = store.add_records(ids)
        click.echo(f"{new} new records ({len(ids) - new} already there)")


@records.command("list")
@DB
def records_list(db: Path):
    """List record ids with their number of notes."""
    with _open(db) as store:
        for row in store.records_with_note_counts():
            click.echo(f"{row['id']}\t{row['notes']}")


@click.group(cls=_Group)
def coders() -> None:
    """Add and list the coders of an audit."""


@coders.command("add")
@DB
@WAIT
@click.argument("name")
@click.option("--role", type=click.Choice(["coder", "supervisor", "lead"]), default="coder", show_default=True)
@click.option(
    "--password-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="On a server: read the new login's password from this file (else it is asked for).",
)
def coders_add(db: Path, name: str, role: str, password_file: Path | None):
    """Add coder NAME with a role.

    On a team server (DB is a postgresql:// URL, as an administrator) this creates NAME's login role
    in the audit's group for ROLE, with a password asked for (or read from --password-file).
    """
    from chartcode.store import is_server

    if is_server(db):
        from chartcode.cli.server import add_server_coder

        add_server_coder(str(db), name, role, password_file)
        return
    with _open(db) as store:
        added = store.add_coder(name, role)
        click.echo(f"added {name} ({role})" if added else f"{name} is already a {role}")


@coders.command("remove")
@DB
@click.argument("name")
def coders_remove(db: Path, name: str):
    """On a team server: disable NAME's login to this audit; their codes and history are kept."""
    from chartcode.store import is_server

    if not is_server(db):
        raise UserError("coders remove works on a team server (postgresql://...); a file audit keeps its coders")
    from chartcode.store.pg import admin

    admin.remove_coder(str(db), name)
    click.echo(f"{name} can no longer log in to this audit; their codes and history are kept")


@coders.command("list")
@DB
def coders_list(db: Path):
    """List coders and their roles."""
    with _open(db) as store:
        for c in store.coders():
            click.echo(f"{c['name']}\t{c['role']}")
