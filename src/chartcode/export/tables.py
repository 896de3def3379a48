"""The tables an export writes, built from the store; no file formats here.

    wide_tables(store)      (records, notes): final values with ``<field>__source`` columns
    long_table(store)       every code by every coder that the viewer may see (blinding)
    codebook_table(cb)      one row per field and choice
    agreement_table(store)  field + scalar agreement coefficients

Final values follow the one rule in chartcode.consensus (consensus, else the coders'
shared submitted value); the ``__source`` column says which. No table ever holds note
text: the notes table carries ids, date and type only.

De-identification (``deid``), the HIPAA Safe Harbor items that apply to coded chart data:

- fields marked ``identifier: true`` and free-text fields (type ``text``: "lives at 1 Main
  St") are dropped, with their ``__source`` columns and codebook rows; coders' memos are
  blanked (they may quote the chart); note text is never exported anyway;
- record and note ids become ``sha256(salt + id)[:16]`` with the salt stored in the database
  (meta ``deid_salt``) -- stable across exports of one database, different between databases;
- dates (note dates, date fields of records and notes): ``shift`` (the default) moves every
  date of a record by the record's one offset, :func:`date_offset` -- HMAC-SHA256 keyed with
  the salt over ``"date-shift:" + record id``, first 8 bytes mod 364, plus 1, mapped onto
  -182..-1 and 1..182 days (never 0) -- so intervals within a record are kept; ``year``
  keeps each date's year only, as an integer;
- ages over 89 (an age: :func:`is_age`) become the text ``"90+"`` here; the SPSS/Stata
  writers store 90 with the value label "90 or older", the REDCap writer 90.

Left as they are: a rating scale's periods (review periods such as 2025-H1) and the time a code
was saved (``updated_at``, the coder's activity, not a date of the patient); fidelity units
are hashed like record ids.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import numbers
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from chartcode.codebook import Choice, Codebook, Field
from chartcode.codebook.types import InputMode
from chartcode.dataset import SOURCE_SUFFIX, notes_frame, records_frame
from chartcode.errors import UserError
from chartcode.export.formats import DATE_MODES
from chartcode.store.store import Store

if TYPE_CHECKING:
    from chartcode.agreement.collect import Ratings
    from chartcode.analysis import Prepared

LONG_COLUMNS = (
    "coder",
    "record_id",
    "note_id",
    "field",
    "value",
    "label",
    "memo",
    "submitted",
    "submitted_value",
    "revised",
    "updated_at",
)
ID_COLUMNS = ("record_id", "note_id")


AGE_TOP = "90+"  # an age over 89, in csv, xlsx and json
AGE_TOP_CODE, AGE_TOP_LABEL = 90, "90 or older"  # in SPSS/Stata (value label) and REDCap
AGE_MAX = 89
DATE_LABELS = {"shift": " (shifted per record)", "year": " (year only)"}


def date_offset(salt: str, record_id: Any) -> int:
    """The record's date shift in days: -182..-1 or 1..182, never 0, from the salt and the record id."""
    digest = hmac.new(salt.encode("utf-8"), b"date-shift:" + str(record_id).encode("utf-8"), hashlib.sha256).digest()
    n = int.from_bytes(digest[:8], "big") % 364 + 1  # 1..364
    return n if n <= 182 else n - 365


def is_age(fld: Field) -> bool:
    """An age, top-coded when de-identified: a number field named ``age``, ``age_...`` or ``..._age``."""
    name = fld.name
    return fld.kind.is_number and (name == "age" or name.startswith("age_") or name.endswith("_age"))


def is_date(fld: Field) -> bool:
    return fld.kind.input_mode is InputMode.DATE


def is_free_text(fld: Field) -> bool:
    """Typed text without choices (type ``text``, or a plug-in type entered the same way)."""
    return fld.kind.input_mode is InputMode.FREE_TEXT and not fld.kind.has_choices


def _number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and pd.isna(value))


