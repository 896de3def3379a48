"""The audit report: one self-contained HTML page (or Markdown) people read, on a phone or on paper.

Sections: audit summary and coding progress, agreement with a CI chart, field distributions,
the declared analyses (when the analysis module is available), open disagreements. No
external assets: CSS and SVG charts are inline, nothing is fetched.

    report_model(store, ...) -> Report (chartcode.report.model), built section by section
    build_report(store, fmt=...) -> that model rendered by the format's template (render.py)
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from chartcode.forked import Forked
from chartcode.report.model import Paragraph, Progress, Report, Section
from chartcode.report.render import render
from chartcode.report.reviews import reviews_section
from chartcode.report.sections import (
    DISAGREEMENT_ROWS,
    agreement_section,
    analyses_prepared,
    analyses_run,
    disagreements_section,
    distribution_section,
    distributions_drawn,
    progress_section,
)
from chartcode.report.spans import read_spans, start_child
from chartcode.store.store import Store, utcnow


def _noting(build: Callable[[], Section | list[Section] | None], first: list[str] | None = None) -> list[Section]:
    """Build a section (or several); warnings a library raises meanwhile become notes at its end,
    not noise on the terminal of whoever runs the report. ``first``: notes of the reads the section
    starts from, taken earlier (chartcode.report.spans)."""
    from chartcode.analysis.readings import notes_from_libraries

    notes: list[str] = list(first or [])
    with notes_from_libraries(notes):
        got = build()
    out = [] if got is None else got if isinstance(got, list) else [got]
    if out and notes:
        out[-1].add(*(Paragraph(f"⚠ {n}", style="warning") for n in notes))
    return out


def report_model(
    store: Store, *, charts: bool = True, bootstrap: int = 200, seed: int = 1, progress: Progress | None = None
) -> Report:
    say = progress or (lambda _msg: None)
    cb = store.codebook
    sections: list[Section] = []

    # agreement, distributions, analyses and disagreements read the audit record span by record span,
    # in one pass (chartcode.report.spans), every second span in a second process, started now so that
    # its start overlaps the progress section; None: each reads the whole audit
    child = None if cb.scale is not None else start_child(store, keep=DISAGREEMENT_ROWS)
    try:
        say("coding progress")
        sections += _noting(lambda: progress_section(store))
        say("reading the codes, record span by record span")
        data = None if cb.scale is not None else read_spans(store, keep=DISAGREEMENT_ROWS, child=child)
    finally:
        if child is not None:  # read_spans closed it; not if the progress section failed
            child.close()
    notes = data.notes if data is not None else {}

    if cb.scale is not None:  # rating scales: scores, profiles and action lists come first
        from chartcode.report.fidelity import fidelity_sections

        say("fidelity scores")
        sections += _noting(lambda: fidelity_sections(store, "html" if charts else "md"))

    # The analyses' models are fitted (statsmodels imported) in a forked child from here on, while this
    # process computes the agreement and draws the distributions: the child reads nothing more from the
    # store (chartcode.forked); its section, with the notes of the warnings it caught, comes back whole.
    analyses: Forked[list[Section]] | None = None
    if store.audit.get("analyses") or cb.scale is None:
        from chartcode.analysis.readings import notes_from_libraries

        first = list(notes.get("analyses") or [])
        with notes_from_libraries(first):  # what the reading warns of is noted as the section's, as before
            prepared = analyses_prepared(store, data.analysis if data is not None else None)
        if isinstance(prepared, Section):
            analyses = Forked(_noting, lambda: prepared, first, run=False)
        else:
            analyses = Forked(_noting, lambda: analyses_run(prepared), first)

    # The distributions' charts are drawn (matplotlib) in another child, from the counts read already.
    distributions: Forked[list[Section]] | None = None
    if data is not None:
        counts = data.distributions
        distributions = Forked(  # a page without charts has nothing to draw: made here
            _noting, lambda: distributions_drawn(cb, counts, charts=charts), notes.get("distributions"), run=charts
        )

    with analyses or contextlib.nullcontext(), distributions or contextlib.nullcontext():
        sections += _sections_from(store, cb, data, notes, analyses, distributions, bootstrap, seed, charts, say)
    n, head = store.history_head()
    return Report(store.title, utcnow(), sections, history=f"History: {n} entries, chain head {head[:16]}")


def _sections_from(store, cb, data, notes, analyses, distributions, bootstrap, seed, charts, say) -> list[Section]:
    """The sections after the spans' read, in the page's order; ``analyses``, ``distributions``: their
    sections, being made (None: made here, or none)."""
    sections: list[Section] = []
    say(f"agreement ({bootstrap} bootstrap resamples)")
    sections += _noting(
        lambda: agreement_section(
            store, bootstrap, seed, charts=charts, ratings=data.ratings if data is not None else None
        ),
        notes.get("agreement"),
    )

    if distributions is not None:
        say("field distributions")
        sections += distributions.result()
    elif cb.scale is None:
        say("field distributions")
        sections += _noting(
            lambda: distribution_section(store, charts=charts, counts=data.distributions if data is not None else None),
            notes.get("distributions"),
        )

    if analyses is not None:
        say("analyses")
        sections += analyses.result()

    say("review timeliness")
    sections += _noting(lambda: reviews_section(store))

    say("open disagreements")
    sections += _noting(
        lambda: disagreements_section(store, (data.open_units, data.n_open) if data is not None else None),
        notes.get("disagreements"),
    )
    return sections


def build_report(
    store: Store, *, fmt: str = "html", bootstrap: int = 200, seed: int = 1, progress: Progress | None = None
) -> str:
    """The report as text: ``fmt="md"`` Markdown, otherwise the HTML page."""
    fmt = "md" if fmt == "md" else "html"
    return render(report_model(store, charts=fmt == "html", bootstrap=bootstrap, seed=seed, progress=progress), fmt)
