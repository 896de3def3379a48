"""`chartcode import`: chart notes from CSV, JSON Lines or a folder of .txt files."""

from __future__ import annotations

from pathlib import Path

import click

from chartcode.cli.common import DB, WAIT, _open, _progress


@click.command("import")
@DB
@WAIT
@click.argument("source", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "tsv", "jsonl", "folder"]),
    help="Default: from the name (.csv, .tsv, .jsonl; a folder of .txt files).",
)
@click.option(
    "--map",
    "mapping",
    multiple=True,
    metavar="FIELD=COLUMN",
    help="Read FIELD (record_id, note_id, note_date, note_type, author, text) from another column.",
)
@click.option("--encoding", default="utf-8", show_default=True, help="Text encoding of the file(s).")
@click.option("--date-format", help="strptime format of note_date when it is not ISO, e.g. '%m/%d/%Y'.")
@click.option(
    "--pattern",
    help="For a folder: a regex on each file's relative path with named groups"
    " (?P<record_id>...), (?P<note_id>...), (?P<note_date>...).",
)
@click.option(
    "--replace",
    is_flag=True,
    help="Fix a wrong import: for every record in SOURCE, stored notes that SOURCE drops or changes are"
    " removed (each listed and in the history) and SOURCE's notes imported in their place.",
)
@click.option("--force", is_flag=True, help="With --replace: also remove the codes on the notes replaced.")
def import_(db: Path, source: Path, fmt, mapping, encoding, date_format, pattern, replace, force):
    """Import chart notes from SOURCE: CSV, JSON Lines, or a folder of .txt files.

    \b
    Columns (CSV) or keys (JSON Lines): record_id, note_id, note_date, note_type, author, text.
    A folder holds one note per .txt file, one sub-folder per record.
    The import is all-or-nothing; importing the same notes again changes nothing.
    """
    from chartcode.importers.notes import import_notes, parse_mapping

    with _open(db) as store:
        update, finish = _progress("importing notes")
        try:

            def phase(message: str) -> None:
                if update is not None:  # on a terminal: close the bar, say what is happening now
                    finish()
                    click.echo(f"{message}...", err=True)

            result = import_notes(
                store,
                source,
                fmt=fmt,
                mapping=parse_mapping(mapping),
                encoding=encoding,
                date_format=date_format,
                pattern=pattern,
                progress=update,
                on_phase=phase,
                replace=replace,
                force=force,
            )
        finally:
            finish()
        if result.replaced is not None:
            _list_removed(result.replaced, "replaced")
        click.echo(result.summary())
        for line in result.warnings():
            click.echo(line, err=True)


def _list_removed(removed, verb: str) -> None:
    """Every note (and code) removed, by id: nothing goes without being listed."""
    for n in removed.notes:
        click.echo(f"{verb} note {n['note_id']} of record {n['record_id']}")
    for c in removed.codes:
        click.echo(f"  removed code {c['field']} = {c['value']} by {c['coder']} on note {c['note_id']}")
    for c in removed.consensus:
        click.echo(f"  removed consensus {c['field']} = {c['value']} on note {c['note_id']}")


@click.group()
def notes() -> None:
    """Fix the notes of an audit: remove notes imported wrongly."""


@notes.command("remove")
@DB
@click.option("--record", "record_id", required=True, help="The record whose notes to remove.")
@click.option(
    "--note", "note_ids", multiple=True, help="Only this note (repeatable); default: every note of the record."
)
@click.option("--force", is_flag=True, help="Also remove the codes and consensus values on those notes.")
@click.option("--reason", default="removed by chartcode notes remove", show_default=True, help="Why (history).")
@click.option("--by", "actor", default="lead", show_default=True, help="Who removes them (history).")
def notes_remove(db: Path, record_id: str, note_ids: tuple[str, ...], force: bool, reason: str, actor: str):
    """Remove a record's notes (or some of them), e.g. to import them again correctly.

    \b
    Refused while codes or consensus values are on those notes, unless --force (then they go
    too). Every note and code removed is listed here and recorded in the history; the record
    itself stays (with its assignments and record-level codes).
    \b
    chartcode notes remove audit.db --record P1
    chartcode notes remove audit.db --record P1 --note P1-2 --force
    """
    with _open(db) as store:
        targets: list[tuple[str, str | None]] = [(record_id, n) for n in note_ids] or [(record_id, None)]
        removed = store.remove_notes(targets, actor=actor, reason=reason, force=force)
        _list_removed(removed, "removed")
        click.echo(
            f"{record_id}: {len(removed.notes)} notes removed, {len(removed.codes)} codes and"
            f" {len(removed.consensus)} consensus values with them"
        )