class Deidentifier:
    """Salted, truncated sha256 of ids, per-record date shifts (or years) and top-coded ages; the salt is
    the database's own ``deid_salt``."""

    def __init__(self, salt: str, dates: str = "shift"):
        if not salt:
            raise UserError("the database has no de-identification salt (meta 'deid_salt'); cannot --deidentify")
        if dates not in DATE_MODES:
            raise UserError(f"--dates {dates!r}: choose one of: {', '.join(DATE_MODES)}")
        self.salt = salt
        self.dates = dates

    @classmethod
    def for_store(cls, store: Store, dates: str = "shift") -> Deidentifier:
        return cls(store.meta("deid_salt") or "", dates)

    def date(self, value: Any, record_id: Any) -> Any:
        """A date (or date-time) of ``record_id``, shifted or as its year; None if it cannot be read."""
        if _missing(value):
            return None
        text = str(value).strip()
        try:
            when: dt.date = dt.date.fromisoformat(text) if len(text) == 10 else dt.datetime.fromisoformat(text)
        except ValueError:
            return None  # unreadable: dropped rather than exported unchanged
        if self.dates == "year":
            return when.year
        moved = when + dt.timedelta(days=date_offset(self.salt, record_id))
        return moved.isoformat(timespec="seconds") if isinstance(moved, dt.datetime) else moved.isoformat()

    def date_column(self, values: pd.Series, record_ids: pd.Series) -> pd.Series:
        out = [self.date(v, r) for v, r in zip(values.astype(object), record_ids, strict=True)]
        return pd.Series(out, index=values.index, dtype="Int64" if self.dates == "year" else object)

    @staticmethod
    def age(value: Any) -> Any:
        return AGE_TOP if not _missing(value) and _number(value) and value > AGE_MAX else value

    def values(self, df: pd.DataFrame, cb: Codebook, date_columns: tuple[str, ...] = ()) -> pd.DataFrame:
        """``df`` (ids not yet hashed) with its date columns shifted or cut to years and ages top-coded."""
        df = df.copy()
        for col in df.columns:
            fld = cb.get(col)
            if col in date_columns or (fld is not None and is_date(fld)):
                df[col] = self.date_column(df[col], df["record_id"])
            elif fld is not None and is_age(fld):
                cells: list[Any] = [None if _missing(v) else v for v in df[col].astype(object)]
                if any(self.age(v) == AGE_TOP for v in cells):
                    df[col] = pd.Series([self.age(v) for v in cells], index=df.index, dtype=object)
        return df

    def hash_id(self, value: Any) -> Any:
        if value is None or (isinstance(value, float) and pd.isna(value)):
            return None
        return hashlib.sha256((self.salt + str(value)).encode("utf-8")).hexdigest()[:16]

    def frame(self, df: pd.DataFrame) -> pd.DataFrame:
        df = df.copy()
        for col in ID_COLUMNS:
            if col in df.columns:
                df[col] = [self.hash_id(v) for v in df[col]]
        return df


def dropped(fld: Field) -> bool:
    """Left out of a de-identified export: identifier fields and free text."""
    return fld.identifier or is_free_text(fld)


def exported_fields(cb: Codebook, *, deidentify: bool) -> list:
    return [f for f in cb.fields if not (deidentify and dropped(f))]


def _drop_identifiers(df: pd.DataFrame, cb: Codebook) -> pd.DataFrame:
    drop = [c for f in cb.fields if dropped(f) for c in (f.name, f.name + SOURCE_SUFFIX) if c in df.columns]
    return df.drop(columns=drop)


def field_label(fld: Field, *, deidentify: bool, dates: str = "shift") -> str:
    """The field's label; a de-identified date field's says how its dates were changed."""
    return fld.label + (DATE_LABELS[dates] if deidentify and is_date(fld) else "")


