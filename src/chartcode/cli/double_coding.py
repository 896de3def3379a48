"""`chartcode assign`, `disagreements`, `consensus` and `final`: double-coding samples,
where coders differ, consensus values and the final value of each unit."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import click

from chartcode.cli.common import DB, WAIT, _open
from chartcode.errors import UserError
from chartcode.export.cells import safe_row


@click.command()
@DB
@WAIT
@click.option("--coder", help="Who gets the records (default: the audit file's double_coding.coder).")
@click.option("--all", "all_records", is_flag=True, help="Assign every record (or every record of --from).")
@click.option("--sample", "fraction", type=float, help="Assign a random FRACTION of the records, e.g. 0.25.")
@click.option("--n", "n", type=int, help="Assign a random sample of N records.")
@click.option("--seed", type=int, help="Random seed: the same seed draws the same records.")
@click.option("--from", "from_coder", help="Sample from the records assigned to this coder.")
@click.option("--stratify", help="Stratify the sample by the --from coder's submitted value of this record field.")
@click.option("--by", "actor", default="lead", show_default=True, help="Who makes the assignment (history).")
def assign(db: Path, coder, all_records, fraction, n, seed, from_coder, stratify, actor):
    """Assign records to a coder: all of them, or a reproducible random sample for double-coding.

    \b
    chartcode assign audit.db --coder intern --all
    chartcode assign audit.db --coder supervisor --n 6 --seed 20240601 --from intern
    chartcode assign audit.db          # the sample declared under double_coding: in the audit file
    """
    from chartcode.sampling import draw, population

    with _open(db) as store:
        spec = store.audit.get("double_coding") or {}
        if not (all_records or fraction is not None or n is not None):
            if not spec:
                raise UserError(
                    "say what to assign: --all, --n N or --sample FRACTION (or declare"
                    " double_coding: in the audit file)"
                )
            coder = coder or spec.get("coder")
            from_coder = from_coder or spec.get("from")
            n = spec.get("n")
            fraction = spec.get("fraction") if n is None else None
            seed = seed if seed is not None else spec.get("seed")
            stratify = stratify or spec.get("stratify")
        if not coder:
            raise UserError("--coder is required")
        store.require_coder(coder)
        if all_records:
            ids = population(store, from_coder)
            how = f"all {len(ids)} records" + (f" of {from_coder}" if from_coder else "")
        else:
            sample = draw(store, n=n, fraction=fraction, seed=seed, from_coder=from_coder, stratify=stratify)
            ids, how = sample.record_ids, sample.description
        new = store.assign(coder, ids, actor=actor, source=how)
        total = len(store.assignments(coder))
        # Say what changed in the coder's queue, so a second draw that adds records is never silent.
        click.echo(
            f"assigned {new} new records to {coder} ({len(ids) - new} already assigned): {how};"
            f" {coder} now has {total} records assigned" + (f" ({total - new} before)" if new else " (unchanged)")
        )
        if not all_records:
            click.echo("  " + " ".join(ids))


@click.command()
@DB
@click.option("--json", "as_json", is_flag=True)
@click.option("--all", "include_settled", is_flag=True, help="Also those already settled by consensus.")
def disagreements(db: Path, as_json: bool, include_settled: bool):
    """Units where coders gave different values (only records every coder has submitted).

    With branching logic (show_if), units where the coders disagree on whether a field applies
    are listed as their own kind ("applies for intern, not for supervisor: settled through
    [accepted_followup]"): the controlling field's consensus settles them."""
    from chartcode.consensus import disagreements as find

    with _open(db) as store:
        cb = store.codebook
        found = find(store, open_only=not include_settled)
        rows = [
            {
                "record_id": u.record_id,
                "note_id": u.note_id,
                "field": u.field,
                "values": {
                    c: {"value": v, "label": cb.field(u.field).label_for(v), "memo": u.memos.get(c)}
                    for c, v in u.values.items()
                },
                "consensus": u.consensus,
                "reason": u.consensus_reason,
                "kind": u.kind,
                **(
                    {
                        "applies": u.applies,
                        "controlling": list(u.controlling),
                        "settled": u.settled_as,
                        "text": u.describe(),
                    }
                    if u.kind == "applicability"
                    else {}
                ),
            }
            for u in found
        ]
        if as_json:
            click.echo(json.dumps({"disagreements": rows}, indent=1))
            return
        if not rows:
            click.echo("no open disagreements")
        for r in rows:
            where = r["record_id"] + (f" / {r['note_id']}" if r["note_id"] else "")
            if r["kind"] == "applicability":  # whether the field applies, not which value
                settled = f" (settled: {r['settled'].replace('_', ' ')})" if r["settled"] else ""
                click.echo(f"{where:<24} {r['field']:<22} {r['text']}{settled}")
                continue
            vals = "; ".join(f"{c}: {v['value']} {v['label']}".rstrip() for c, v in r["values"].items())
            click.echo(f"{where:<24} {r['field']:<22} {vals}")


@click.command()
@DB
@WAIT
@click.option("--auto-agreed", is_flag=True, help="Fill consensus wherever every coder gave the same value.")
@click.option("--record", "record_id", help="Set one consensus value: the record ...")
@click.option("--note", "note_id", help="... the note (note-level fields) ...")
@click.option("--field", "field_name", help="... the field ...")
@click.option("--value", help="... the value ...")
@click.option("--reason", help="... and why (required).")
@click.option(
    "--by",
    "decided_by",
    help="Supervisor or lead deciding (default: the audit's first supervisor; on a server, the login).",
)
def consensus(db: Path, auto_agreed: bool, record_id, note_id, field_name, value, reason, decided_by):
    """Record consensus values, apart from the coders' codes, with history."""
    from chartcode.consensus import auto_agreed as fill
    from chartcode.store import is_server

    with _open(db) as store:
        if decided_by is None and is_server(db):  # on a server the login decides (or is refused)
            decided_by = store.actor
        if decided_by is None:
            decided_by = next((c["name"] for c in store.coders() if c["role"] in ("supervisor", "lead")), None)
            if decided_by is None:
                raise UserError("no supervisor or lead in this audit; pass --by NAME")
        if auto_agreed:
            click.echo(f"{fill(store, decided_by)} consensus values filled where all coders agreed")
            return
        if not (record_id and field_name and value is not None):
            raise UserError("give --auto-agreed, or --record, --field, --value and --reason")
        change = store.set_consensus(
            record_id, field_name, value, note_id=note_id, reason=reason or "", decided_by=decided_by
        )
        click.echo("saved" if change.changed else "unchanged")


@click.command("final")
@DB
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
def final_cmd(db: Path, fmt: str):
    """The value each unit contributes to analyses: consensus, else the coders' shared value.

    The `source` column says which: consensus, single (one coder), agreed (all coders gave
    it), unresolved (coders disagree and no consensus yet: no value). The CSV neutralises
    text that would start a spreadsheet formula; the JSON holds the raw values.
    """
    from chartcode.consensus import final_values

    with _open(db) as store:
        rows = list(final_values(store))
        cols = ["record_id", "note_id", "field", "value", "label", "source", "n_coders"]
        if fmt == "json":
            click.echo(json.dumps(rows, indent=1))
            return
        out = csv.writer(sys.stdout, lineterminator="\n")
        out.writerow(cols)
        for r in rows:
            out.writerow(safe_row(r[c] for c in cols))  # every text cell, text field values too
