"""`chartcode migrate` and `chartcode snapshot`: move a whole audit from a file to a team server, or
write a server audit to a file (archive, offline analysis), each copy checked before it is kept."""

from __future__ import annotations

from pathlib import Path

import click

from chartcode.errors import UserError


def _phase(message: str) -> None:
    click.echo(f"  {message}", err=True)


@click.command()
@click.argument("db", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("url")
def migrate(db: Path, url: str):
    """Copy the file audit DB into a new audit at URL (a postgresql:// URL, as an administrator).

    Everything moves: records, notes, codebooks (with their hashes), coders, assignments,
    submissions, codes, memos, flags, consensus and the history (the server seals its own chain
    over the same entries). The file's history must check out first; the copy must hold as many
    rows in every table, the same codebook, and check out itself (`chartcode verify URL`), or
    nothing is kept. A database that already holds a chartcode audit is refused. Then give each
    coder a login with `chartcode coders add URL NAME --role ROLE` (the same name and role).
    """
    from chartcode.store import is_server
    from chartcode.store.pg import migrate as moving
    from chartcode.store.pg import redacted

    if not is_server(url):
        raise UserError(f"{url}: not a PostgreSQL URL (postgresql://[user@]host[:port]/dbname)")
    if not db.exists():
        raise UserError(f"{db}: no such audit file")
    counts = moving.to_server(db, url, on_phase=_phase)
    click.echo(
        f"migrated {db} to {redacted(url)}: {counts['records']} records, {counts['notes']} notes,"
        f" {counts['codes']} codes, {counts['consensus']} consensus values, {counts['history']} history entries;"
        " counts, codebook hash and history checked"
    )


@click.command()
@click.argument("url")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Audit file to write.")
@click.option("--force", is_flag=True, help="Replace an existing file.")
def snapshot(url: str, out: Path, force: bool):
    """Write the server audit at URL to the audit file OUT (as an administrator).

    The file holds everything the server does, every coder's values included, so it is written
    owner-only (0600). The server's history must check out; the file's own chain is sealed over
    the same entries and checked, with the row counts and the codebook hash, before the file is
    moved into place.
    """
    from chartcode.store import is_server
    from chartcode.store.pg import migrate as moving
    from chartcode.store.pg import redacted

    if not is_server(url):
        raise UserError(f"{url}: not a PostgreSQL URL (postgresql://[user@]host[:port]/dbname)")
    if out.exists() and not force:
        raise UserError(f"{out}: already exists (--force replaces it)")
    if not out.parent.exists():
        raise UserError(f"{out.parent}: no such folder")
    counts = moving.to_file(url, out, on_phase=_phase)
    click.echo(
        f"wrote {out} from {redacted(url)}: {counts['records']} records, {counts['codes']} codes,"
        f" {counts['history']} history entries; counts, codebook hash and history checked"
    )