def wide_tables(
    store: Store, *, deidentify: bool = False, sources: bool = True, dates: str = "shift", extras: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(records, notes) of final values; with ``sources`` the ``<field>__source`` flag columns; with
    ``extras`` the records also carry the columns of :func:`extra_columns` (a rating scale's unit,
    period and scores; the audit's derived variables)."""
    records = records_frame(store, sources=sources)  # cached per process, like finals(store)
    notes = notes_frame(store, sources=sources)  # cached per process, like records_frame
    if extras:
        records = _with_extras(store, records)
    if deidentify:
        cb = store.codebook
        deid = Deidentifier.for_store(store, dates)
        records = deid.frame(deid.values(_drop_identifiers(records, cb), cb))
        notes = deid.frame(deid.values(_drop_identifiers(notes, cb), cb, ("note_date",)))
        if extras and cb.scale is not None:  # a unit can be a clinician: hashed like record ids
            records["unit"] = [deid.hash_id(v) for v in records["unit"]]
    return records, notes


def _score_columns(cb: Codebook) -> list[tuple[str, str, str]]:
    """(column, label, type) of a rating scale's scores per unit and period, in fidelity_table's order."""
    assert cb.scale is not None
    unit = " (% of planned sessions)" if cb.scale.scoring == "completion" else ""
    cols = [(f"{s.id}_score", f"{s.label}: section score{unit}", "numeric") for s in cb.scale.sections]
    cols += [(f"{s.id}_band", f"{s.label}: band", "text") for s in cb.scale.sections]
    return cols + [
        ("total", f"Total score{unit}", "numeric"),
        ("mean", "Mean item rating" if cb.scale.scoring != "completion" else f"Mean item score{unit}", "numeric"),
        ("band", "Band", "text"),
        ("change_from_previous", "Change since the unit's previous period", "numeric"),
        ("items_rated", "Items rated", "count"),
        ("items_cannot_rate", "Items that could not be rated", "count"),
        ("items_below_threshold", "Items rated below the action threshold", "count"),
    ]


def extra_columns(store: Store) -> dict[str, Field]:
    """The wide records table's columns that are not codebook fields, each described as a field (its
    label, and a type that says how SPSS and Stata store it), in column order: a rating scale's
    ``unit`` and ``period``, the audit's derived variables (chartcode.analysis.derived), a rating
    scale's scores per unit and period (chartcode.fidelity). A name taken twice is refused."""
    from chartcode.analysis import load_plan

    cb = store.codebook
    cols: list[Field] = []
    if cb.scale is not None:
        cols += [Field("unit", "Rated unit", "record", "text"), Field("period", "Review period", "record", "text")]
    for d in load_plan(store).derived:
        choices = (Choice(0, "No"), Choice(1, "Yes")) if d.kind == "binary" else ()
        cols.append(Field(d.name, d.label or d.name, "record", d.kind, choices=choices))
    if cb.scale is not None:
        cols += [Field(name, label, "record", kind) for name, label, kind in _score_columns(cb)]
    out: dict[str, Field] = {}
    for f in cols:
        taken = f.name in out or cb.get(f.name) is not None or f.name in ("record_id", "note_id")
        if taken or f.name.endswith(SOURCE_SUFFIX):
            raise UserError(
                f"cannot export column {f.name!r} ({f.label}): the name is already a codebook field or an"
                " export column (rename the field or derived variable)"
            )
        out[f.name] = f
    return out


def _with_extras(store: Store, records: pd.DataFrame) -> pd.DataFrame:
    """``records`` with the columns of :func:`extra_columns`: unit and period after record_id, the
    derived variables (as the analyses compute them) and the scores at the end."""
    from chartcode.analysis import analysis_frame, load_plan

    cb = store.codebook
    extra_columns(store)  # refuses a name taken twice before anything is added
    out = records.copy()
    plan = load_plan(store)
    if plan.derived:
        frame, _ = analysis_frame(store, plan)
        by_id = frame.set_index("record_id")
        for d in plan.derived:
            out[d.name] = by_id[d.name].reindex(out["record_id"]).to_numpy()
            out[d.name] = out[d.name].astype(by_id[d.name].dtype)
    if cb.scale is not None:
        scores = fidelity_table(store, deidentify=False)
        assert scores is not None
        by_id = scores.set_index("record_id")
        for col in ("unit", "period"):
            out.insert(
                out.columns.get_loc("record_id") + (1 if col == "unit" else 2),
                col,
                by_id[col].reindex(out["record_id"]).to_numpy(),
            )
        for name, _, kind in _score_columns(cb):
            column = by_id[name].reindex(out["record_id"]).to_numpy()
            out[name] = pd.Series(column, index=out.index, dtype="Float64" if kind != "text" else object)
            if kind == "count":
                out[name] = out[name].astype("Int64")
    return out


@dataclass
class LongTable:
    frame: pd.DataFrame
    hidden: int  # codes held back by blinding


def long_table(store: Store, *, viewer: str | None = None, deidentify: bool = False, dates: str = "shift") -> LongTable:
    """Every current code by every coder, limited to what ``viewer`` may see (None: blind)."""
    cb = store.codebook
    keep = {f.name for f in exported_fields(cb, deidentify=deidentify)}
    deid = Deidentifier.for_store(store, dates) if deidentify else None
    rows = []
    for r in store.visible_code_rows(viewer):
        coder, rid, nkey, fname, value, memo, sub_at, sub_value, updated = tuple(r)
        if fname not in keep:
            continue
        fld = cb.get(fname)
        submitted = sub_at is not None
        revised = submitted and value != sub_value
        if deid is not None and fld is not None and is_date(fld):
            value, sub_value = deid.date(value, rid), deid.date(sub_value, rid)
        elif deid is not None and fld is not None and is_age(fld):
            value, sub_value = deid.age(value), deid.age(sub_value)
        rows.append(
            {
                "coder": coder,
                "record_id": rid,
                "note_id": nkey or None,
                "field": fname,
                "value": value,
                "label": fld.label_for(value) if fld else "",
                "memo": None if deidentify else memo,
                "submitted": submitted,
                "submitted_value": sub_value,
                "revised": revised,
                "updated_at": updated,
            }
        )
    columns = list(LONG_COLUMNS)
    if cb.has_logic:
        rows = _long_logic(store, rows, keep)
        columns.append("applies")
    df = pd.DataFrame(rows, columns=columns)
    df["submitted"] = df["submitted"].astype(bool)
    df["revised"] = df["revised"].astype(bool)
    if deid is not None:
        df = deid.frame(df)
    return LongTable(df, store.hidden_count(viewer))


def _long_logic(store: Store, rows: list[dict[str, Any]], keep: set[str]) -> list[dict[str, Any]]:
    """Long rows through each coder's branching logic: ``applies`` says whether the field applies on
    the coder's current codes (a code kept where it does not apply is written blank, labelled "not
    applicable"), and each calculated field gets one row per coder and record (note), computed from
    that coder's current codes (Form.calculated)."""
    from chartcode.applicability import record_notes, unit_places

    cb = store.codebook
    notes = record_notes(store)
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["coder"], r["record_id"]), []).append(r)
    out: list[dict[str, Any]] = []
    for (coder, rid), group in groups.items():
        raw = {(r["note_id"], r["field"]): r["value"] for r in group}
        form = cb.form(notes.get(rid, []), raw)
        for r in group:
            fld = cb.get(r["field"])
            r["applies"] = fld is None or form.applies(r["note_id"] if fld.level == "note" else None, fld)
            if not r["applies"]:
                r.update(value=None, submitted_value=None, label="not applicable", revised=False)
            out.append(r)
        for fld in cb.calc_fields:
            if fld.name not in keep:
                continue
            for nid in unit_places(fld, notes.get(rid, [])):
                applies = form.applies(nid, fld)
                out.append(
                    {
                        "coder": coder,
                        "record_id": rid,
                        "note_id": nid,
                        "field": fld.name,
                        "value": form.calculated(nid, fld),
                        "label": "" if applies else "not applicable",
                        "memo": None,
                        "submitted": all(r["submitted"] for r in group),
                        "submitted_value": None,
                        "revised": False,
                        "updated_at": max((r["updated_at"] or "" for r in group), default=None) or None,
                        "applies": applies,
                    }
                )
    return out


