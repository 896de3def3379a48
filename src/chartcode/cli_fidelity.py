"""`chartcode fidelity`: rating-scale scores per unit and review period (registered in cli.py).

The scoring lives in chartcode.fidelity; this module only prints.
"""

from __future__ import annotations

import json
from pathlib import Path

import click


def _n(x: float | None, digits: int = 1) -> str:
    if x is None:
        return "-"
    return str(int(x)) if float(x).is_integer() else f"{x:.{digits}f}"


def format_scores(scores, codebook) -> list[str]:
    """A terminal table: one row per unit and period, then each unit-period's action list."""
    scale = codebook.scale
    sections = [s.id for s in scale.sections]
    header = ["unit", "period", *[s.label for s in scale.sections], "total", "mean", "band", "change", "rated",
              "cannot rate"]
    rows = []
    for u in scores:
        by = {s.section: s for s in u.sections}
        rows.append([u.unit, u.period, *[_n(by[s].score) for s in sections], _n(u.total), _n(u.mean, 2),
                     u.band or "-", ("+" if (u.change_from_previous or 0) > 0 else "") + _n(u.change_from_previous),
                     f"{u.items_rated}/{len(codebook.items)}", str(u.items_cannot_rate)])
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i < 2 or i == len(sections) + 4 else c.rjust(w)
                       for i, (c, w) in enumerate(zip(r, widths))).rstrip() for r in [header, *rows]]
    labels = {f.name: f.label for f in codebook.items}
    for u in scores:
        if u.below_threshold:
            lines.append("")
            lines.append(f"{u.unit} {u.period}: {len(u.below_threshold)} item(s) below threshold")
            for b in u.below_threshold:
                lines.append(f"  {b['rating']:>3}  {labels.get(b['item'], b['item'])}")
    return lines


def write_csv(path: Path, scores, codebook) -> None:
    """One row per unit-period; cells that would start a spreadsheet formula are neutralised."""
    import csv

    from chartcode.errors import UserError

    safe = lambda v: "'" + v if isinstance(v, str) and v[:1] in ("=", "+", "-", "@") else v
    sections = [s.id for s in codebook.scale.sections]
    header = ["unit", "period", *[f"{s}_score" for s in sections], *[f"{s}_band" for s in sections], "total", "mean",
              "band", "change_from_previous", "items_rated", "items_cannot_rate", "items_below_threshold"]
    try:
        with open(path, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(header)
            for u in scores:
                by = {x.section: x for x in u.sections}
                w.writerow([safe(u.unit), safe(u.period), *[by[s].score for s in sections],
                            *[by[s].band for s in sections], u.total, u.mean, u.band, u.change_from_previous,
                            u.items_rated, u.items_cannot_rate, len(u.below_threshold)])
    except OSError as exc:
        raise UserError(f"{path}: cannot write ({exc.strerror})") from None


@click.command("fidelity")
@click.argument("db", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the scores as JSON.")
@click.option("--unit", help="Only this unit.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write one row per unit and period (sections, total, mean, band, change) to this CSV.")
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
    from chartcode.store import Store

    store = Store.open(db)
    try:
        scores = score_all(store)
        if unit is not None:
            scores = [s for s in scores if s.unit == unit]
            if not scores:
                known = sorted({u["unit"] for u in store.unit_periods()})
                raise UserError(f"no unit {unit!r} in {db} (units: {', '.join(known) or 'none yet'})")
        if csv_path is not None:
            write_csv(csv_path, scores, store.codebook)
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
