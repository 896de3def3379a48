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
def import_(db: Path, source: Path, fmt, mapping, encoding, date_format, pattern):
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
            )
        finally:
            finish()
        click.echo(result.summary())