def codebook_table(
    cb: Codebook, *, deidentify: bool = False, dates: str = "shift", columns: dict[str, Field] | None = None
) -> pd.DataFrame:
    """One row per field (fields without choices) or per field and choice; then the records' added
    ``columns`` (derived variables, a scale's unit, period and scores: chartcode.export.tables.extra_columns)."""
    cols = ["name", "label", "level", "type", "code", "choice_label", "rules"]
    if cb.has_logic:  # when a field applies (empty: always) and how a calculated one is computed
        cols += ["show_if", "calc"]
    rows = []
    for f in [*exported_fields(cb, deidentify=deidentify), *(columns or {}).values()]:
        base = {
            "name": f.name,
            "label": field_label(f, deidentify=deidentify, dates=dates),
            "level": f.level,
            "type": f.type,
            "rules": f.rules,
        }
        if cb.has_logic:
            base |= {"show_if": f.show_if, "calc": f.calc}
        if f.choices:
            rows += [base | {"code": c.code, "choice_label": c.label} for c in f.choices]
        else:
            rows.append(base | {"code": None, "choice_label": None})
    return pd.DataFrame(rows, columns=cols)


def codebook_dict(
    cb: Codebook, *, deidentify: bool = False, dates: str = "shift", columns: dict[str, Field] | None = None
) -> dict[str, Any]:
    """The codebook; ``columns`` (the records' added columns) under ``"columns"``: name, label, type, choices."""
    d = cb.to_dict()
    d["fields"] = [
        f.to_dict() | {"label": field_label(f, deidentify=deidentify, dates=dates)}
        for f in exported_fields(cb, deidentify=deidentify)
    ]
    if columns:
        d["columns"] = [
            {"name": f.name, "label": f.label, "type": f.type, "choices": [c.to_dict() for c in f.choices]}
            for f in columns.values()
        ]
    return d


