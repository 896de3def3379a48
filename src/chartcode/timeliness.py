"""Review timeliness: were strategic reviews held on time, and what did they cover?

The audit file declares where the dates come from (``timeliness:`` block)::

    timeliness:
      entry: treatment_entry_date                   # record-level date field
      review: {field: strategic_review, value: 1}   # a note coded so is a review, dated by its note_date
      first_review_months: [3, 6]                   # first review: target, and the latest acceptable
      max_gap_months: 6                             # between reviews
      domains: [covers_drug_use, ...]               # note-level binary fields: what a review covered

Rules (chosen so that every number can be checked by hand against a calendar):

* "Within N months" is calendar months with end-of-month clamping: a review on or before
  ``add_months(entry, N)`` is within (2023-11-30 + 3 months = 2024-02-29, so a review on
  2024-02-29 is within and one on 2024-03-01 is not).
* Review notes on the same date are one review (a meeting written up in two notes is one
  review); its domain is covered if any of those notes says so.
* Reviews dated before treatment entry, or with no date, are data problems: they are listed
  under ``problems`` and left out of the timeline. Reviews after the as-of date have not
  happened yet as of that date and are left out too.
* No review yet: while the as-of date is within the first target (3 months) the record is
  ``not_yet_due`` and is left out of the denominators; after it, the record counts as NOT
  reviewed within 3 months (and, once past 6 months, not within 6) and is ``overdue``.
* Gaps are measured between consecutive reviews. The open gap from the last review to the
  as-of date is counted only once it already exceeds ``max_gap_months`` (the next review is
  then overdue, status ``overdue``): a gap that is still running and within the limit says
  nothing yet. A record with one review whose next one is not yet due has no gap to judge
  (``all_gaps_within`` is None, out of that denominator).
* Status: ``no_entry_date``; ``not_yet_due``; ``overdue`` (a review is due now and missing:
  the first, or the next after a gap past the limit); ``late`` (not overdue now, but the first
  review came after the target or a gap between reviews exceeded the limit); else ``timely``.

Pure functions first (dates in, dicts out), then the audit-file parser, then
:func:`reviews_audit` on a store. Nothing here imports Textual or click; pandas and
statsmodels are imported where used, so loading an audit file stays light.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chartcode.errors import UserError, quote
from chartcode.yamlsrc import LList, LMap, load_located, plain

if TYPE_CHECKING:
    from pathlib import Path

    from chartcode.codebook import Codebook

KEYS = {"entry", "review", "first_review_months", "max_gap_months", "domains"}
REVIEW_KEYS = {"field", "value"}
STATUSES = ("timely", "late", "overdue", "not_yet_due", "no_entry_date")


# ------------------------------------------------------------------------------ dates
def add_months(d: dt.date, n: int) -> dt.date:
    """``d`` plus ``n`` calendar months, clamped to the end of a shorter month.

    Clinical guidance says "within three months", not "within 91 days": the reviewer checks
    a calendar, so the day of the month is kept and only clamped when the month is shorter.
    """
    index = d.year * 12 + (d.month - 1) + n
    year, month = divmod(index, 12)
    month += 1
    return dt.date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def _within(later: dt.date, earlier: dt.date, months: int) -> bool:
    """Whether ``later`` is no more than ``months`` calendar months after ``earlier`` (the boundary is within)."""
    return later <= add_months(earlier, months)


def review_timeline(
    entry: dt.date | None, reviews: list[dt.date], as_of: dt.date, months: tuple[int, int] = (3, 6), max_gap: int = 6
) -> dict[str, Any]:
    """One record's review timeline as of ``as_of`` (see the module docstring for the rules).

    Keys ``first_within_<target>`` and ``first_within_<limit>`` are named from ``months``
    (``first_within_3``, ``first_within_6`` by default) so the JSON says what was measured.
    """
    target, limit = months
    k_target, k_limit = f"first_within_{target}", f"first_within_{limit}"
    problems: list[str] = []
    out: dict[str, Any] = {
        "entry": entry.isoformat() if entry else None,
        "first_review": None,
        "last_review": None,
        "days_to_first_review": None,
        k_target: None,
        k_limit: None,
        "n_reviews": 0,
        "review_dates": [],
        "gaps_days": [],
        "longest_gap_days": None,
        "open_gap_days": None,
        "all_gaps_within": None,
        "next_review_due": None,
        "status": "no_entry_date",
        "problems": problems,
    }
    dates = sorted(set(reviews))
    if entry is None:
        counted = [d for d in dates if d <= as_of]
        out.update(n_reviews=len(counted), review_dates=[d.isoformat() for d in counted])
        problems.append("no treatment entry date: timeliness cannot be judged")
        return out
    for d in dates:
        if d < entry:
            problems.append(f"review dated {d.isoformat()} is before treatment entry {entry.isoformat()}")
    if entry > as_of:
        problems.append(f"treatment entry {entry.isoformat()} is after the as-of date {as_of.isoformat()}")
    dates = [d for d in dates if entry <= d <= as_of]
    out.update(n_reviews=len(dates), review_dates=[d.isoformat() for d in dates])
    if not dates:
        return _no_review_yet(out, entry, as_of, months)
    first, last = dates[0], dates[-1]
    gaps = [(b - a).days for a, b in zip(dates, dates[1:], strict=False)]
    gaps_ok = all(_within(b, a, max_gap) for a, b in zip(dates, dates[1:], strict=False))
    next_due = add_months(last, max_gap)
    open_overdue = as_of > next_due
    open_gap = (as_of - last).days
    judged = gaps + ([open_gap] if open_overdue else [])
    out.update(
        first_review=first.isoformat(),
        last_review=last.isoformat(),
        days_to_first_review=(first - entry).days,
        **{k_target: _within(first, entry, target), k_limit: _within(first, entry, limit)},
        gaps_days=gaps,
        longest_gap_days=max(judged) if judged else None,
        open_gap_days=open_gap if open_overdue else None,
        all_gaps_within=(gaps_ok and not open_overdue) if judged else None,
        next_review_due=next_due.isoformat(),
    )
    if open_overdue:
        out["status"] = "overdue"
    elif out[k_target] and gaps_ok:
        out["status"] = "timely"
    else:
        out["status"] = "late"
    return out


def _no_review_yet(out: dict[str, Any], entry: dt.date, as_of: dt.date, months: tuple[int, int]) -> dict[str, Any]:
    """No review in the timeline: not yet due while inside the target, else overdue and counted as missed."""
    target, limit = months
    due_target, due_limit = add_months(entry, target), add_months(entry, limit)
    if as_of <= due_target:
        out.update(status="not_yet_due", next_review_due=due_target.isoformat())
        return out
    out.update(status="overdue", next_review_due=due_target.isoformat())
    out[f"first_within_{target}"] = False
    if as_of > due_limit:  # between target and limit a review could still come within the limit
        out[f"first_within_{limit}"] = False
    return out


# ------------------------------------------------------------------------------ coverage
def domain_coverage(values: list[dict[str, Any]], domains: list[str] | tuple[str, ...]) -> dict[str, int | None]:
    """Which domains one review covered, from the notes (one or more) that record it.

    1 if any of the notes codes the domain 1, 0 if they code it only 0, None if none of them
    has a final value (uncoded or an open disagreement: left out of that domain's denominator).
    """
    out: dict[str, int | None] = {}
    for d in domains:
        seen: list[Any] = [v.get(d) for v in values if _present(v.get(d))]
        out[d] = None if not seen else int(any(int(x) == 1 for x in seen))
    return out


def _present(v: Any) -> bool:
    """False for the frames' missing markers (None, NaN, pandas.NA) without importing pandas."""
    if v is None:
        return False
    if isinstance(v, float):
        return not math.isnan(v)
    return type(v).__name__ != "NAType"


# ------------------------------------------------------------------------------ summary
def rate(n: int, denominator: int, label: str = "") -> dict[str, Any]:
    """A proportion with its 95% Wilson score interval (statsmodels); None when nothing to divide.

    Wilson, not the normal approximation: audit denominators are small and rates are often
    near 0 or 100%, where the Wald interval collapses or leaves [0, 1].
    """
    from statsmodels.stats.proportion import proportion_confint

    out: dict[str, Any] = {
        "label": label,
        "n": int(n),
        "denominator": int(denominator),
        "proportion": None,
        "ci_low": None,
        "ci_high": None,
        "ci_method": "wilson",
        "ci_level": 0.95,
    }
    if denominator:
        low, high = proportion_confint(n, denominator, alpha=0.05, method="wilson")
        out.update(proportion=n / denominator, ci_low=float(low), ci_high=float(high))
    return out


def summarise(
    timelines: list[dict[str, Any]],
    domains: list[str] | tuple[str, ...] | None = None,
    months: tuple[int, int] = (3, 6),
    max_gap: int = 6,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Audit-level rates from per-record timelines (each may carry ``reviews`` with ``domains``).

    Each rate counts only the records (or reviews) for which the measure is known: True/False
    in the timeline, None left out -- so not-yet-due records never lower a rate.
    """
    target, limit = months
    status = {s: 0 for s in STATUSES}
    for t in timelines:
        status[t["status"]] = status.get(t["status"], 0) + 1
    rates = {
        f"first_within_{target}": _rate_of(
            timelines, f"first_within_{target}", f"First review within {target} months of entry"
        ),
        f"first_within_{limit}": _rate_of(
            timelines, f"first_within_{limit}", f"First review within {limit} months of entry"
        ),
        "all_gaps_within": _rate_of(timelines, "all_gaps_within", f"All gaps between reviews <= {max_gap} months"),
    }
    reviews = [r for t in timelines for r in t.get("reviews", [])]
    if domains is None:
        domains = list(dict.fromkeys(d for r in reviews for d in r.get("domains", {})))
    coverage = {}
    for d in domains:
        known = [r["domains"].get(d) for r in reviews if r.get("domains", {}).get(d) is not None]
        coverage[d] = {
            **rate(sum(1 for v in known if v == 1), len(known), (labels or {}).get(d, d)),
            "missing": len(reviews) - len(known),
        }
    return {
        "n_records": len(timelines),
        "n_reviews": len(reviews),
        "status": status,
        "rates": rates,
        "domains": coverage,
    }


def _rate_of(timelines: list[dict[str, Any]], key: str, label: str) -> dict[str, Any]:
    known = [t.get(key) for t in timelines if t.get(key) is not None]
    return rate(sum(1 for v in known if v), len(known), label)


# ------------------------------------------------------------------------------ the audit file's block
@dataclass(frozen=True)
class Timeliness:
    """The validated ``timeliness:`` block of an audit file."""

    entry: str
    review_field: str
    review_value: Any
    first_review_months: tuple[int, int] = (3, 6)
    max_gap_months: int = 6
    domains: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "entry": self.entry,
            "review": {"field": self.review_field, "value": self.review_value},
            "first_review_months": list(self.first_review_months),
            "max_gap_months": self.max_gap_months,
            "domains": list(self.domains),
        }


def parse_timeliness(raw: Any, codebook: Codebook, shown: str) -> Timeliness:
    """Validate the ``timeliness:`` block against the codebook; every problem names ``file:line``."""
    line = getattr(raw, "line", 1)
    problems: list[str] = []

    def bad(at: int, text: str) -> None:
        problems.append(f"{shown}:{at}: timeliness: {text}")

    if not isinstance(raw, LMap):
        raise UserError(
            f"{shown}:{line}: timeliness: give a mapping with entry, review and optional "
            f"first_review_months, max_gap_months, domains"
        )
    for key in raw:
        if key not in KEYS:
            bad(raw.line_of(key), f"unknown key {quote(key)} (expected one of: {', '.join(sorted(KEYS))})")
    fields = {f.name: f for f in codebook.fields}
    entry = raw.get("entry")
    f = fields.get(entry) if isinstance(entry, str) else None
    if f is None or f.level != "record" or f.type != "date":
        bad(raw.line_of("entry"), f"entry {quote(entry)} must name a record-level date field of codebook {codebook.id}")
    review_field, review_value = _review(raw, fields, bad)
    first = _months_pair(raw, bad)
    gap = raw.get("max_gap_months", 6)
    if not (isinstance(gap, int) and not isinstance(gap, bool) and gap > 0):
        bad(raw.line_of("max_gap_months"), f"max_gap_months {quote(gap)} must be a whole number of months above 0")
    domains = _domains(raw, fields, bad)
    if problems:
        if len(problems) == 1:
            raise UserError(problems[0])
        raise UserError(f"{shown}: {len(problems)} problems in the timeliness block", problems=problems)
    assert isinstance(entry, str)  # else bad() recorded a problem and we raised above
    return Timeliness(entry, review_field, review_value, first, gap, domains)


def _review(raw: LMap, fields: dict, bad) -> tuple[str, Any]:
    review = raw.get("review")
    at = raw.line_of("review")
    if not isinstance(review, LMap):
        bad(at, "review must be a mapping {field: NOTE_FIELD, value: CODE}")
        return "", None
    for key in review:
        if key not in REVIEW_KEYS:
            bad(review.line_of(key), f"review: unknown key {quote(key)} (expected: field, value)")
    name = review.get("field")
    f = fields.get(name) if isinstance(name, str) else None
    if f is None or not isinstance(name, str) or f.level != "note":
        bad(review.line_of("field"), f"review field {quote(name)} must name a note-level field")
        return "", None
    if "value" not in review:
        bad(review.line, "review: 'value' is required (the code that makes a note a review, e.g. 1)")
        return name, None
    try:
        return name, f.parse(review["value"])
    except Exception as exc:  # CodeError: the message names what the field accepts
        value = str(review["value"]).strip()
        problem = str(exc) if quote(value).startswith("'") else str(exc).replace(repr(value), "the value")
        bad(review.line_of("value"), f"review value {quote(review['value'])}: {problem}")
        return name, None


def _shown_pair(value) -> str:
    """[6, 3] as written; anything else (it may be free text) by quote's rules."""
    if isinstance(value, list) and all(isinstance(x, (int, float)) for x in value):
        return repr(plain(value))
    return quote(plain(value))


def _months_pair(raw: LMap, bad) -> tuple[int, int]:
    value = raw.get("first_review_months", [3, 6])
    ok = (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(m, int) and not isinstance(m, bool) and m > 0 for m in value)
        and value[0] <= value[1]
    )
    if not ok:
        bad(
            raw.line_of("first_review_months"),
            f"first_review_months {_shown_pair(value)} must be [TARGET, LIMIT]:"
            " two whole numbers of months, target <= limit",
        )
        return (3, 6)
    return (value[0], value[1])


def _domains(raw: LMap, fields: dict, bad) -> tuple[str, ...]:
    value = raw.get("domains", LList())
    if not isinstance(value, list):
        bad(raw.line_of("domains"), "domains must be a list of note-level binary field names")
        return ()
    out: list[str] = []
    for i, name in enumerate(value):
        at = value.line_of(i) if isinstance(value, LList) else raw.line_of("domains")
        f = fields.get(name) if isinstance(name, str) else None
        if f is None or f.level != "note" or f.type != "binary":
            bad(at, f"domain {quote(name)} must name a note-level binary field")
        elif name in out:
            bad(at, f"domain {quote(name)} appears twice")
        else:
            out.append(name)
    return tuple(out)


def load_timeliness(store, audit_file: str | Path | None = None) -> Timeliness | None:
    """The timeliness block of the audit stored in ``store`` (or of ``audit_file``), validated
    against the store's codebook; None when the audit declares none."""
    if audit_file is not None:
        shown, text = str(audit_file), None
    else:
        shown = f"audits/{store.meta('audit_id') or 'audit'}.yaml"
        text = store.meta("audit_yaml") or ""
        if not text.strip():
            return None
    data = load_located(shown, text=text)
    if not isinstance(data, LMap):
        raise UserError(f"{shown}:1: an audit file is a mapping")
    if "timeliness" not in data:
        return None
    return parse_timeliness(data["timeliness"], store.codebook, shown)


# ------------------------------------------------------------------------------ on a store
def _date(value: Any) -> dt.date | None:
    if not _present(value) or not str(value).strip():
        return None
    try:
        return dt.date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        return None


def reviews_audit(store, timeliness: Timeliness, as_of: dt.date) -> dict[str, Any]:
    """Per-record timelines and the audit summary, from the final values (consensus applied)."""
    from chartcode.dataset import notes_frame, records_frame

    records = records_frame(store)
    notes = notes_frame(store)
    t = timeliness
    per_record: list[dict[str, Any]] = []
    by_record: dict[str, list[dict[str, Any]]] = {}
    if len(notes) and t.review_field in notes.columns:
        is_review = notes[t.review_field].eq(t.review_value).fillna(False).astype(bool)
        for row in notes[is_review].to_dict("records"):
            by_record.setdefault(row["record_id"], []).append(row)
    for rec in records.to_dict("records"):
        rid = rec["record_id"]
        raw_entry = rec.get(t.entry)
        entry = _date(raw_entry)
        extra: list[str] = []
        if entry is None and _present(raw_entry) and str(raw_entry).strip():
            extra.append(f"treatment entry {raw_entry!r} is not a date")
        rows = by_record.get(rid, [])
        dated: dict[dt.date, list[dict[str, Any]]] = {}
        for row in rows:
            d = _date(row.get("note_date"))
            if d is None:
                extra.append(f"review note {row['note_id']} has no date")
                continue
            dated.setdefault(d, []).append(row)
        timeline = review_timeline(entry, list(dated), as_of, t.first_review_months, t.max_gap_months)
        timeline["problems"] = extra + timeline["problems"]
        kept = set(timeline["review_dates"])
        reviews: list[dict[str, Any]] = [
            {
                "date": d.isoformat(),
                "note_ids": [r["note_id"] for r in dated[d]],
                "domains": domain_coverage(dated[d], t.domains),
            }
            for d in sorted(dated)
            if d.isoformat() in kept
        ]
        for r in reviews:
            r["covered"] = [k for k, v in r["domains"].items() if v == 1]
        per_record.append({"record_id": rid, **timeline, "reviews": reviews})
    labels = {f.name: f.label for f in store.codebook.fields}
    summary = summarise(per_record, t.domains, t.first_review_months, t.max_gap_months, labels)
    summary["rules"] = t.as_dict()
    return {"records": per_record, "summary": summary}


# ------------------------------------------------------------------------------ shown to people
def pct(x: float | None, digits: int = 1) -> str:
    return "—" if x is None else f"{100 * x:.{digits}f}%"


def rate_row(r: dict[str, Any]) -> list[str]:
    """[label, n/N, %, 95% CI] -- the same words on the terminal and in the report."""
    ci = "—" if r["ci_low"] is None else f"{pct(r['ci_low'])} to {pct(r['ci_high'])}"
    return [r["label"], f"{r['n']}/{r['denominator']}", pct(r["proportion"]), ci]


def summary_rows(summary: dict[str, Any]) -> list[list[str]]:
    return [rate_row(r) for r in summary["rates"].values()]


def domain_rows(summary: dict[str, Any]) -> list[list[str]]:
    return [[name, *rate_row(r)[1:], str(r["missing"])] for name, r in summary["domains"].items()]


def yes_no(v: bool | None) -> str:
    return "—" if v is None else ("yes" if v else "no")


def record_row(rec: dict[str, Any], months: tuple[int, int] = (3, 6)) -> list[str]:
    """[record, entry, first review, days, within target, within limit, reviews, longest gap, status]."""
    target, limit = months
    days = rec["days_to_first_review"]
    gap = rec["longest_gap_days"]
    return [
        rec["record_id"],
        rec["entry"] or "—",
        rec["first_review"] or "—",
        "—" if days is None else str(days),
        yes_no(rec.get(f"first_within_{target}")),
        yes_no(rec.get(f"first_within_{limit}")),
        str(rec["n_reviews"]),
        "—" if gap is None else str(gap) + (" (open)" if rec["open_gap_days"] else ""),
        rec["status"],
    ]


RECORD_HEADER = [
    "record",
    "entry",
    "first review",
    "days",
    "within {0} mo",
    "within {1} mo",
    "reviews",
    "longest gap (days)",
    "status",
]


def record_header(months: tuple[int, int] = (3, 6)) -> list[str]:
    return [h.format(*months) for h in RECORD_HEADER]
