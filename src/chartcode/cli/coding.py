"""`chartcode import-codes`, `codes` and `history`: coders' codes in and out, and who changed what.

Blind: other coders' codes stay hidden until every coder of their record has submitted it.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import click

from chartcode.cli.common import AS_VIEWER, DB, WAIT, _open
from chartcode.export.cells import safe_row


@click.command("import-codes")
@DB
@WAIT
@click.argument("codes_csv", type=click.Path(path_type=Path))
@click.option("--coder", required=True, help="Whose codes these are.")
@click.option("--draft", is_flag=True, help="Do not mark the records as submitted by the coder.")
@click.option("--encoding", default="utf-8", show_default=True)
def import_codes_cmd(db: Path, codes_csv: Path, coder: str, draft: bool, encoding: str):
    """Import one coder's codes from a long CSV: record_id, note_id, field, value[, memo].

    note_id is empty for record-level fields. Every row is checked first; any problem
    means nothing is imported. Records in the file count as submitted unless --draft, once
    every required field of theirs is coded (the others stay drafts).
    """
    from chartcode.importers.codes import import_codes

    with _open(db) as store:
        click.echo(import_codes(store, codes_csv, coder, draft=draft, encoding=encoding).summary())


@click.command("codes")
@DB
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option("--coder", help="Only this coder's codes.")
@click.option("--record", "record_id", help="Only this record.")
@AS_VIEWER
def codes_cmd(db: Path, fmt: str, coder: str | None, record_id: str | None, viewer: str | None):
    """List current codes: coder, record_id, note_id, field, value, label, updated_at.

    Blind: codes on a record stay hidden from other coders until every coder assigned to
    it has submitted it, and then show only to coders who coded and submitted it themselves;
    a lead sees everything, and without --as no coder's codes show (the count of hidden codes
    goes to stderr). The CSV neutralises text that would start a spreadsheet formula; the
    JSON holds the raw values.
    """
    from chartcode.consensus import hidden_count, visible_codes

    with _open(db) as store:
        if coder:
            store.require_coder(coder)
        rows = list(visible_codes(store, viewer, coder=coder, record_id=record_id))
        hidden = hidden_count(store, viewer)
        if hidden:
            click.echo(f"({hidden} codes hidden: blind until every coder of their record has submitted it)", err=True)
        cols = ["coder", "record_id", "note_id", "field", "value", "label", "memo", "submitted", "updated_at"]
        if fmt == "json":
            click.echo(json.dumps([{k: r[k] for k in cols} for r in rows], indent=1))
            return
        out = csv.writer(sys.stdout, lineterminator="\n")
        out.writerow(cols)
        for r in rows:
            out.writerow(safe_row(r[c] for c in cols))  # every text cell: ids, values, memos alike


@click.command()
@DB
@click.option("--coder", help="Only entries about this coder's codes.")
@click.option("--record", "record_id", help="Only this record.")
@click.option("--limit", type=int, help="Only the last N entries.")
@click.option("--json", "as_json", is_flag=True)
@AS_VIEWER
def history(db: Path, coder, record_id, limit, as_json, viewer):
    """The append-only history: who changed what, when (UTC), old -> new, and why.

    Blind like `codes`: values (and flag comments) of a coder's changes show as "(blind)"
    unless you are that coder, a lead, or a coder of the record who has submitted it once
    every coder has.
    """
    with _open(db) as store:
        rows = store.visible_history(viewer, coder=coder, record_id=record_id, limit=limit)
        if as_json:
            click.echo(json.dumps(rows, indent=1))
            return
        for h in rows:
            where = "/".join(x for x in (h["record_id"], h["note_id"], h["field"]) if x)
            change = ""
            if h["old_value"] is not None or h["new_value"] is not None:
                change = (
                    f" {'' if h['old_value'] is None else h['old_value']} -> "
                    f"{'' if h['new_value'] is None else h['new_value']}"
                )
            reason = f"  ({h['reason']})" if h["reason"] else ""
            click.echo(f"{h['id']:>6} {h['at']} {h['actor']:<12} {h['action']:<12} {where}{change}{reason}")
