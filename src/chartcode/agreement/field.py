"""Agreement for one field (:func:`field_agreement`) and for a store's codebook (:func:`agreement_report`).

The coefficients come from the registry (:mod:`chartcode.agreement.registry`): this module picks
the units and coders that count, builds the field's scale, asks the registry which coefficients
apply, computes them (the library's number where the registry names one), and adds the intervals.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np

from chartcode.agreement import registry
from chartcode.agreement.bootstrap import field_rng, new_seed, percentile_intervals
from chartcode.agreement.coefficients import contingency
from chartcode.agreement.collect import Ratings, collect
from chartcode.agreement.design import _as_matrix, _Design
from chartcode.agreement.kinds import kind_of
from chartcode.agreement.registry import (
    GROUPS,
    Coefficient,
    Setting,
    applicable,
    compute_order,
    empty_result,
    members,
    term,
)
from chartcode.agreement.scale import _scale
from chartcode.codebook import Field
from chartcode.errors import UserError

NO_UNITS = "no units coded by 2 or more coders"


def _clean(x) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _who_counts(m: np.ndarray, coders: list[str]):
    """The units with a value and the coders with a value, and which of those coders are counted:
    (matrix, coders, values per unit, counted coder columns, notes on who is left out)."""
    m = m[~np.isnan(m).all(axis=1)]
    per_unit = (~np.isnan(m)).sum(axis=1)
    # coders who take part: a value on a unit coded by 2 or more coders. Coders who only coded units
    # nobody else coded stay in the matrix (for Gwet's chance agreement) but are not counted.
    paired = (~np.isnan(m[per_unit >= 2])).any(axis=0)
    rated = (~np.isnan(m)).any(axis=0)
    m, coders, paired = m[:, rated], [c for c, k in zip(coders, rated, strict=True) if k], paired[rated]
    cols = np.nonzero(paired)[0]
    notes = []
    single = int((per_unit == 1).sum())
    if single:
        notes.append(
            f"{single} unit(s) coded by one coder only: left out of every coefficient except the"
            " chance-agreement term of Gwet's AC1/AC2 and the generalised Fleiss kappa (Gwet 2014)"
        )
    if len(coders) > len(cols):
        notes.append(f"{len(coders) - len(cols)} coder(s) coded only units nobody else coded; not counted in n_coders")
    return m, coders, per_unit, cols, notes


def _estimate(s: Setting, order: list[Coefficient]) -> dict[str, float]:
    """Point estimates: the kernels on the observed counts, the library's number where there is one."""
    point = {k: float(v[0]) for k, v in s.evaluate(s.d.w0[None], order).items()}
    for c in order:
        if c.point is not None and (v := c.point(s, c)) is not None:
            point[c.key] = v
    return point


def _fill(out: dict[str, Any], active: list[Coefficient], point: dict[str, float]) -> None:
    for group in GROUPS.values():
        if not group.always and any(c.group == group.key for c in active):
            out[group.key] = {m.member: None for m in members(group.key)}
    for key, value in point.items():
        c = registry.BY_KEY[key]
        if c.group:
            out[c.group][c.member] = _clean(value)
        else:
            out[key] = _clean(value)
    for group in GROUPS.values():
        if group.field_level_alias:
            out[group.field_level_alias] = out[group.key][out["level"]]


def _undefined_note(s: Setting, point: dict[str, float]) -> str | None:
    undefined = [name for name, v in point.items() if _clean(v) is None]
    if not undefined:
        return None
    distinct = len(np.unique(s.idx[s.idx >= 0]))
    why = "every submitted value is the same" if distinct <= 1 else "no variation for them to correct for"
    return f"undefined for these data, {why}: {', '.join(term(n) for n in undefined)}"


def _bootstrap(out: dict[str, Any], s: Setting, point: dict[str, float], B: int, seed: int | None, ci: float) -> None:
    if seed is None:
        seed = new_seed()
    keys = [k for k, v in point.items() if _clean(v) is not None and registry.BY_KEY[k].bootstrap]
    coefficients = [registry.BY_KEY[k] for k in keys]
    intervals, worst = percentile_intervals(
        s.d, lambda C: s.evaluate(C, coefficients), keys, B, field_rng(seed, s.fld.name), ci
    )
    out["ci"].update(intervals)
    for group in GROUPS.values():
        if group.field_level_alias and f"{group.key}.{out['level']}" in out["ci"]:
            out["ci"][group.field_level_alias] = out["ci"][f"{group.key}.{out['level']}"]
    out["notes"].append(
        f"ci: {ci:g} percentile bootstrap intervals, {int(B)} resamples of the {s.idx.shape[0]} units, seed {seed}"
    )
    if worst:
        out["notes"].append(
            f"ci: up to {worst} of {int(B)} resamples left a coefficient undefined; its interval uses the rest"
        )


