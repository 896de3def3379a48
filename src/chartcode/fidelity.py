"""Fidelity scores: a rating scale's items, sections, total and band per unit and period.

The scale (chartcode.codebook.model.Scale) says how to score; this module applies it to the
final ratings (consensus where the raters disagreed, chartcode.consensus):

    score_unit(codebook, ratings)   one unit-period's ratings -> UnitScore (pure; tested at every cut-off)
    fidelity(store)                 every unit-period of an audit, with the change since the unit's
                                    previous period (the shape `chartcode fidelity --json` prints)

Rules (also in codebooks/README.md):
- an item is *rated* when its final value is a rating point, *cannot rate* when it is the
  scale's cannot-rate code, *unrated* otherwise (cannot rate, not yet rated or unresolved);
- sum: a section or total is the sum of its rated items; with ``prorate`` and some items
  unrated, the mean of the rated items times the number of items (so a missing item
  neither drags a programme below a cut-off nor lifts it);
- mean: the mean of the rated items;
- completion: each item scores min(value / target, 1); a section or total is the share of
  planned sessions delivered, sum(min(value, target)) / sum(target), as a percentage;
- the total (and its band) is withheld when more than ``max_unrated`` items are unrated;
  a section's score is withheld only when none of its items is rated;
- bands: the first band (highest first) whose min the score reaches.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from chartcode.codebook.model import Codebook, Field, Scale, band_for
from chartcode.errors import UserError


@dataclass
class SectionScore:
    section: str
    label: str
    score: float | None
    band: str | None
    items: int
    rated: int

    def as_json(self) -> dict[str, Any]:
        return {"section": self.section, "score": self.score, "band": self.band}


@dataclass
class UnitScore:
    unit: str
    period: str
    scale: str
    scoring: str
    total: float | None
    mean: float | None
    band: str | None
    band_colour: str
    sections: list[SectionScore]
    items_rated: int
    items_cannot_rate: int
    items_unrated: int
    below_threshold: list[dict[str, Any]]
    ratings: dict[str, Any] = field(default_factory=dict)  # item -> final value (None when unrated)
    change_from_previous: float | None = None
    record_id: str = ""

    @property
    def primary(self) -> float | None:
        """The score bands and changes are read on: the mean for mean scoring, else the total."""
        return self.mean if self.scoring == "mean" else self.total

    def as_json(self) -> dict[str, Any]:
        return {
            "unit": self.unit,
            "period": self.period,
            "scale": self.scale,
            "total": self.total,
            "mean": self.mean,
            "band": self.band,
            "sections": [s.as_json() for s in self.sections],
            "items_rated": self.items_rated,
            "items_cannot_rate": self.items_cannot_rate,
            "below_threshold": self.below_threshold,
            "change_from_previous": self.change_from_previous,
        }


def require_scale(codebook: Codebook) -> Scale:
    if codebook.scale is None:
        raise UserError(
            f"codebook {codebook.id} is not a rating scale (it has no 'scale' block); fidelity scores"
            " need a scale codebook such as ips-fidelity or ibbis-fidelity"
        )
    return codebook.scale


def fmt_score(x: float | None, digits: int = 1, missing: str = "—") -> str:
    """A score as people read it: 94, 54.2; ``missing`` when there is none."""
    if x is None:
        return missing
    return str(int(x)) if float(x).is_integer() else f"{x:.{digits}f}"


def fmt_change(x: float | None, missing: str = "—") -> str:
    return missing if x is None else ("+" if x > 0 else "") + fmt_score(x)


def _rating(fld: Field, value: Any) -> float | None:
    """The item's rating as a number, or None (unrated, cannot rate or not a rating)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if fld.has_choices and (value in fld.missing_codes or value not in fld.rating_codes):
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _clean(x: float | None) -> float | None:
    if x is None:
        return None
    r = round(x, 6)  # sums of 0.1-style fractions print as the number people expect
    return float(int(r)) if r.is_integer() else r


def item_score(fld: Field, value: Any, scoring: str) -> float | None:
    """What one item contributes: its rating, or for completion scoring the percentage of its
    target delivered (capped at 100); None when it is not rated."""
    x = _rating(fld, value)
    if x is None or scoring != "completion":
        return x
    assert fld.target is not None  # the codebook loader requires a target for completion scoring
    return 100.0 * min(x / fld.target, 1.0)


def _sum(scale: Scale, items: list[Field], values: dict[str, float | None]) -> float | None:
    """The sum of the rated items; with ``prorate`` and some unrated, their mean times the item count."""
    rated = [v for f in items if (v := values[f.name]) is not None]
    if not rated:
        return None
    if scale.prorate and len(rated) < len(items):
        return sum(rated) / len(rated) * len(items)
    return float(sum(rated))


def _aggregate(scale: Scale, items: list[Field], values: dict[str, float | None]) -> float | None:
    """A section's (or the whole scale's) score under the scale's scoring rule."""
    rated = [(f, v) for f in items if (v := values[f.name]) is not None]
    if not rated:
        return None
    if scale.scoring == "completion":
        done = sum(min(v, f.target or 0) for f, v in rated)
        planned = sum(f.target or 0 for f, _ in rated)
        return 100.0 * done / planned if planned else None
    if scale.scoring == "mean":
        return sum(v for _, v in rated) / len(rated)
    return _sum(scale, items, values)


