"""The audit report: one self-contained HTML page (or Markdown) people read, on a phone or on paper.

Sections: audit summary and coding progress, agreement with a CI chart, field distributions,
the declared analyses (when the analysis module is available), open disagreements. No
external assets: CSS and SVG charts are inline, nothing is fetched.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass, field as dc_field
from typing import Any

from chartcode.dataset import open_disagreements, records_frame
from chartcode.store.store import Store, utcnow

Progress = Callable[[str], None]

CSS = """
body{font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;max-width:980px;margin:0 auto;padding:1rem;
color:#1b1b1b;line-height:1.45}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.2rem;border-bottom:2px solid #1f3b73;padding-bottom:.2rem;
margin-top:2rem}h3{font-size:1rem;margin-bottom:.3rem}.meta{color:#555;font-size:.9rem}
.table-wrap{overflow-x:auto}table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.9rem}
th,td{border-bottom:1px solid #ddd;padding:.3rem .6rem;text-align:left;vertical-align:top}
th{background:#f0f3f8}td.num{text-align:right;font-variant-numeric:tabular-nums}
.chart svg{max-width:100%;height:auto}.grid{display:flex;flex-wrap:wrap;gap:1rem}.grid>div{flex:1 1 300px}
.reading{color:#333;font-style:italic}.note{color:#666;font-size:.85rem}
@media print{body{max-width:none}h2{break-after:avoid}.chart,table{break-inside:avoid}}
"""


@dataclass
class Section:
    title: str
    html: list[str] = dc_field(default_factory=list)
    md: list[str] = dc_field(default_factory=list)


def _esc(x: Any) -> str:
    return html.escape("" if x is None else str(x))


def _fmt(x: Any, digits: int = 3) -> str:
    if x is None:
        return "—"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return str(x)


def _table(headers: list[str], rows: list[list[Any]], numeric: set[int] | None = None) -> tuple[str, str]:
    numeric = numeric or set()
    h = ["<div class='table-wrap'><table><thead><tr>", *[f"<th>{_esc(c)}</th>" for c in headers],
         "</tr></thead><tbody>"]
    for r in rows:
        h.append("<tr>" + "".join(f"<td class='num'>{_esc(v)}</td>" if i in numeric else f"<td>{_esc(v)}</td>"
                                  for i, v in enumerate(r)) + "</tr>")
    h.append("</tbody></table></div>")
    md = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    md += ["| " + " | ".join(str(v).replace("|", "/") for v in r) + " |" for r in rows]
    return "".join(h), "\n".join(md)


def build_report(store: Store, *, fmt: str = "html", bootstrap: int = 200, seed: int = 1,
                 progress: Progress | None = None) -> str:
    say = progress or (lambda _msg: None)
    cb = store.codebook
    counts = store.counts()
    sections: list[Section] = []

    say("coding progress")
    s = Section("Audit and coding progress")
    s.html.append(f"<p>{counts['records']} records, {counts['notes']} notes, {counts['codes']} codes, "
                  f"{counts['consensus']} consensus values. Codebook {_esc(cb.id)} {_esc(cb.version)} "
                  f"(hash {cb.short_hash}).</p>")
    s.md.append(f"{counts['records']} records, {counts['notes']} notes, {counts['codes']} codes, "
                f"{counts['consensus']} consensus values. Codebook {cb.id} {cb.version} (hash {cb.short_hash}).")
    rows = [[c["name"], c["role"], c["assigned"], c["done"],
             f"{100 * c['done'] / c['assigned']:.0f}%" if c["assigned"] else "—", c["flagged"], c["codes"]]
            for c in counts["coder_progress"]]
    h, m = _table(["coder", "role", "assigned", "done", "% done", "flagged", "codes"], rows, {2, 3, 4, 5, 6})
    s.html.append(h)
    s.md.append(m)
    sections.append(s)

    if cb.scale is not None:  # rating scales: scores, profiles and action lists come first
        from chartcode.report.fidelity import fidelity_sections

        say("fidelity scores")
        sections += fidelity_sections(store, fmt)

    say(f"agreement ({bootstrap} bootstrap resamples)")
    sections.append(_agreement_section(store, fmt, bootstrap, seed))

    if cb.scale is None:
        say("field distributions")
        sections.append(_distribution_section(store, fmt))

    if store.audit.get("analyses") or cb.scale is None:
        say("analyses")
        sections.append(_analyses_section(store))

    from chartcode.report.reviews import reviews_section

    say("review timeliness")
    timely = reviews_section(store)
    if timely is not None:
        sections.append(timely)

    say("open disagreements")
    s = Section("Open disagreements")
    open_units = open_disagreements(store)  # = consensus.disagreements(store), from the final values read once
    if not open_units:
        s.html.append("<p>None: every unit coded by two or more coders agrees or has a consensus value.</p>")
        s.md.append("None: every unit coded by two or more coders agrees or has a consensus value.")
    else:
        rows = [[u.record_id, u.note_id or "", cb.field(u.field).label,
                 "; ".join(f"{c}: {v} {cb.field(u.field).label_for(v)}".strip() for c, v in u.values.items())]
                for u in open_units]
        h, m = _table(["record", "note", "field", "values"], rows)
        s.html.append(f"<p>{len(open_units)} units to reconcile (<code>chartcode reconcile</code>).</p>" + h)
        s.md.append(f"{len(open_units)} units to reconcile (`chartcode reconcile`).\n\n" + m)
    sections.append(s)

    title = store.title
    generated = utcnow()
    if fmt == "md":
        out = [f"# {title}", "", f"Generated {generated} by chartcode. Codes are final values "
               "(consensus, else the coders' shared value).", ""]
        for sec in sections:
            out += [f"## {sec.title}", "", *sec.md, ""]
        return "\n".join(out)
    body = [f"<h1>{_esc(title)}</h1><p class='meta'>Generated {generated} by chartcode · final values "
            "(consensus, else the coders' shared value)</p>"]
    for sec in sections:
        body.append(f"<section><h2>{_esc(sec.title)}</h2>{''.join(sec.html)}</section>")
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{_esc(title)}</title><style>{CSS}</style></head><body>{''.join(body)}</body></html>")


def _agreement_section(store: Store, fmt: str, bootstrap: int, seed: int) -> Section:
    from chartcode.agreement import agreement_report
    from chartcode.report.charts import ci_chart

    s = Section("Agreement")
    report = agreement_report(store, bootstrap=bootstrap, seed=seed)
    fields = [f for f in report["fields"] if f["n_units"]]
    if not fields:
        s.html.append("<p>No unit has been coded by two or more coders (and submitted by all) yet.</p>")
        s.md.append("No unit has been coded by two or more coders (and submitted by all) yet.")
        return s
    rows = []
    labels, vals, lows, highs = [], [], [], []
    for f in fields:
        alpha = f["krippendorff_alpha"]
        ci = f["ci"].get("krippendorff_alpha") or [None, None]
        kappa = f["cohen_kappa"] if f["cohen_kappa"] is not None else f["fleiss_kappa"]
        rows.append([f["field"], f["level"], f["n_units"], _fmt(f["percent_agreement"]), _fmt(kappa),
                     _fmt(alpha), f"[{_fmt(ci[0])}, {_fmt(ci[1])}]" if ci[0] is not None else "—",
                     _fmt(f["gwet_ac1"])])
        labels.append(f["field"])
        vals.append(alpha)
        lows.append(ci[0])
        highs.append(ci[1])
    h, m = _table(["field", "level", "units", "% agreement", "kappa", "alpha", "alpha 95% CI", "AC1"], rows,
                  {2, 3, 4, 5, 7})
    s.html.append("<p>Per field, over units coded by two or more coders who have all submitted. "
                  f"Krippendorff's alpha at the field's level; {bootstrap} bootstrap resamples of units for the "
                  "interval. Landis &amp; Koch's labels (0.61-0.80 substantial ...) are a convention, not a "
                  "test.</p>" + h)
    s.md.append(m)
    if fmt == "html":
        s.html.append("<div class='chart'>" + ci_chart(labels, vals, lows, highs,
                                                       "Krippendorff's alpha with 95% bootstrap CI") + "</div>")
    return s


def _distribution_section(store: Store, fmt: str) -> Section:
    from chartcode.report.charts import bar_chart

    s = Section("Field distributions")
    cb = store.codebook
    frame = records_frame(store)
    charts, md = [], []
    for f in cb.record_fields:
        if not f.has_choices:
            continue
        col = frame[f.name]
        counts = [int((col == c.code).sum()) for c in f.choices]
        missing = int(col.isna().sum())
        labels = [c.label for c in f.choices] + (["(no final value)"] if missing else [])
        counts = counts + ([missing] if missing else [])
        if fmt == "html":
            charts.append("<div class='chart'>" + bar_chart(labels, counts, f.label) + "</div>")
        md.append(f"**{f.label}**: " + ", ".join(f"{lab} {n}" for lab, n in zip(labels, counts)))
    s.html.append("<p>Final values of the record-level choice fields.</p><div class='grid'>" + "".join(charts)
                  + "</div>")
    s.md.append("\n\n".join(md))
    return s


def _analyses_section(store: Store) -> Section:
    """Every analysis declared in the audit file, as a table with a one-line plain-language reading."""
    from chartcode.analysis import run_stats
    from chartcode.analysis.readings import reading
    from chartcode.errors import UserError

    s = Section("Analyses")
    try:
        results = run_stats(store)["analyses"]
    except UserError as exc:
        s.html.append(f"<p class='note'>No analyses: {_esc(exc)}</p>")
        s.md.append(f"No analyses: {exc}")
        return s
    s.html.append("<p>The analyses declared in the audit file, on final values.</p>")
    for a in results:
        title = a["stats"].get("title") or a["spec"]
        s.html.append(f"<h3>{_esc(title)}</h3><p class='note'>{_esc(a['kind'])}: {_esc(a['spec'])}, "
                      f"n = {a['n']}</p>")
        s.md.append(f"### {title}\n\n{a['kind']}: `{a['spec']}`, n = {a['n']}")
        if a.get("terms"):
            odds = a["kind"] == "logistic"
            rows = [[t["term"], _fmt(t["coef"]), _fmt(t["se"]), f"[{_fmt(t['ci_low'])}, {_fmt(t['ci_high'])}]",
                     _fmt(t["p"])] + ([_fmt(t.get("odds_ratio")),
                                       f"[{_fmt(t.get('or_ci_low'))}, {_fmt(t.get('or_ci_high'))}]"] if odds else [])
                    for t in a["terms"]]
            headers = ["term", "coef", "SE", "CI", "p"] + (["OR", "OR CI"] if odds else [])
            h, m = _table(headers, rows, {1, 2, 4, 5})
            s.html.append(h)
            s.md.append(m)
        elif a["kind"] == "describe":
            headers, rows = _describe_table(a)
            if rows:
                h, m = _table(headers, rows)
                s.html.append(h)
                s.md.append(m)
        for line in reading(a):
            s.html.append(f"<p class='reading'>{_esc(line)}</p>")
            s.md.append(f"*{line}*")
        for w in a.get("warnings", []):
            s.html.append(f"<p class='note'>⚠ {_esc(w)}</p>")
            s.md.append(f"> ⚠ {w}")
    return s


def _describe_table(a: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """A patient table like the seed study's: n (%) for categories, mean (SD) and range for numbers."""
    st = a["stats"]
    columns = st.get("columns") or [{"label": "All"}]
    headers = ["variable"] + [f"{c['label']} (n = {c['n']})" if "n" in c else c["label"] for c in columns]
    rows: list[list[Any]] = []
    for var in st.get("variables", []):
        cells = var.get("cells", [])
        if var.get("type") == "numeric":
            rows.append([var["label"]] + [
                f"{c['mean']:.1f} ({c['sd']:.1f}), {c['min']:g}-{c['max']:g}" if c.get("mean") is not None else "—"
                for c in cells])
            continue
        rows.append([var["label"]] + [""] * len(cells))
        for i, count in enumerate(cells[0].get("counts", []) if cells else []):
            rows.append([f"   {count['label']}"] + [
                f"{c['counts'][i]['n']} ({c['counts'][i]['pct']:.1f}%)" if i < len(c.get("counts", [])) else "—"
                for c in cells])
    return headers, rows
