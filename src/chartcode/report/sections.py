"""The report's general sections, each a small function from the store to a section model.

    progress_section, agreement_section, distribution_section, analyses_section, disagreements_section

``charts=False`` (the Markdown report) skips drawing: matplotlib is the slow part.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chartcode.dataset import open_disagreements, records_frame
from chartcode.report.model import (
    Chart,
    ChartGrid,
    Code,
    FieldName,
    Heading,
    NoValue,
    Paragraph,
    Section,
    Table,
    fmt_number,
)
from chartcode.store.store import Store

if TYPE_CHECKING:
    from chartcode.analysis import Prepared
    from chartcode.codebook import Codebook

# A page lists at most this many open units: a large audit's thousands would make the page (and the
# memory that builds it) grow with the audit; the command line lists them all.
DISAGREEMENT_ROWS = 500


def progress_section(store: Store, counts: dict[str, Any] | None = None) -> Section:
    cb = store.codebook
    counts = counts or store.counts()
    rows = [
        [
            c["name"],
            c["role"],
            c["assigned"],
            c["done"],
            f"{100 * c['done'] / c['assigned']:.0f}%" if c["assigned"] else "—",
            c["flagged"],
            c["codes"],
        ]
        for c in counts["coder_progress"]
    ]
    return Section("Audit and coding progress").add(
        Paragraph(
            f"{counts['records']} records, {counts['notes']} notes, {counts['codes']} codes, "
            f"{counts['consensus']} consensus values. Codebook {cb.id} {cb.version} (hash {cb.short_hash})."
        ),
        Table(["coder", "role", "assigned", "done", "% done", "flagged", "codes"], rows, {2, 3, 4, 5, 6}),
    )


def agreement_section(
    store: Store, bootstrap: int, seed: int, *, charts: bool = True, ratings: list | None = None
) -> Section:
    """``ratings``: every field's matrix, read already (chartcode.report.spans); else read here."""
    from chartcode.agreement import agreement_report, landis_koch, summary_cells, summary_headers, summary_numeric
    from chartcode.agreement.wording import SMALL_SAMPLE, degenerate

    s = Section("Agreement")
    if ratings is None:
        # the final values read in the later sections start from the same frame: read it once, here, and
        # agreement takes it (chartcode.agreement.collect) instead of reading the codes a second time
        from chartcode.dataset import submitted_codes

        submitted_codes(store)
    report = agreement_report(store, bootstrap=bootstrap, seed=seed, ratings=ratings)
    fields = [f for f in report["fields"] if f["n_units"]]
    if not fields:
        return s.add(Paragraph("No unit has been coded by two or more coders (and submitted by all) yet."))
    cb = store.codebook
    rows = []
    labels, vals, lows, highs = [], [], [], []
    agree: list[str] = []  # fields whose alpha interval has no width, because every unit agrees
    flat: list[str] = []  # ... for another reason (every resample gave the same value)
    for f in fields:
        alpha = f["krippendorff_alpha"]
        ci = f["ci"].get("krippendorff_alpha") or [None, None]
        label = cb.field(f["field"]).label if cb.get(f["field"]) is not None else f["field"]
        word = landis_koch(alpha)  # the small-sample caution is said once, below the table
        rows.append(
            [FieldName(label, f["field"]), f["level"], f["n_units"], *summary_cells(f, fmt_number), word or "—"]
        )  # agreement.SUMMARY
        labels.append(label)
        vals.append(alpha)
        lows.append(ci[0])
        highs.append(ci[1])
        if degenerate(ci):
            (agree if f.get("percent_agreement") == 1.0 else flat).append(f"{label} ({f['n_units']})")
    small = sorted({f["n_units"] for f in fields if f["n_units"] < SMALL_SAMPLE})
    s.add(
        Paragraph(
            "Per field, over units coded by two or more coders who have all submitted. "
            f"Krippendorff's alpha at the field's level; {bootstrap} bootstrap resamples of units for the "
            "interval. Landis & Koch's labels (0.61-0.80 substantial ...) are a convention, not a test.",
            markdown=False,
        ),
        Table(["field", "level", "units", *summary_headers(), "alpha in words"], rows, {2, *summary_numeric(3)}),
    )
    if small:
        s.add(
            Paragraph(
                f"⚠ Fewer than {SMALL_SAMPLE} units ({', '.join(map(str, small))}) on some fields: the Landis & Koch "
                "words are a convention for larger samples, and one unit more or less can move a coefficient "
                "across a band. Read them with caution.",
                style="warning",
            )
        )
    if agree:
        s.add(
            Paragraph(
                f"⚠ An alpha interval of no width ([1.000, 1.000]) on {', '.join(agree)} units: every unit agrees, "
                "so every bootstrap resample agrees too. The interval is degenerate: the sample has no "
                "disagreement to resample, which is not certainty.",
                style="warning",
            )
        )
    if flat:
        s.add(
            Paragraph(
                f"⚠ An alpha interval of no width on {', '.join(flat)} units: every bootstrap resample gave the same "
                "value (too few units or distinct patterns of codes to vary). The interval is degenerate.",
                style="warning",
            )
        )
    if charts:
        from chartcode.report.charts import ci_chart

        title = "Krippendorff's alpha with 95% bootstrap CI"
        s.add(Chart(ci_chart(labels, vals, lows, highs, title), title))
    return s