def score_unit(
    codebook: Codebook, ratings: dict[str, Any], *, unit: str = "", period: str = "", record_id: str = ""
) -> UnitScore:
    """Score one unit-period from its final values (item name -> code; absent = unrated)."""
    scale = require_scale(codebook)
    items = list(codebook.items)
    # an item whose show_if is false for this unit's ratings does not apply: its stored rating (if
    # any) is not a rating, and it is not "unrated" either, so it does not withhold the total
    na: set[str] = set()
    if codebook.has_logic:
        form = codebook.form([], {(None, k): v for k, v in ratings.items()})
        na = {f.name for f in items if not form.applies(None, f)}
    values = {f.name: None if f.name in na else _rating(f, ratings.get(f.name)) for f in items}
    cannot = sum(
        1
        for f in items
        if f.name not in na and ratings.get(f.name) is not None and ratings.get(f.name) in f.missing_codes
    )
    rated = sum(1 for v in values.values() if v is not None)
    unrated = len(items) - rated - len(na)
    sections = []
    for s in scale.sections:
        s_items = [f for f in items if f.section == s.id]
        score = _clean(_aggregate(scale, s_items, values))
        b = band_for(s.bands, score)
        sections.append(
            SectionScore(
                s.id,
                s.label,
                score,
                b.label if b else None,
                len(s_items),
                sum(1 for f in s_items if values[f.name] is not None),
            )
        )
    total = mean = None
    rated_items = [f for f in items if values[f.name] is not None]
    rated_values = [v for f in items if (v := values[f.name]) is not None]  # of rated_items, in order
    if rated_items and unrated <= scale.max_unrated:
        if scale.scoring == "completion":
            total = _aggregate(scale, items, values)
            scores = [x for f in rated_items if (x := item_score(f, ratings.get(f.name), "completion")) is not None]
            mean = sum(scores) / len(rated_items)
        else:
            mean = sum(rated_values) / len(rated_items)
            total = _sum(scale, items, values)
    elif rated_items and scale.scoring == "sum":
        mean = sum(rated_values) / len(rated_items)  # shown; the total is withheld
    total, mean = _clean(total), _clean(mean)
    primary = mean if scale.scoring == "mean" else total
    band = band_for(scale.bands, primary)
    below = []
    for f in items:
        v = values[f.name]
        if v is None:
            continue
        limit = f.target if scale.scoring == "completion" else scale.action_below
        if limit is not None and v < limit:
            below.append({"item": f.name, "rating": int(v) if float(v).is_integer() else v})
    return UnitScore(
        unit=unit,
        period=period,
        scale=codebook.id,
        scoring=scale.scoring,
        total=total,
        mean=mean,
        band=band.label if band else None,
        band_colour=band.colour if band else "",
        sections=sections,
        items_rated=rated,
        items_cannot_rate=cannot,
        items_unrated=unrated,
        below_threshold=below,
        ratings={f.name: ratings.get(f.name) for f in items},
        record_id=record_id,
    )


def fidelity(store) -> list[UnitScore]:
    """Every unit-period of the audit, scored on final ratings, ordered by unit then period, with
    the change of the primary score since the unit's previous period."""
    from chartcode.dataset import finals

    cb = store.codebook
    require_scale(cb)
    fin = finals(store)
    rec = fin[fin["note_key"] == ""]
    by_record: dict[str, dict[str, Any]] = {}
    for rid, fname, value in zip(rec["record_id"], rec["field"], rec["value"], strict=True):
        by_record.setdefault(rid, {})[fname] = value
    out: list[UnitScore] = []
    previous: dict[str, UnitScore] = {}
    for up in store.unit_periods():
        s = score_unit(
            cb, by_record.get(up["record_id"], {}), unit=up["unit"], period=up["period"], record_id=up["record_id"]
        )
        prev = previous.get(up["unit"])
        if prev is not None and prev.primary is not None and s.primary is not None:
            s.change_from_previous = _clean(s.primary - prev.primary)
        previous[up["unit"]] = s
        out.append(s)
    return out


def evidence(store, record_id: str) -> dict[str, list[tuple[str, str]]]:
    """Item -> [(rater, memo)] for a unit-period's submitted ratings (the evidence behind a rating)."""
    rows = store.submitted_memos(record_id)
    out: dict[str, list[tuple[str, str]]] = {}
    for fname, coder, memo in rows:
        out.setdefault(fname, []).append((coder, memo))
    return out


def submitted_ratings(store) -> dict[tuple[str, str], dict[str, Any]]:
    """(record id, rater) -> {item: submitted rating}, for unit-periods every assigned rater has
    submitted (the blinding rule: before that, no rater's ratings are shown beside another's)."""
    given: dict[tuple[str, str], dict[str, Any]] = {}
    for rid, coder, fname, value in store.shared_record_ratings():
        given.setdefault((rid, coder), {})[fname] = value
    return given


def rater_scores(store) -> tuple[list[str], list[str], list[list[float | None]]]:
    """Each rater's own primary score per unit-period (from their submitted ratings, before
    consensus): (record ids, raters, matrix) for agreement on the scores themselves."""
    cb = store.codebook
    require_scale(cb)
    given = submitted_ratings(store)
    records = sorted({r for r, _ in given})
    raters = sorted({c for _, c in given})
    matrix = [[(score_unit(cb, given[(r, c)]).primary if (r, c) in given else None) for c in raters] for r in records]
    return records, raters, matrix


def score_agreement(store) -> dict[str, Any] | None:
    """ICC of the raters' own scores over unit-periods every rater scored (Shrout & Fleiss,
    chartcode.agreement.icc): ICC2 = two-way random effects, absolute agreement, single rater,
    the usual choice when the same reviewers rate every unit. None with fewer than 2 raters or
    3 complete unit-periods."""
    from chartcode.agreement import icc

    records, raters, matrix = rater_scores(store)
    complete = [row for row in matrix if all(v is not None for v in row)]
    if len(raters) < 2 or len(complete) < 3:
        return None
    values = icc(complete)
    return {
        "raters": raters,
        "n": len(complete),
        "icc2": values["ICC2"],
        "icc3": values["ICC3"],
        "icc2k": values["ICC2k"],
    }