def agreement_table(store: Store, *, deidentify: bool = False, ratings: list[Ratings] | None = None) -> pd.DataFrame:
    """Field + scalar coefficients (nested ones as ``alpha_by_level.nominal``, ``icc.ICC1``).
    ``ratings``: every field's matrix, read already (the streamed xlsx export reads them span by span)."""
    try:
        from chartcode.agreement import agreement_report

        report = agreement_report(store, ratings=ratings)
    except Exception as exc:  # noqa: BLE001 - the export must not fail for want of agreement
        return pd.DataFrame({"agreement": [f"agreement is unavailable ({type(exc).__name__}: {exc})"]})
    skip = set() if not deidentify else {f.name for f in store.codebook.fields if dropped(f)}
    rows = []
    for res in report.get("fields", []):
        if res.get("field") in skip:
            continue
        row: dict[str, Any] = {}
        for key, value in res.items():
            if isinstance(value, dict) and key not in ("ci", "confusion"):
                for sub, v in value.items():
                    if v is None or isinstance(v, (int, float, str)):
                        row[f"{key}.{sub}"] = v
            elif value is None or isinstance(value, (int, float, str)):
                row[key] = value
        rows.append(row)
    if not rows:
        return pd.DataFrame({"agreement": ["no field has units coded by two or more coders yet"]})
    return pd.DataFrame(rows)


def analyses_table(store: Store) -> pd.DataFrame:
    """The audit file's declared analyses (chartcode stats): one row per model term, or per test."""
    prepared = analyses_prepared(store)
    return prepared if isinstance(prepared, pd.DataFrame) else analyses_run(prepared)


def analyses_prepared(store: Store, frame: tuple[pd.DataFrame, Any] | None = None) -> Prepared | pd.DataFrame:
    """:func:`analyses_table`'s reading of the store: the analyses to run, or the table saying why
    there are none. ``frame``: the analysis frame and its variables, made already (chartcode.analysis)."""
    from chartcode.analysis import prepare_stats

    try:
        return prepare_stats(store, frame=frame)
    except UserError as exc:
        return pd.DataFrame({"analysis": [f"no analyses: {exc}"]})


def analyses_run(prepared: Prepared) -> pd.DataFrame:
    """:func:`analyses_table` for analyses read already: reads nothing more (it may run in a forked
    child: chartcode.forked)."""
    try:
        results = prepared.run()["analyses"]
    except UserError as exc:
        return pd.DataFrame({"analysis": [f"no analyses: {exc}"]})
    rows: list[dict[str, Any]] = []
    for a in results:
        base = {
            "kind": a["kind"],
            "spec": a["spec"],
            "title": a["stats"].get("title") or "",
            "n": a["n"],
            "warnings": " | ".join(a.get("warnings", [])),
        }
        if a["terms"]:
            for t in a["terms"]:
                rows.append({**base, **t})
        elif a["kind"] != "describe":
            rows.append(
                {
                    **base,
                    **{
                        k: v
                        for k, v in a["stats"].items()
                        if k != "title" and (v is None or isinstance(v, (int, float, str)))
                    },
                }
            )
    return pd.DataFrame(rows) if rows else pd.DataFrame({"analysis": ["no analyses declared"]})


def fidelity_table(store: Store, *, deidentify: bool, scores: list | None = None) -> pd.DataFrame | None:
    """A rating scale's scores, one row per unit and period (None for codebooks without a scale):
    ``scores`` from chartcode.fidelity.fidelity, computed here when not given. De-identified, the
    record id and unit become salted hashes (a unit can be a clinician)."""
    if store.codebook.scale is None:
        return None
    from chartcode.fidelity import fidelity

    sections = [s.id for s in store.codebook.scale.sections]
    rows = []
    for u in fidelity(store) if scores is None else scores:
        by = {x.section: x for x in u.sections}
        rows.append(
            {
                "record_id": u.record_id,
                "unit": u.unit,
                "period": u.period,
                **{f"{s}_score": by[s].score for s in sections},
                **{f"{s}_band": by[s].band for s in sections},
                "total": u.total,
                "mean": u.mean,
                "band": u.band,
                "change_from_previous": u.change_from_previous,
                "items_rated": u.items_rated,
                "items_cannot_rate": u.items_cannot_rate,
                "items_below_threshold": len(u.below_threshold),
            }
        )
    df = pd.DataFrame(
        rows,
        columns=[
            "record_id",
            "unit",
            "period",
            *[f"{s}_score" for s in sections],
            *[f"{s}_band" for s in sections],
            "total",
            "mean",
            "band",
            "change_from_previous",
            "items_rated",
            "items_cannot_rate",
            "items_below_threshold",
        ],
    )
    if deidentify:
        d = Deidentifier.for_store(store)
        df["record_id"] = [d.hash_id(v) for v in df["record_id"]]
        df["unit"] = [d.hash_id(v) for v in df["unit"]]
    return df
