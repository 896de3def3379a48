"""Inline SVG charts for reports (matplotlib, SVG backend, no files, no network).

Read on paper, on a desktop and on a 390 px phone: counts sit on whole-number ticks, labels wrap
instead of being cut, "(no final value)" is drawn apart from the real categories (grey,
hatched, italic), and the bar and interval charts are narrow enough (about 4 in with their
labels) to shrink onto a phone with text of 9 px or more; wider charts (fidelity profiles)
scroll inside their own box there (model.Chart.wide, report.css).
"""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

NO_FINAL = "(no final value)"
WRAP = 26  # characters per line of an axis label: labels wrap, never cut

plt.rcParams.update({"svg.fonttype": "none", "font.size": 9, "axes.spines.top": False, "axes.spines.right": False})


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    svg = buf.getvalue()
    return svg[svg.index("<svg") :]  # drop the XML prolog and doctype: the SVG goes inline in HTML


def ci_chart(
    labels: Sequence[str],
    values: Sequence[float | None],
    lows: Sequence[float | None],
    highs: Sequence[float | None],
    title: str,
) -> str:
    """Points with interval bars, one row per label (e.g. alpha per field with its bootstrap CI)."""
    n = len(labels)
    wrapped = [_wrap(lab, 22) for lab in labels]
    lines = sum(w.count("\n") + 1 for w in wrapped)
    fig, ax = plt.subplots(figsize=(3.9, 0.22 * lines + 0.14 * n + 0.9))
    for i, (v, lo, hi) in enumerate(zip(values, lows, highs, strict=True)):
        if v is None or math.isnan(v):
            continue
        if lo is not None and hi is not None:
            ax.plot([lo, hi], [i, i], color="#4c72b0", linewidth=2)
        ax.plot([v], [i], "o", color="#1f3b73")
    ax.set_yticks(range(n))
    ax.set_yticklabels(wrapped)
    ax.invert_yaxis()
    ax.axvline(0, color="#999", linewidth=0.8)
    for x in (0.4, 0.6, 0.8):
        ax.axvline(x, color="#ddd", linewidth=0.6, zorder=0)
    ax.set_xlim(min(-0.1, *(v for v in lows if v is not None)) if any(v is not None for v in lows) else -0.1, 1.02)
    ax.set_title(_wrap(title, 40), loc="left")
    return _svg(fig)


def _wrap(label: str, width: int = WRAP) -> str:
    return "\n".join(textwrap.wrap(label, width, break_long_words=True)) or label


def bar_chart(labels: Sequence[str], counts: Sequence[int], title: str) -> str:
    """Counts per category, on whole-number ticks; a "(no final value)" bar is grey and hatched
    and its label italic, so it does not read as one more category."""
    wrapped = [_wrap(lab, 20) for lab in labels]
    lines = sum(w.count("\n") + 1 for w in wrapped)
    fig, ax = plt.subplots(figsize=(2.6, 0.2 * lines + 0.12 * len(labels) + 0.8))
    missing = [lab == NO_FINAL for lab in labels]
    for i, (c, miss) in enumerate(zip(counts, missing, strict=True)):
        ax.barh(i, c, color="#d9d9d9" if miss else "#4c72b0", hatch="///" if miss else None, edgecolor="#888")
        ax.text(c, i, f" {c}", va="center", fontsize=9, color="#666" if miss else "#1b1b1b")
    ax.set_yticks(range(len(labels)))
    ax.set_yticklabels(wrapped)
    for tick, miss in zip(ax.get_yticklabels(), missing, strict=True):
        if miss:
            tick.set_fontstyle("italic")
            tick.set_color("#666")
    ax.invert_yaxis()
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(_wrap(title, 30), loc="left")
    ax.set_xlim(0, max(counts or [1]) * 1.2 + 0.5)
    return _svg(fig)


SECTION_COLOURS = ("#4c72b0", "#dd8452", "#55a868", "#8172b3", "#937860", "#da8bc3")


def profile_chart(codebook, unit_score) -> str:
    """A unit-period's item profile: one bar per item coloured by section, the action threshold
    dashed; items that could not be rated are marked so rather than drawn as zero."""
    from chartcode.fidelity import item_score

    scale = codebook.scale
    items = list(codebook.items)
    colour = {s.id: SECTION_COLOURS[i % len(SECTION_COLOURS)] for i, s in enumerate(scale.sections)}
    fig, ax = plt.subplots(figsize=(6.4, 0.26 * len(items) + 1.0))
    top = 0.0
    for i, f in enumerate(items):
        raw = unit_score.ratings.get(f.name)
        v = item_score(f, raw, scale.scoring)
        if v is None:
            ax.text(0.05, i, "cannot rate" if raw is not None else "not rated", va="center", fontsize=7, color="#666")
            continue
        top = max(top, v)
        ax.barh(i, v, color=colour[f.section])
        ax.text(v, i, f" {v:g}" if scale.scoring != "completion" else f" {v:.0f}%", va="center", fontsize=7)
    ax.set_yticks(range(len(items)))
    ax.set_yticklabels([_wrap(f.label, 40) for f in items], fontsize=7)
    ax.invert_yaxis()
    if scale.scoring == "completion":
        ax.set_xlim(0, 110)
        ax.set_xlabel("% of planned sessions delivered")
    else:
        points = [c for f in items for c in f.rating_codes if isinstance(c, (int, float))]
        hi = max(points or [top or 1])
        ax.set_xlim(0, hi + 0.6)
        ax.set_xticks(range(0, int(hi) + 1))
        if scale.action_below is not None:
            ax.axvline(scale.action_below, color="#c0392b", linestyle="--", linewidth=0.8)
    handles = [plt.Rectangle((0, 0), 1, 1, color=colour[s.id]) for s in scale.sections]
    ax.legend(
        handles,
        [s.label for s in scale.sections],
        loc="upper center",
        bbox_to_anchor=(0.4, -0.06 - 1.2 / (len(items) + 4)),
        ncol=min(len(handles), 3),
        fontsize=7,
        frameon=False,
    )
    ax.set_title(f"{unit_score.unit}, {unit_score.period}: item ratings", loc="left")
    return _svg(fig)


def score_chart(scores, scale) -> str:
    """The primary score of every unit by period (grouped bars), band cut-offs as lines."""
    units = list(dict.fromkeys(s.unit for s in scores))
    periods = sorted({s.period for s in scores})
    value = {(s.unit, s.period): s.primary for s in scores}
    width = 0.8 / max(len(periods), 1)
    fig, ax = plt.subplots(figsize=(6.4, 2.6))
    for j, p in enumerate(periods):
        xs = [i + j * width for i in range(len(units))]
        ys = [value.get((u, p)) or 0 for u in units]
        ax.bar(xs, ys, width=width * 0.95, label=p, color=SECTION_COLOURS[j % len(SECTION_COLOURS)])
    for b in scale.bands:
        if b.min is not None:
            ax.axhline(b.min, color="#999", linestyle=":", linewidth=0.8)
            ax.text(len(units) - 0.2, b.min, f" {b.label}", fontsize=7, va="bottom", color="#555")
    ax.set_xticks([i + width * (len(periods) - 1) / 2 for i in range(len(units))])
    ax.set_xticklabels(units)
    ax.set_ylabel({"sum": "total", "mean": "mean rating", "completion": "% delivered"}[scale.scoring])
    ax.legend(fontsize=7, frameon=False, loc="upper left")
    ax.set_title("Scores by unit and period", loc="left")
    return _svg(fig)
