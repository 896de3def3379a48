"""`chartcode export`: final values or every code, for analysts (registered in cli/__init__.py).

The work is in chartcode.export; this module only parses options and reports.
"""

from __future__ import annotations

from pathlib import Path

import click

from chartcode.cli.common import _Target
from chartcode.export import FORMATS
from chartcode.export.formats import DATE_MODES


@click.command("export")
@click.argument("db", type=_Target())
@click.option("--format", "fmt", required=True, metavar="FORMAT", help=f"One of: {', '.join(FORMATS)}.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="File to write.")
@click.option(
    "--long",
    "long_",
    is_flag=True,
    help="Every code by every coder (csv, xlsx, json), instead of one row of final values per record.",
)
@click.option(
    "--deidentify",
    is_flag=True,
    help="Drop identifier and free-text fields and memos; replace record and note ids with salted hashes;"
    " shift dates (see --dates); report ages over 89 as 90+.",
)
@click.option(
    "--dates",
    type=click.Choice(DATE_MODES),
    default=None,
    help="With --deidentify: 'shift' (default) moves every date of a record by one per-record offset"
    " (1-182 days either way, intervals kept); 'year' keeps each date's year only.",
)
@click.option(
    "--as",
    "viewer",
    metavar="NAME",
    help="Who is looking (--long). Other coders' codes show only on records you are assigned to and have"
    " submitted, once every coder of the record has; a lead sees everything; without --as, none.",
)
@click.option("--force", is_flag=True, help="Overwrite existing files.")
def export(
    db: Path, fmt: str, out: Path, long_: bool, deidentify: bool, dates: str | None, viewer: str | None, force: bool
):
    """Export final values (one row per record; note-level fields as a second table) or, with
    --long, every code by every coder.

    \b
    csv     OUT and OUT_notes.csv            xlsx  sheets records, notes, codebook, agreement, analyses, audit
    sav/dta OUT and OUT_notes.sav|dta, with variable and value labels from the codebook
    json    {"records", "notes", "codebook"} redcap  a data-import CSV (note-level fields as a
    repeating instrument, see README)

    Final values: consensus, else the coders' shared submitted value; the column
    <field>__source (<field>_src in SPSS/Stata) says which. No export contains note text.
    JSON (history_head) and XLSX (sheet audit) carry the history's chain head: check it later
    with `chartcode verify DB --head HEX`.
    """
    from chartcode.export import export as run_export
    from chartcode.store import open_store

    store = open_store(db)
    try:
        result = run_export(store, fmt, out, long=long_, deidentify=deidentify, viewer=viewer, force=force, dates=dates)
    finally:
        store.close()
    for line in result.warnings:
        click.echo(line, err=True)
    if result.hidden:
        click.echo(
            f"({result.hidden} codes held back: blind until every coder of their record has submitted it;"
            " a lead may pass --as)",
            err=True,
        )
    counts = ", ".join(f"{n} {what}" for what, n in result.rows.items())
    click.echo(f"wrote {', '.join(str(p) for p in result.files)} ({counts})")
