"""The krippendorff package's alpha, asked with the per-unit value counts agreement builds once per field
(registry ``Setting.value_counts``, units coded by 2 or more only), is the package's own number from
the reliability data, to the bit: the JSON of ``chartcode agreement`` prints it with every digit.

The package turns reliability data into these counts on every call, once per level; on the
million-rating bench that counting was about a fifth of the statistics' time.
"""

from __future__ import annotations

import krippendorff
import numpy as np
import pytest

from chartcode.agreement import field as field_module
from chartcode.agreement import field_agreement
from chartcode.agreement.registry import BY_KEY, _alpha_lib, applicable
from chartcode.codebook import load_codebook

CODEBOOK = """
id: vc
title: Value counts
version: "1"
fields:
  - name: severity
    label: Severity
    type: ordinal
    choices: {0: None, 1: Mild, 2: Moderate, 4: Severe}
  - name: sessions
    label: Sessions
    type: count
  - name: kind
    label: Kind
    type: nominal
    choices: {a: A, b: B, c: C}
"""


def _ratings(seed: int, n: int, r: int, K: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, K, n)
    m = np.stack([np.where(rng.random(n) < 0.75, truth, rng.integers(0, K, n)) for _ in range(r)], axis=1)
    m = m.astype(float)
    m[rng.random(m.shape) < 0.35] = np.nan  # many units coded by one coder only, some by none
    return m


def _setting(fld, m, monkeypatch):
    """The Setting field_agreement builds for ``m`` (caught where it asks which coefficients apply)."""
    seen = []

    def spy(s):
        seen.append(s)
        return applicable(s)

    monkeypatch.setattr(field_module, "applicable", spy)
    field_agreement(fld, m, [f"c{i}" for i in range(m.shape[1])])
    return seen[0]


@pytest.mark.parametrize("coders", [2, 3, 4, 5])
@pytest.mark.parametrize("name", ["severity", "sessions", "kind"])
def test_library_alpha_from_value_counts_equals_the_reliability_data_call_bit_for_bit(name, coders, monkeypatch):
    cb = load_codebook("vc.yaml", text=CODEBOOK)
    fld = cb.get(name)
    K = 4 if name == "severity" else 3 if name == "kind" else 9
    m = _ratings(coders * 7 + K, 400, coders, K)
    if name == "sessions":
        m = m * 3  # values 0, 3, ..., 24: the scale's values are not its positions
    s = _setting(fld, m, monkeypatch)
    assert s.value_counts().shape[0] < s.idx.shape[0]  # units coded once were left out
    checked = 0
    for level in s.levels:
        rel = np.where(s.idx >= 0, s.idx, np.nan).T  # coders as rows: what the package was given before
        if level in ("interval", "ratio"):
            data = np.where(np.isnan(rel), np.nan, s.values[np.nan_to_num(rel, nan=0).astype(int)])
            domain = s.values
        else:
            data, domain = rel, np.arange(s.K, dtype=float)
        expected = float(krippendorff.alpha(reliability_data=data, value_domain=domain, level_of_measurement=level))
        got = _alpha_lib(s, BY_KEY[f"alpha_by_level.{level}"])
        assert got is not None
        assert got.hex() == expected.hex(), level
        checked += 1
    assert checked == len(s.levels) >= 1


def test_a_single_value_is_still_undefined():
    cb = load_codebook("vc.yaml", text=CODEBOOK)
    m = np.array([[1.0, 1.0], [1.0, 1.0], [1.0, np.nan]])
    result = field_agreement(cb.get("severity"), m, ["a", "b"])
    assert result["alpha_by_level"]["nominal"] is None
    assert result["n_units"] == 2