def distribution_section(store: Store, *, charts: bool = True, counts: dict[str, Any] | None = None) -> Section:
    """``counts``: chartcode.report.spans.choice_counts of the whole audit, counted already; else here."""
    from chartcode.report.spans import choice_counts

    by_field = choice_counts(store, records_frame(store)) if counts is None else counts
    return distributions_drawn(store.codebook, by_field, charts=charts)


def distributions_drawn(cb: Codebook, by_field: dict[str, Any], *, charts: bool = True) -> Section:
    """:func:`distribution_section` from its counts: reads nothing from the store (the report draws it
    in a forked child: chartcode.forked)."""
    if charts:
        from chartcode.report.charts import bar_chart
    grid = ChartGrid([])
    for f in cb.record_fields:
        if not f.has_choices:
            continue
        missing = by_field[f.name].missing
        labels = [c.label for c in f.choices] + (["(no final value)"] if missing else [])
        bars = by_field[f.name].counts + ([missing] if missing else [])
        real = ", ".join(f"{c.label} {n}" for c, n in zip(f.choices, bars, strict=False))
        grid.charts.append(
            Chart(
                bar_chart(labels, bars, f.label) if charts else None,
                f.label,
                real + (f"; {NoValue()}: {missing}" if missing else ""),
            )
        )
    return Section("Field distributions").add(
        Paragraph("Final values of the record-level choice fields.", markdown=False), grid
    )


def analyses_section(store: Store, frame: tuple | None = None) -> Section:
    """Every analysis declared in the audit file, as a table with a one-line plain-language reading.
    ``frame``: chartcode.analysis.analysis_frame's (frame, variables), built already; else here."""
    prepared = analyses_prepared(store, frame)
    return prepared if isinstance(prepared, Section) else analyses_run(prepared)


def analyses_prepared(store: Store, frame: tuple | None = None) -> Prepared | Section:
    """:func:`analyses_section`'s reading of the store: the analyses to run, or the section saying
    why there are none."""
    from chartcode.analysis import prepare_stats
    from chartcode.errors import UserError

    try:
        return prepare_stats(store, frame=frame)
    except UserError as exc:
        return Section("Analyses").add(Paragraph(f"No analyses: {exc}", style="note"))


