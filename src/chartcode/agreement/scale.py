"""The scale of a field: its units x coders matrix as category indices, with the numeric value of
each category and the Krippendorff levels the codes allow (see "The scale rule" in the package
docstring)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chartcode.agreement.design import _categories, _positions
from chartcode.agreement.kinds import FieldKind
from chartcode.codebook import Field


@dataclass
class _Scale:
    idx: np.ndarray
    K: int
    values: np.ndarray | None  # numeric value per category (interval, ratio, ICC)
    levels: list[str]
    labels: list[str] | None  # shown in a confusion matrix
    notes: list[str]


def _fmt_codes(codes) -> str:
    return ", ".join(str(c) for c in codes)


def _scale(fld: Field, kind: FieldKind, m: np.ndarray) -> _Scale:
    if kind.encoding == "position":
        return _choice_scale(fld, kind, m)
    if kind.encoding == "observed":
        idx, K = _positions(m, None)
        return _Scale(
            idx,
            K,
            None,
            ["nominal"],
            None,
            [f"text values compared exactly as nominal categories ({K} distinct values)"],
        )
    idx, values = _categories(m)
    return _Scale(idx, len(values), values, list(kind.alpha_levels), None, [kind.alpha_note] if kind.alpha_note else [])


def _choice_scale(fld: Field, kind: FieldKind, m: np.ndarray) -> _Scale:
    """The codebook's choices in codebook order; ordered choices also as numbers when the codes are
    whole numbers increasing in codebook order."""
    notes: list[str] = []
    idx, K = _positions(m, len(fld.rating_codes))
    codes = list(fld.rating_codes)
    used = set(np.unique(idx[idx >= 0]).tolist())
    unused = [codes[i] for i in range(K) if i not in used]
    levels = ["nominal"]
    values = None
    labels = [str(c) for c in codes]
    if kind.weighted:
        levels.append("ordinal")
        notes.append(
            f"scale: the codebook's {K} choices in order ({_fmt_codes(codes)}); weighted kappa and AC2"
            " weigh by position on this list (sklearn labels = codebook order), not by the categories"
            " observed"
        )
        if unused:
            notes.append(
                f"choices no coder used: {_fmt_codes(unused)} (they still count as steps on the scale;"
                " R irr and sklearn's default, which drop them, would give other weighted values)"
            )
        int_codes = [c for c in codes if isinstance(c, int)]
        if len(int_codes) == len(codes) and all(a < b for a, b in zip(int_codes, int_codes[1:], strict=False)):
            values = np.array(codes, dtype=float)
            levels.append("interval")
            if values.min() >= 0:
                levels.append("ratio")
            else:
                notes.append("ratio alpha: not computed, the codes include negative numbers")
        else:
            notes.append(
                "interval and ratio alpha: not computed, the codes are not whole numbers increasing in codebook order"
            )
    elif unused and kind.lists_unused:
        notes.append(f"choices no coder used: {_fmt_codes(unused)}")
    return _Scale(idx, K, values, levels, labels, notes)
