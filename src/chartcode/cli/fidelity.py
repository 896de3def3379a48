"""`chartcode fidelity`: rating-scale scores per unit and review period (registered in cli/__init__.py).

The scoring lives in chartcode.fidelity; this module only prints.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from chartcode.cli.common import _Target


def format_scores(scores, codebook) -> list[str]:
    """A terminal table: one row per unit and period, then each unit-period's action list."""
    from chartcode.fidelity import fmt_change, fmt_score

    scale = codebook.scale
    sections = [s.id for s in scale.sections]
    header = [
        "unit",
        "period",
        *[s.label for s in scale.sections],
        "total",
        "mean",
        "band",
        "change",
        "rated",
        "cannot rate",
    ]
    rows = []
    for u in scores:
        by = {s.section: s for s in u.sections}
        rows.append(
            [
                u.unit,
                u.period,
                *[fmt_score(by[s].score, missing="-") for s in sections],
                fmt_score(u.total, missing="-"),
                fmt_score(u.mean, 2, missing="-"),
                u.band or "-",
                fmt_change(u.change_from_previous, missing="-"),
                f"{u.items_rated}/{len(codebook.items)}",
                str(u.items_cannot_rate),
            ]
        )
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(
            c.ljust(w) if i < 2 or i == len(sections) + 4 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ).rstrip()
        for r in [header, *rows]
    ]
    labels = {f.name: f.label for f in codebook.items}
    for u in scores:
        if u.below_threshold:
            lines.append("")
            lines.append(f"{u.unit} {u.period}: {len(u.below_threshold)} item(s) below threshold")
            for b in u.below_threshold:
                lines.append(f"  {b['rating']:>3}  {labels.get(b['item'], b['item'])}")
    return lines


def write_csv(path: Path, store, scores) -> None:
    """The scores table of exports (chartcode.export.tables.fidelity_table), written as CSV with
    formula-like cells neutralised."""
    from chartcode.export.tables import fidelity_table
    from chartcode.export.writers import write_csv as write_table

    write_table(fidelity_table(store, deidentify=False, scores=scores), path)


@click.command("fidelity")
@click.argument("db", type=_Target())
@click.option("--json", "as_json", is_flag=True, help="Print the scores as JSON.")
@click.option("--unit", help="Only this unit.")
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write one row per unit and period (sections, total, mean, band, change) to this CSV.",
)
def fidelity(db: Path, as_json: bool, unit: str | None, csv_path: Path | None):
    """Fidelity scores per unit and review period: sections, total, band, change, action items.

    \b
    Scored on the final ratings: the lead reviewer's consensus where the raters disagreed,
    otherwise the raters' shared rating. A unit-period counts once every assigned rater has
    submitted it. The scale's scoring rules and bands come from its codebook.
      chartcode fidelity ibbis.db
      chartcode fidelity ibbis.db --json
      chartcode fidelity ibbis.db --csv scores.csv
    """
    from chartcode.errors import UserError
    from chartcode.fidelity import fidelity as score_all
    from chartcode.store import open_store

    store = open_store(db)
    try:
        scores = score_all(store)
        if unit is not None:
            scores = [s for s in scores if s.unit == unit]
            if not scores:
                known = sorted({u["unit"] for u in store.unit_periods()})
                raise UserError(f"no unit {unit!r} in {store.path} (units: {', '.join(known) or 'none yet'})")
        if csv_path is not None:
            write_csv(csv_path, store, scores)
            click.echo(f"wrote {csv_path} ({len(scores)} unit-periods)", err=True)
        if as_json:
            click.echo(json.dumps({"units": [s.as_json() for s in scores]}, allow_nan=False))
            return
        if not scores:
            click.echo("no rated units yet: start one with  chartcode rate DB --unit UNIT --period PERIOD --rater NAME")
            return
        for line in format_scores(scores, store.codebook):
            click.echo(line)
    finally:
        store.close()