def analyses_run(prepared: Prepared) -> Section:
    """:func:`analyses_section` for analyses read already: reads nothing more from the store (the
    report runs it in a forked child: chartcode.forked)."""
    from chartcode.analysis.readings import reading
    from chartcode.errors import UserError

    s = Section("Analyses")
    try:
        results = prepared.run()["analyses"]
    except UserError as exc:
        return s.add(Paragraph(f"No analyses: {exc}", style="note"))
    s.add(Paragraph("The analyses declared in the audit file, on final values.", markdown=False))
    for a in results:
        s.add(
            Heading(a["stats"].get("title") or a["spec"]),
            Paragraph([f"{a['kind']}: ", Code(a["spec"]), f", n = {a['n']}"], style="note"),
        )
        if a.get("terms"):
            odds = a["kind"] == "logistic"
            rows = [
                [
                    t.get("label") or t["term"],
                    fmt_number(t["coef"]),
                    fmt_number(t["se"]),
                    f"[{fmt_number(t['ci_low'])}, {fmt_number(t['ci_high'])}]",
                    fmt_number(t["p"]),
                ]
                + (
                    [
                        fmt_number(t.get("odds_ratio")),
                        f"[{fmt_number(t.get('or_ci_low'))}, {fmt_number(t.get('or_ci_high'))}]",
                    ]
                    if odds
                    else []
                )
                for t in a["terms"]
            ]
            headers = ["term", "coef", "SE", "CI", "p"] + (["OR", "OR CI"] if odds else [])
            s.add(Table(headers, rows, {1, 2, 4, 5}))
        elif a["kind"] == "describe":
            headers, rows = describe_table(a)
            if rows:
                s.add(Table(headers, rows))
        elif a["kind"] == "crosstab" and a["stats"].get("table"):
            st = a["stats"]
            s.add(
                Table(
                    [a["spec"].replace(" by ", " \\ "), *[f"{c['label']} ({c['value']})" for c in st["columns"]]],
                    [[f"{r['label']} ({r['value']})", *row] for r, row in zip(st["rows"], st["table"], strict=True)],
                    set(range(1, len(st["columns"]) + 1)),
                )
            )
        elif a["kind"] == "welch" and a["stats"].get("groups"):
            s.add(
                Table(
                    ["group", "n", "mean", "SD"],
                    [
                        [f"{g['label']} ({g['value']})", g["n"], fmt_number(g["mean"]), fmt_number(g["sd"])]
                        for g in a["stats"]["groups"]
                    ],
                    {1, 2, 3},
                )
            )
        s.add(*(Paragraph(line, style="reading") for line in reading(a)))
        s.add(*(Paragraph(f"⚠ {w}", style="warning") for w in a.get("warnings", [])))
    return s


def describe_table(a: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """A patient table like the seed study's: n (%) for categories, mean (SD) and range for numbers."""
    st = a["stats"]
    columns = st.get("columns") or [{"label": "All"}]
    headers = ["variable"] + [f"{c['label']} (n = {c['n']})" if "n" in c else c["label"] for c in columns]
    rows: list[list[Any]] = []
    for var in st.get("variables", []):
        cells = var.get("cells", [])
        name = FieldName(var.get("label") or var["field"], var["field"])
        if var.get("type") == "numeric":
            rows.append([name] + [numeric_cell(c) for c in cells])
        else:
            rows.append([name] + [""] * len(cells))
            for i, count in enumerate(cells[0].get("counts", []) if cells else []):
                rows.append(
                    [f"   {count['label']}"]
                    + [count_cell(c["counts"][i]) if i < len(c.get("counts", [])) else "—" for c in cells]
                )
        if any(c.get("missing") for c in cells):
            rows.append([NoValue()] + [str(c.get("missing", 0)) for c in cells])
    return headers, rows


def numeric_cell(c: dict[str, Any]) -> str:
    """mean (SD), min-max; a dash for what one value or none cannot give (SD needs two)."""
    if c.get("mean") is None:
        return "— (no values)"
    sd = f"{c['sd']:.1f}" if c.get("sd") is not None else "—"
    return f"{c['mean']:.1f} ({sd}), {c['min']:g}-{c['max']:g}"


def count_cell(count: dict[str, Any]) -> str:
    """n (%); the percentage is of the records with a value, so none when no record has one."""
    return f"{count['n']} ({count['pct']:.1f}%)" if count.get("pct") is not None else f"{count['n']}"


def disagreements_section(store: Store, units: tuple[list, int] | None = None) -> Section:
    """``units``: the first DISAGREEMENT_ROWS open units (or more) and how many there are, read already."""
    cb = store.codebook
    s = Section("Open disagreements")
    if units is None:
        open_units = open_disagreements(store)  # = consensus.disagreements(store), from the final values read once
        n_open = len(open_units)
    else:
        open_units, n_open = units
    if not n_open:
        return s.add(Paragraph("None: every unit coded by two or more coders agrees or has a consensus value."))
    rows = [
        [
            u.record_id,
            u.note_id or "",
            cb.field(u.field).label,
            "; ".join(f"{c}: {v} {cb.field(u.field).label_for(v)}".strip() for c, v in u.values.items()),
        ]
        for u in open_units[:DISAGREEMENT_ROWS]
    ]
    s.add(
        Table(
            ["record", "note", "field", "values"],
            rows,
            caption=Paragraph([f"{n_open} units to reconcile (", Code("chartcode reconcile"), ")."]),
        )
    )
    if n_open > DISAGREEMENT_ROWS:
        s.add(
            Paragraph(
                [f"The first {DISAGREEMENT_ROWS} are listed here; ", Code("chartcode disagreements"), " lists all."],
                style="note",
            )
        )
    return s
