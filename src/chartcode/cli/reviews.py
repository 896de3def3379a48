"""`chartcode reviews`: timeliness and content of strategic reviews (registered in cli/__init__.py).

The computation lives in chartcode.timeliness; this module only parses options and prints.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path
from typing import Any

import click

from chartcode.cli.common import _table, _Target
from chartcode.errors import UserError
from chartcode.files import atomic_write

CSV_COLUMNS = [
    "record_id",
    "entry",
    "first_review",
    "last_review",
    "days_to_first_review",
    "first_within_{0}",
    "first_within_{1}",
    "n_reviews",
    "longest_gap_days",
    "open_gap_days",
    "all_gaps_within",
    "next_review_due",
    "status",
    "problems",
]

NO_BLOCK = (
    "{shown}: the audit declares no `timeliness:` block, so review dates cannot be found. Add one to the "
    "audit file, e.g.\n"
    "  timeliness:\n"
    "    entry: treatment_entry_date                  # a record-level date field\n"
    "    review: {{field: strategic_review, value: 1}}  # a note coded so is a review, dated by note_date\n"
    "    first_review_months: [3, 6]\n"
    "    max_gap_months: 6\n"
    "    domains: [covers_drug_use, covers_alcohol_use]\n"
    "(see audits/strategic-review.yaml), then pass it with --audit FILE, or create the database from it "
    "with `chartcode init DB --audit FILE`."
)


def parse_as_of(text: str | None) -> dt.date:
    """The as-of date: YYYY-MM-DD, or today in UTC (the same day wherever the audit team sits)."""
    if text is None:
        return dt.datetime.now(dt.UTC).date()
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise UserError(f"--as-of {text!r}: not a date (write YYYY-MM-DD, e.g. 2025-03-31)") from None


def format_report(result: dict[str, Any]) -> list[str]:
    from chartcode.timeliness import domain_rows, record_header, record_row, summary_rows

    summary = result["summary"]
    rules = summary["rules"]
    months = tuple(rules["first_review_months"])
    lines = [
        f"Strategic reviews as of {result['as_of']}: {summary['n_records']} records, {summary['n_reviews']} reviews "
        f"(first within {months[0]} months, no later than {months[1]}; then every {rules['max_gap_months']} months)"
    ]
    if result["records"]:
        lines += ["", *_table(record_header(months), [record_row(r, months) for r in result["records"]])]
    lines += ["", "Summary (95% Wilson CIs; not-yet-due records are left out of the denominators)"]
    lines += _table(["rate", "n/N", "%", "95% CI"], summary_rows(summary))
    lines.append("  status: " + ", ".join(f"{k} {v}" for k, v in summary["status"].items()))
    if summary["domains"]:
        lines += ["", "Review content (per review)"]
        lines += _table(["domain", "n/N", "%", "95% CI", "not coded"], domain_rows(summary))
    problems = [(r["record_id"], p) for r in result["records"] for p in r["problems"]]
    if problems:
        lines += ["", f"Data problems ({len(problems)})"]
        lines += [f"  {rid}: {p}" for rid, p in problems]
    return lines


def write_csv(path: Path, result: dict[str, Any]) -> None:
    """One row per record (ids, dates and flags only: never note text)."""
    months = result["summary"]["rules"]["first_review_months"]
    columns = [c.format(*months) for c in CSV_COLUMNS]
    if not path.parent.exists():
        raise UserError(f"{path.parent}: no such folder")
    try:
        with atomic_write(path, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(columns)
            for r in result["records"]:
                w.writerow(["" if r.get(c) is None else "; ".join(r[c]) if c == "problems" else r[c] for c in columns])
    except OSError as exc:
        raise UserError(f"{path}: cannot write ({exc.strerror or exc})") from None


@click.command("reviews")
@click.argument("db", type=_Target())
@click.option("--json", "as_json", is_flag=True, help="Print {as_of, records, summary} as JSON.")
@click.option("--as-of", "as_of", metavar="YYYY-MM-DD", help="Judge timeliness on this date (default: today, UTC).")
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="PATH",
    help="Also write one row per record to this CSV file.",
)
@click.option(
    "--audit",
    "audit_file",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Read the timeliness: block from this audit file instead of the one stored in DB.",
)
def reviews(db: Path, as_json: bool, as_of: str | None, csv_path: Path | None, audit_file: Path | None):
    """Were strategic reviews on time, and what did they cover? From the final values.

    \b
    Uses the audit file's `timeliness:` block: the record-level entry date, the note field
    and code that mark a review (dated by the note's date), the first-review target and
    limit in months, the longest allowed gap and the content domains.
    Within N months means on or before the same day N calendar months later (clamped to
    the month's end). Records with no review yet and still inside the target are left out
    of the denominators; past it they count as missed. Rates have 95% Wilson CIs.
      chartcode reviews audit.db
      chartcode reviews audit.db --as-of 2025-03-31 --csv reviews.csv
      chartcode reviews audit.db --json
    """
    from chartcode.store import open_store
    from chartcode.timeliness import load_timeliness, reviews_audit

    day = parse_as_of(as_of)
    store = open_store(db)
    try:
        timeliness = load_timeliness(store, audit_file)
        if timeliness is None:
            shown = str(audit_file) if audit_file else f"{store.path}"
            raise UserError(NO_BLOCK.format(shown=shown))
        result = {"as_of": day.isoformat(), **reviews_audit(store, timeliness, day)}
    finally:
        store.close()
    if csv_path is not None:
        write_csv(csv_path, result)
    if as_json:
        click.echo(json.dumps(result, allow_nan=False))
        return
    for line in format_report(result):
        click.echo(line)
    if csv_path is not None:
        click.echo(f"wrote {csv_path} ({len(result['records'])} records)")
