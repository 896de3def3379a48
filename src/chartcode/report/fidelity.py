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
from chartcode.report.model import ActionItem, ActionList, Chart, Heading, Light, LightTable, Paragraph, Section, Table


def fidelity_sections(store, fmt: str = "html") -> list[Section]:
    """The sections; ``fmt`` other than "html" draws no charts (Markdown shows none)."""
    cb = store.codebook
    if cb.scale is None:
        return []
    charts = fmt == "html"
    scores = fidelity(store)
    out = [comparison_section(store, cb, scores, charts=charts)]
    units: dict[str, list[UnitScore]] = {}
    for s in scores:
        units.setdefault(s.unit, []).append(s)
    if cb.scale.display == "traffic_light":
        out.append(traffic_light_section(store, cb, scores))
    for unit, periods in units.items():
        out.append(unit_section(store, cb, unit, periods, charts=charts))
    return out


def comparison_section(store, cb, scores: list[UnitScore], *, charts: bool = True) -> Section:
    scale = cb.scale
    s = Section(f"Fidelity: {cb.title}", kind="fidelity")
    what = {
        "sum": "the sum of the item ratings",
        "mean": "the mean item rating",
        "completion": "the share of planned sessions delivered (%)",
    }[scale.scoring]
    bands = ", ".join(
        f"{b.label} ({'≥ ' + fmt_score(b.min, 2) if b.min is not None else 'below'})" for b in scale.bands
    )
    s.add(
        Paragraph(
            f"{len({x.unit for x in scores})} units, {len(scores)} unit-periods, {len(cb.items)} items. "
            f"The score is {what}" + (f"; bands: {bands}" if bands else "") + ". Scored on final ratings "
            "(consensus where the raters disagreed)."
        )
    )
    if not scores:
        return s.add(Paragraph("No unit has been rated yet."))
    headers = [
        "unit",
        "period",
        *[x.label for x in scale.sections],
        "total",
        "mean",
        "band",
        "change",
        "rated",
        "cannot rate",
        "actions",
    ]
    rows = []
    for u in scores:
        sec = [f"{fmt_score(x.score)}" + (f" ({x.band})" if x.band else "") for x in u.sections]
        rows.append(
            [
                u.unit,
                u.period,
                *sec,
                fmt_score(u.total),
                fmt_score(u.mean, 2),
                u.band or "—",
                fmt_change(u.change_from_previous),
                f"{u.items_rated}/{len(cb.items)}",
                u.items_cannot_rate,
                len(u.below_threshold),
            ]
        )
    s.add(Table(headers, rows, set(range(2, len(headers))) - {headers.index("band")}))
    from chartcode.fidelity import score_agreement

    sa = score_agreement(store)
    if sa is not None:
        s.add(
            Paragraph(
                f"Raters' own scores (before consensus) agree with ICC(2,1) = {sa['icc2']:.3f} (two-way "
                f"random, absolute agreement, single rater; ICC(3,1) = {sa['icc3']:.3f}) over {sa['n']} "
                f"unit-periods rated by {', '.join(sa['raters'])}."
            )
        )
    withheld = [u for u in scores if u.total is None and u.items_rated]
    if withheld:
        s.add(
            Paragraph(
                f"{len(withheld)} unit-period(s) have no total: more items unrated (cannot rate, unresolved "
                f"or not rated) than the scale allows ({scale.max_unrated}).",
                style="note",
            )
        )
    if charts and len(scores) > 1 and scale.display == "profile":
        from chartcode.report.charts import score_chart

        s.add(Chart(score_chart(scores, scale), "Scores by unit and period"))
    return s


def unit_section(store, cb, unit: str, periods: list[UnitScore], *, charts: bool = True) -> Section:
    scale = cb.scale
    latest = periods[-1]
    s = Section(f"{unit}", kind="fidelity")
    band = latest.band or "no band"
    s.add(
        Paragraph(
            f"Latest period {latest.period}: total {fmt_score(latest.total)}, mean "
            f"{fmt_score(latest.mean, 2)}, {band}; change since the previous period "
            f"{fmt_change(latest.change_from_previous)}."
        )
    )
    if charts and scale.display == "profile" and latest.items_rated:
        from chartcode.report.charts import profile_chart

        s.add(Chart(profile_chart(cb, latest), f"{latest.unit}, {latest.period}: item ratings"))
    headers = ["period", *[x.label for x in scale.sections], "total", "band", "change"]
    rows = [
        [
            p.period,
            *[fmt_score(x.score) + (f" ({x.band})" if x.band else "") for x in p.sections],
            fmt_score(p.total),
            p.band or "—",
            fmt_change(p.change_from_previous),
        ]
        for p in periods
    ]
    s.add(Table(headers, rows, set(range(1, len(headers) - 2))))
    actions = action_items(store, cb, latest)
    if actions:
        s.add(Heading(f"Action list, {latest.period}: {len(actions)} item(s) below threshold"), ActionList(actions))
    elif latest.items_rated:
        s.add(Paragraph(f"No item below threshold in {latest.period}."))
    return s


def action_items(store, cb, u: UnitScore) -> list[ActionItem]:
    """The items below threshold: what was rated, the anchor's words, the raters' evidence, the consensus reason."""
    if not u.below_threshold:
        return []
    ev = evidence(store, u.record_id)
    reasons = store.consensus_reasons(u.record_id)
    out = []
    for b in u.below_threshold:
        f = cb.field(b["item"])
        section = cb.scale.section(f.section)
        anchor = f.choice(b["rating"])
        notes = [f"{rater}: {memo}" for rater, memo in ev.get(f.name, [])]
        if f.name in reasons:
            notes.append(f"consensus: {reasons[f.name]}")
        out.append(
            ActionItem(
                f"{f.label} ({section.label if section else f.section}): rated {b['rating']}",
                anchor.description if anchor is not None and anchor.description else "",
                notes,
            )
        )
    return out


def traffic_light_section(store, cb, scores: list[UnitScore]) -> Section:
    """Standards x raters (and the final rating) per unit-period, as red/amber/green."""
    s = Section("Traffic-light summary", kind="fidelity")
    by_record: dict[str, dict[str, dict[str, Any]]] = {}
    for (rid, coder), items in submitted_ratings(store).items():
        by_record.setdefault(rid, {})[coder] = items
    for u in scores:
        own_by_rater = by_record.get(u.record_id, {})
        raters = sorted(own_by_rater)
        rows = []
        for f in cb.items:
            cells: list[Any] = []
            own = [own_by_rater[r].get(f.name) for r in raters]
            for i, v in enumerate([*own, u.ratings.get(f.name)]):
                c = f.choice(v) if v is not None else None
                empty = "to agree" if i == len(own) and any(x is not None for x in own) else "—"
                cells.append(Light(c.label, c.colour or "") if c is not None else empty)
            rows.append([f.label, *cells])
        s.add(
            LightTable(
                f"{u.unit} {u.period}: {u.band or 'no overall rating'}", Table(["standard", *raters, "final"], rows)
            )
        )
    return s
