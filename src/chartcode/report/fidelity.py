"""The report's fidelity sections, for audits whose codebook is a rating scale.

    fidelity_sections(store, fmt) -> [comparison across units, one section per unit]

Per unit: the item profile of its latest period (a bar per item, the action threshold
marked), every period's section subtotals, total, band and change since the previous
period, and the items below threshold as an action list with the raters' evidence and
the consensus reason. Scales displayed as traffic lights (recovery standards) get a
red/amber/green table per rater instead of the profile chart. Colours always come with
their words, so the page reads in print and for colour-blind readers.
"""

from __future__ import annotations

from typing import Any

from chartcode.fidelity import UnitScore, evidence, fidelity, fmt_change, fmt_score, submitted_ratings
from chartcode.report.build import Section, _esc, _table

LIGHT = {"red": "#d64541", "amber": "#f0a030", "green": "#2e8b57", "grey": "#9e9e9e"}
CSS = (".light{display:inline-block;min-width:4.2em;padding:.1rem .4rem;border-radius:.7rem;color:#fff;"
       "font-size:.8rem;text-align:center}.light.amber{color:#1b1b1b}.band{font-weight:600}"
       ".actions li{margin-bottom:.4rem}.evidence{color:#444;font-size:.85rem}")


def _light(colour: str, text: str) -> str:
    if not colour:
        return _esc(text)
    return f"<span class='light {colour}' style='background:{LIGHT[colour]}'>{_esc(text)}</span>"


def fidelity_sections(store, fmt: str = "html") -> list[Section]:
    cb = store.codebook
    if cb.scale is None:
        return []
    scores = fidelity(store)
    out = [_comparison(store, cb, scores)]
    units: dict[str, list[UnitScore]] = {}
    for s in scores:
        units.setdefault(s.unit, []).append(s)
    if cb.scale.display == "traffic_light":
        out.append(_traffic_lights(store, cb, scores))
    for unit, periods in units.items():
        out.append(_unit_section(store, cb, unit, periods, fmt))
    return out


def _comparison(store, cb, scores: list[UnitScore]) -> Section:
    scale = cb.scale
    s = Section(f"Fidelity: {cb.title}")
    what = {"sum": "the sum of the item ratings", "mean": "the mean item rating",
            "completion": "the share of planned sessions delivered (%)"}[scale.scoring]
    bands = ", ".join(f"{b.label} ({'≥ ' + fmt_score(b.min, 2) if b.min is not None else 'below'})" for b in scale.bands)
    intro = (f"{len({x.unit for x in scores})} units, {len(scores)} unit-periods, {len(cb.items)} items. "
             f"The score is {what}" + (f"; bands: {bands}" if bands else "") + ". Scored on final ratings "
             "(consensus where the raters disagreed).")
    s.html.append(f"<p>{_esc(intro)}</p><style>{CSS}</style>")
    s.md.append(intro)
    if not scores:
        s.html.append("<p>No unit has been rated yet.</p>")
        s.md.append("No unit has been rated yet.")
        return s
    headers = ["unit", "period", *[x.label for x in scale.sections], "total", "mean", "band", "change",
               "rated", "cannot rate", "actions"]
    rows = []
    for u in scores:
        sec = [f"{fmt_score(x.score)}" + (f" ({x.band})" if x.band else "") for x in u.sections]
        rows.append([u.unit, u.period, *sec, fmt_score(u.total), fmt_score(u.mean, 2), u.band or "—",
                     fmt_change(u.change_from_previous), f"{u.items_rated}/{len(cb.items)}", u.items_cannot_rate,
                     len(u.below_threshold)])
    h, m = _table(headers, rows, set(range(2, len(headers))) - {headers.index("band")})
    s.html.append(h)
    s.md.append(m)
    from chartcode.fidelity import score_agreement

    sa = score_agreement(store)
    if sa is not None:
        text = (f"Raters' own scores (before consensus) agree with ICC(2,1) = {sa['icc2']:.3f} (two-way random, "
                f"absolute agreement, single rater; ICC(3,1) = {sa['icc3']:.3f}) over {sa['n']} unit-periods rated by "
                f"{', '.join(sa['raters'])}.")
        s.html.append(f"<p>{_esc(text)}</p>")
        s.md.append(text)
    withheld = [u for u in scores if u.total is None and u.items_rated]
    if withheld:
        note = (f"{len(withheld)} unit-period(s) have no total: more items unrated (cannot rate, unresolved or not"
                f" rated) than the scale allows ({scale.max_unrated}).")
        s.html.append(f"<p class='note'>{_esc(note)}</p>")
        s.md.append(note)
    if len(scores) > 1 and scale.display == "profile":
        from chartcode.report.charts import score_chart

        s.html.append("<div class='chart'>" + score_chart(scores, scale) + "</div>")
    return s


