"""`chartcode agreement`: inter-rater agreement per codebook field (registered in cli/__init__.py).

Shows coefficients and confusion counts only -- never one coder's value against a named
record -- so it does not break blinding. The computation lives in chartcode.agreement; this
module adds the words around it (chartcode.agreement.wording): each field's codebook label
(``label`` in --json), a caution on Landis & Koch's words below 10 units, why an interval has
no width, and warnings a library raised (top-level ``notes`` in --json).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from chartcode.cli.common import _Target


def format_field(result: dict, ci_level: float | None = None, label: str = "") -> list[str]:
    """The human-readable table for one field's result (with its confusion matrix, if any).

    ``label``: the field's codebook label, shown first with the name after it."""
    from chartcode.agreement import table_rows
    from chartcode.agreement.wording import kappa_words

    name = f"{label} [{result['field']}]" if label and label != result["field"] else result["field"]
    lines = [
        f"{name} ({result['level']}): {result['n_units']} units coded by 2 or more coders, {result['n_coders']} coders"
    ]
    if result.get("applicability_disagreements") is not None:  # a field with show_if
        lines.append(
            f"  applicability: {result['applicability_disagreements']} unit(s) where coders disagree on whether"
            f" it applies (not in the coefficients), {result['not_applicable_units']} where it applies for no coder"
        )
    ci = result.get("ci") or {}
    level = f"{ci_level * 100:g}%" if ci_level is not None else ""
    rows = []
    for coef, coef_label, value in table_rows(result):  # labels and order from the coefficient registry
        interval = ci.get(coef.key)
        ci_text = f"[{interval[0]:.3f}, {interval[1]:.3f}]" if interval else ""
        word = kappa_words(value, result["n_units"]) if coef.chance_corrected else ""
        rows.append((coef_label, f"{value:.3f}", ci_text, word))
    if result.get("masi_alpha") is not None:  # a checkbox field's whole set (chartcode.agreement.sets)
        masi = result["masi_alpha"]
        rows.append(
            ("Krippendorff's alpha, MASI set distance", f"{masi:.3f}", "", kappa_words(masi, result["n_units"]))
        )
    if rows:
        w0 = max(len(r[0]) for r in rows)
        w2 = max(len(r[2]) for r in rows)
        head_ci = f"{level} CI" if level and w2 else ""
        w2 = max(w2, len(head_ci))
        lines.append(f"  {'coefficient':<{w0}}  {'value':>6}  {head_ci:<{w2}}  interpretation".rstrip())
        for label, shown, ci_text, word in rows:
            lines.append(f"  {label:<{w0}}  {shown:>6}  {ci_text:<{w2}}  {word}".rstrip())
    else:
        lines.append("  no coefficient could be computed")
    conf = result.get("confusion")
    if conf:
        labels = conf["labels"]
        cells = [[str(x) for x in row] for row in conf["matrix"]]
        width = max([len(x) for x in labels] + [len(c) for row in cells for c in row] + [3])
        lab_w = max(len(x) for x in labels)
        lines.append(f"  confusion matrix (rows: {conf['rows']}, columns: {conf['columns']}; counts of units)")
        lines.append("    " + " " * lab_w + "  " + " ".join(f"{x:>{width}}" for x in labels))
        for lab, row in zip(labels, cells, strict=True):
            lines.append(f"    {lab:>{lab_w}}  " + " ".join(f"{c:>{width}}" for c in row))
    for n in [*result.get("notes", []), *plain_notes(result)]:
        lines.append(f"  note: {n}")
    return lines


def plain_notes(result: dict) -> list[str]:
    """Notes in plain words on what the numbers cannot say: few units, intervals of no width."""
    from chartcode.agreement.wording import interval_notes, small_sample_note

    small = small_sample_note(result) if any(c.chance_corrected for c, _, _ in _rows(result)) else None
    return [*([small] if small else []), *interval_notes(result)]


def _rows(result: dict):
    from chartcode.agreement import table_rows

    return list(table_rows(result))


@click.command("agreement")
@click.argument("db", type=_Target())
@click.option("--field", "field_name", metavar="FIELD", help="Only this codebook field.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.option(
    "--bootstrap",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    metavar="B",
    help="Bootstrap resamples of units for percentile intervals (e.g. 1000); 0 = none.",
)
@click.option("--seed", type=int, help="Random seed for the bootstrap (the same seed gives the same intervals).")
@click.option(
    "--ci",
    "ci_level",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.95,
    show_default=True,
    metavar="LEVEL",
    help="Interval level for --bootstrap.",
)
def agreement(db: Path, field_name: str | None, as_json: bool, bootstrap: int, seed: int | None, ci_level: float):
    """Inter-rater agreement per codebook field on the coders' submitted values.

    \b
    Units are records (notes for note-level fields) coded by 2 or more coders; any number of
    coders, missing values allowed. Percent agreement, Cohen's kappa (two coders; weighted for
    ordinal fields on the codebook's scale), Fleiss' kappa, Krippendorff's alpha at every level
    the codes allow, Gwet's AC1/AC2 and, for numeric and count fields, Shrout & Fleiss ICCs.
    With --bootstrap B --seed S: percentile intervals for every coefficient.
    """
    import warnings

    from chartcode.agreement import agreement_report
    from chartcode.store import open_store

    store = open_store(db)
    library: list[str] = []
    try:
        # notes_from_libraries (chartcode.analysis.readings), its parts: the analysis package imports
        # pandas, which agreement imports beside its database read (chartcode.agreement.read), not before
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            report = agreement_report(
                store, field=field_name, bootstrap=bootstrap, seed=seed, ci=ci_level, confusion=not as_json
            )
        if caught:  # (the analysis package's import, about 0.2 s, only when there is something to say)
            from chartcode.analysis.readings import library_notes

            library.extend(n for n in library_notes(caught) if n not in library)
        labels = {f.name: f.label for f in store.codebook.fields}
        from chartcode.codebook.options import option_fields

        for f in store.codebook.fields:  # a checkbox's options, each reported as a binary item
            if f.kind.multiple:
                labels |= {name: o.label for name, o in option_fields(f).items()}
    finally:
        store.close()
    if as_json:
        for result in report["fields"]:
            result["label"] = labels.get(result["field"], "")
            result["notes"] += [n for n in plain_notes(result) if n not in result["notes"]]
        if library:
            report["notes"] = library
        click.echo(json.dumps(report, allow_nan=False))
        return
    for i, result in enumerate(report["fields"]):
        if i:
            click.echo("")
        for line in format_field(result, ci_level if bootstrap else None, labels.get(result["field"], "")):
            click.echo(line)
    for n in library:
        click.echo(f"note: {n}")
