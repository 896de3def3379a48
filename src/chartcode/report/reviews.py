"""The report's "Strategic reviews" section: timeliness rates, per-record timelines, review content.

Present only when the audit declares a ``timeliness:`` block (chartcode.timeliness); called
from chartcode.report.build. Never imports Textual or click.
"""

from __future__ import annotations

import datetime as dt

from chartcode.report.model import BulletList, Heading, Paragraph, Section, Table
from chartcode.store.store import Store
from chartcode.timeliness import domain_rows, load_timeliness, record_header, record_row, reviews_audit, summary_rows

MAX_RECORD_ROWS = 200  # a page people read: beyond this, the records needing action only


def reviews_section(store: Store, as_of: dt.date | None = None) -> Section | None:
    """The section, or None when the audit has no timeliness block (nothing to say, no empty heading)."""
    timeliness = load_timeliness(store)
    if timeliness is None:
        return None
    as_of = as_of or dt.datetime.now(dt.UTC).date()
    result = reviews_audit(store, timeliness, as_of)
    summary, months = result["summary"], timeliness.first_review_months
    s = Section("Strategic reviews")
    intro = (
        f"As of {as_of.isoformat()}: {summary['n_records']} records, {summary['n_reviews']} reviews. "
        f"Target: first review within {months[0]} months of treatment entry (no later than {months[1]}), "
        f"then at least every {timeliness.max_gap_months} months. Records with no review yet and still "
        f"inside the target are left out of the denominators. 95% Wilson confidence intervals."
    )
    s.add(Table(["rate", "n/N", "%", "95% CI"], summary_rows(summary), {1, 2, 3}, caption=Paragraph(intro)))
    status = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in summary["status"].items())
    s.add(Paragraph(f"Status: {status}.", style="note"))
    s.add(record_table(result["records"], months))
    if summary["domains"]:
        labels = {f.name: f.label for f in store.codebook.fields}
        rows = [[labels.get(r[0], r[0]), *r[1:]] for r in domain_rows(summary)]
        s.add(
            Table(
                ["domain", "n/N", "%", "95% CI", "not coded"],
                rows,
                {1, 2, 3, 4},
                caption=Paragraph(
                    "Review content: share of reviews covering each domain (a review not coded "
                    "for a domain is left out of its denominator)."
                ),
            )
        )
    problems = [f"{r['record_id']}: {p}" for r in result["records"] for p in r["problems"]]
    if problems:
        s.add(Heading(f"Data problems ({len(problems)})"), BulletList(problems[:MAX_RECORD_ROWS]))
    return s


def record_table(records: list[dict], months: tuple[int, int]) -> Table:
    """Every record while the list is short; past MAX_RECORD_ROWS only those not timely."""
    shown, note = records, "Per record"
    if len(records) > MAX_RECORD_ROWS:
        needing = [r for r in records if r["status"] in ("late", "overdue", "no_entry_date")]
        shown = needing[:MAX_RECORD_ROWS]
        note = (
            f"Records needing attention ({len(shown)} of {len(needing)} late, overdue or without an entry date; "
            f"all {len(records)} with `chartcode reviews DB --csv FILE`)"
        )
    return Table(
        record_header(months), [record_row(r, months) for r in shown], {3, 6, 7}, caption=Paragraph(note + ".")
    )