def _unit_section(store, cb, unit: str, periods: list[UnitScore], fmt: str) -> Section:
    scale = cb.scale
    latest = periods[-1]
    s = Section(f"{unit}")
    band = latest.band or "no band"
    summary = (f"Latest period {latest.period}: total {fmt_score(latest.total)}, mean {fmt_score(latest.mean, 2)}, {band}; "
               f"change since the previous period {fmt_change(latest.change_from_previous)}.")
    s.html.append(f"<p>{_esc(summary)}</p>")
    s.md.append(summary)
    if scale.display == "profile" and fmt == "html" and latest.items_rated:
        from chartcode.report.charts import profile_chart

        s.html.append("<div class='chart'>" + profile_chart(cb, latest) + "</div>")
    headers = ["period", *[x.label for x in scale.sections], "total", "band", "change"]
    rows = [[p.period, *[fmt_score(x.score) + (f" ({x.band})" if x.band else "") for x in p.sections], fmt_score(p.total),
             p.band or "—", fmt_change(p.change_from_previous)] for p in periods]
    h, m = _table(headers, rows, set(range(1, len(headers) - 2)))
    s.html.append(h)
    s.md.append(m)
    actions = _actions(store, cb, latest)
    if actions:
        s.html.append(f"<h3>Action list, {_esc(latest.period)}: {len(actions)} item(s) below threshold</h3>"
                      "<ol class='actions'>" + "".join(a["html"] for a in actions) + "</ol>")
        s.md.append(f"### Action list, {latest.period}: {len(actions)} item(s) below threshold\n")
        s.md += [a["md"] for a in actions]
    elif latest.items_rated:
        s.html.append(f"<p>No item below threshold in {_esc(latest.period)}.</p>")
        s.md.append(f"No item below threshold in {latest.period}.")
    return s


def _actions(store, cb, u: UnitScore) -> list[dict[str, str]]:
    if not u.below_threshold:
        return []
    ev = evidence(store, u.record_id)
    reasons = dict(store.db.execute("SELECT field, reason FROM consensus WHERE record_id = ? AND note_key = ''",
                                    [u.record_id]).fetchall())
    out = []
    for b in u.below_threshold:
        f = cb.field(b["item"])
        section = cb.scale.section(f.section)
        anchor = f.choice(b["rating"])
        what = f"{f.label} ({section.label if section else f.section}): rated {b['rating']}"
        detail = anchor.description if anchor is not None and anchor.description else ""
        notes = [f"{rater}: {memo}" for rater, memo in ev.get(f.name, [])]
        if f.name in reasons:
            notes.append(f"consensus: {reasons[f.name]}")
        html = (f"<li><strong>{_esc(what)}</strong>" + (f" — {_esc(detail)}" if detail else "")
                + "".join(f"<div class='evidence'>{_esc(n)}</div>" for n in notes) + "</li>")
        md = f"1. **{what}**" + (f" — {detail}" if detail else "") + "".join(f"\n   - {n}" for n in notes)
        out.append({"html": html, "md": md})
    return out


def _traffic_lights(store, cb, scores: list[UnitScore]) -> Section:
    """Standards x raters (and the final rating) per unit-period, as red/amber/green."""
    s = Section("Traffic-light summary")
    by_record: dict[str, dict[str, dict[str, Any]]] = {}
    for (rid, coder), items in submitted_ratings(store).items():
        by_record.setdefault(rid, {})[coder] = items
    for u in scores:
        own_by_rater = by_record.get(u.record_id, {})
        raters = sorted(own_by_rater)
        headers = ["standard", *raters, "final"]
        h_rows, m_rows = [], []
        for f in cb.items:
            cells_h, cells_m = [], []
            own = [own_by_rater[r].get(f.name) for r in raters]
            for i, v in enumerate([*own, u.ratings.get(f.name)]):
                c = f.choice(v) if v is not None else None
                empty = "to agree" if i == len(own) and any(x is not None for x in own) else "—"
                cells_h.append(_light(c.colour, c.label) if c is not None else empty)
                cells_m.append(c.label if c is not None else empty)
            h_rows.append(f"<tr><td>{_esc(f.label)}</td>" + "".join(f"<td>{c}</td>" for c in cells_h) + "</tr>")
            m_rows.append([f.label, *cells_m])
        title = f"{u.unit} {u.period}: {u.band or 'no overall rating'}"
        s.html.append(f"<h3>{_esc(title)}</h3><div class='table-wrap'><table><thead><tr>"
                      + "".join(f"<th>{_esc(x)}</th>" for x in headers) + "</tr></thead><tbody>"
                      + "".join(h_rows) + "</tbody></table></div>")
        _h, m = _table(headers, m_rows)
        s.md += [f"### {title}", "", m, ""]
    return s
