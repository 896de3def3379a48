"""Inline SVG charts for reports (matplotlib, SVG backend, no files, no network)."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

plt.rcParams.update({"svg.fonttype": "none", "font.size": 9, "axes.spines.top": False,
                     "axes.spines.right": False})


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    svg = buf.getvalue()
    return svg[svg.index("<svg"):]  # drop the XML prolog and doctype: the SVG goes inline in HTML


def ci_chart(labels: Sequence[str], values: Sequence[float | None], lows: Sequence[float | None],
             highs: Sequence[float | None], title: str) -> str:
    """Points with interval bars, one row per label (e.g. alpha per field with its bootstrap CI)."""
    n = len(labels)
    fig, ax = plt.subplots(figsize=(6.0, 0.35 * n + 0.9))
    for i, (v, lo, hi) in enumerate(zip(values, lows, highs)):
        if v is None or (isinstance(v, float) and math.isnan(v)):
            continue
        if lo is not None and hi is not None:
            ax.plot([lo, hi], [i, i], color="#4c72b0", linewidth=2)
        ax.plot([v], [i], "o", color="#1f3b73")
    ax.set_yticks(range(n))
    ax.set_yticklabels(labels)
    ax.invert_yaxis()
    ax.axvline(0, color="#999", linewidth=0.8)
    for x in (0.4, 0.6, 0.8):
        ax.axvline(x, color="#ddd", linewidth=0.6, zorder=0)
    ax.set_xlim(min(-0.1, *(v for v in lows if v is not None)) if any(v is not None for v in lows) else -0.1, 1.02)
    ax.set_title(title, loc="left")
    return _svg(fig)


def bar_chart(labels: Sequence[str], counts: Sequence[int], title: str) -> str:
    fig, ax = plt.subplots(figsize=(4.2, 0.3 * len(labels) + 0.8))
    ax.barh(range(len(labels)), counts, color="#4c72b0")
    ax.set_yticks(range(len(labels)))
    ax.set_yticklabels([lab if len(lab) <= 38 else lab[:36] + "…" for lab in labels])
    ax.invert_yaxis()
    for i, c in enumerate(counts):
        ax.text(c, i, f" {c}", va="center", fontsize=8)
    ax.set_title(title, loc="left")
    ax.set_xlim(0, max(counts or [1]) * 1.2 + 0.5)
    return _svg(fig)