def _confusion(s: Setting, labels: list[str] | None, coders: list[str]) -> dict[str, Any]:
    pair = s.idx[:, s.cols]
    both = (pair >= 0).all(axis=1)
    cm = contingency(pair[both], s.K)
    return {
        "rows": coders[s.cols[0]],
        "columns": coders[s.cols[1]],
        "labels": labels,
        "matrix": cm.astype(int).tolist(),
    }


def field_agreement(
    fld: Field,
    matrix,
    coders,
    *,
    bootstrap: int = 0,
    seed: int | None = None,
    ci: float = 0.95,
    confusion: bool = False,
    unreadable: int = 0,
    applicability_disagreements: int | None = None,
    not_applicable: int = 0,
) -> dict[str, Any]:
    """Agreement for one field from its units x coders matrix (see :class:`Ratings` for encoding).

    Returns the JSON shape documented in the package (plus ``confusion`` when asked for and there
    are two coders on a field with choices).
    """
    kind = kind_of(fld)
    out = empty_result(fld.name, kind.level)
    notes = out["notes"]
    m = _as_matrix(matrix)
    coders = list(coders)
    if m.shape[1] != len(coders):
        raise ValueError("one column per coder")
    if unreadable:
        notes.append(f"{unreadable} stored value(s) no longer fit the field's codebook definition and were left out")
    if applicability_disagreements is not None:  # a field with show_if (chartcode.applicability)
        out["applicability_disagreements"] = applicability_disagreements
        out["not_applicable_units"] = not_applicable
        if applicability_disagreements:
            notes.append(
                f"{applicability_disagreements} unit(s) where the coders disagree on whether the field applies"
                " (applicability disagreements): left out of every coefficient; `chartcode disagreements`"
                " lists them"
            )
        if not_applicable:
            notes.append(f"{not_applicable} unit(s) where the field applies for no coder: not units of this field")
    m, coders, per_unit, cols, left_out = _who_counts(m, coders)
    out["n_units"] = n_units = int((per_unit >= 2).sum())
    if n_units == 0:
        notes.append(NO_UNITS)
        return out
    out["n_coders"] = len(cols)
    notes.extend(left_out)
    scale = _scale(fld, kind, m)
    notes.extend(scale.notes)
    s = Setting(
        fld,
        kind,
        _Design(scale.idx, scale.K),
        scale.K,
        scale.values,
        scale.levels,
        scale.idx,
        cols,
        n_units,
        bool((per_unit == len(coders)).all()),
        per_unit[per_unit >= 2],
    )
    s.active, why_not = applicable(s)
    notes.extend(why_not)
    point = _estimate(s, compute_order(s.active))
    _fill(out, s.active, point)
    if (note := _undefined_note(s, point)) is not None:
        notes.append(note)
    if bootstrap and bootstrap > 0:
        _bootstrap(out, s, point, bootstrap, seed, ci)
    if confusion and s.r == 2 and kind.encoding == "position" and scale.K <= 30:
        out["confusion"] = _confusion(s, scale.labels, coders)
    return out


def agreement_report(
    store,
    field: str | None = None,
    bootstrap: int = 0,
    seed: int | None = None,
    ci: float = 0.95,
    confusion: bool = False,
    ratings: list[Ratings] | None = None,
) -> dict[str, Any]:
    """``{"fields": [...]}``: :func:`field_agreement` for every codebook field (or ``field``).
    ``ratings``: the fields' matrices read already (the report reads them record span by span)."""
    if not 0 < ci < 1:
        raise UserError(f"--ci {ci}: the interval level must be between 0 and 1, e.g. 0.95")
    if bootstrap < 0:
        raise UserError("--bootstrap must be 0 or more")
    if bootstrap and seed is None:
        seed = new_seed()
    fields = []
    for rt in collect(store, field) if ratings is None else ratings:
        if rt.matrix.dtype != np.float64:  # joined narrow (agreement.collect.join_ratings): this field's, widened
            rt = replace(rt, matrix=rt.matrix.astype(np.float64))
        if rt.field.kind.multiple:  # check all that apply: the whole set, then each option (agreement.sets)
            from chartcode.agreement.sets import set_agreement

            fields += set_agreement(rt, bootstrap=bootstrap, seed=seed, ci=ci, confusion=confusion)
            continue
        fields.append(
            field_agreement(
                rt.field,
                rt.matrix,
                rt.coders,
                bootstrap=bootstrap,
                seed=seed,
                ci=ci,
                confusion=confusion,
                unreadable=rt.unreadable,
                applicability_disagreements=rt.applicability_disagreements,
                not_applicable=rt.not_applicable,
            )
        )
    return {"fields": fields}
