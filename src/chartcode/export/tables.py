"""The tables an export writes, built from the store; no file formats here.

    wide_tables(store)      (records, notes): final values with ``<field>__source`` columns
    long_table(store)       every code by every coder that the viewer may see (blinding)
    codebook_table(cb)      one row per field and choice
    agreement_table(store)  field + scalar agreement coefficients

Final values follow the one rule in chartcode.consensus (consensus, else the coders'
shared submitted value); the ``__source`` column says which. No table ever holds note
text: the notes table carries ids, date and type only.

De-identification (``deid``): fields marked ``identifier: true`` are dropped, record and
note ids become ``sha256(salt + id)[:16]`` with the salt stored in the database (meta
``deid_salt``) -- stable across exports of one database, different between databases --
and coders' free-text memos are blanked (they may quote the chart).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import pandas as pd

from chartcode.codebook import Codebook
from chartcode.dataset import SOURCE_SUFFIX, finals, notes_frame, records_frame
from chartcode.errors import UserError
from chartcode.store.store import Store

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


class Deidentifier:
    """Salted, truncated sha256 of ids; the salt is the database's own ``deid_salt``."""

    def __init__(self, salt: str):
        if not salt:
            raise UserError("the database has no de-identification salt (meta 'deid_salt'); cannot --deidentify")
        self.salt = salt

    @classmethod
    def for_store(cls, store: Store) -> Deidentifier:
        return cls(store.meta("deid_salt") or "")

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


def exported_fields(cb: Codebook, *, deidentify: bool) -> list:
    return [f for f in cb.fields if not (deidentify and f.identifier)]


def _drop_identifiers(df: pd.DataFrame, cb: Codebook) -> pd.DataFrame:
    drop = [c for f in cb.fields if f.identifier for c in (f.name, f.name + SOURCE_SUFFIX) if c in df.columns]
    return df.drop(columns=drop)


def wide_tables(store: Store, *, deidentify: bool = False, sources: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(records, notes) of final values; with ``sources`` the ``<field>__source`` flag columns."""
    records = records_frame(store, sources=sources)  # cached per process, like finals(store)
    notes = notes_frame(store, sources=sources, values=finals(store))
    if deidentify:
        deid = Deidentifier.for_store(store)
        records = deid.frame(_drop_identifiers(records, store.codebook))
        notes = deid.frame(_drop_identifiers(notes, store.codebook))
    return records, notes


@dataclass
class LongTable:
    frame: pd.DataFrame
    hidden: int  # codes held back by blinding


def long_table(store: Store, *, viewer: str | None = None, deidentify: bool = False) -> LongTable:
    """Every current code by every coder, limited to what ``viewer`` may see (None: blind)."""
    cb = store.codebook
    keep = {f.name for f in exported_fields(cb, deidentify=deidentify)}
    rows = []
    for r in store.visible_code_rows(viewer):
        coder, rid, nkey, fname, value, memo, sub_at, sub_value, updated = tuple(r)
        if fname not in keep:
            continue
        fld = cb.get(fname)
        submitted = sub_at is not None
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
                "revised": submitted and value != sub_value,
                "updated_at": updated,
            }
        )
    df = pd.DataFrame(rows, columns=list(LONG_COLUMNS))
    df["submitted"] = df["submitted"].astype(bool)
    df["revised"] = df["revised"].astype(bool)
    if deidentify:
        df = Deidentifier.for_store(store).frame(df)
    return LongTable(df, store.hidden_count(viewer))


def codebook_table(cb: Codebook, *, deidentify: bool = False) -> pd.DataFrame:
    """One row per field (fields without choices) or per field and choice."""
    cols = ["name", "label", "level", "type", "code", "choice_label", "rules"]
    rows = []
    for f in exported_fields(cb, deidentify=deidentify):
        base = {"name": f.name, "label": f.label, "level": f.level, "type": f.type, "rules": f.rules}
        if f.choices:
            rows += [base | {"code": c.code, "choice_label": c.label} for c in f.choices]
        else:
            rows.append(base | {"code": None, "choice_label": None})
    return pd.DataFrame(rows, columns=cols)


def codebook_dict(cb: Codebook, *, deidentify: bool = False) -> dict[str, Any]:
    d = cb.to_dict()
    d["fields"] = [f.to_dict() for f in exported_fields(cb, deidentify=deidentify)]
    return d


def agreement_table(store: Store, *, deidentify: bool = False) -> pd.DataFrame:
    """Field + scalar coefficients (nested ones as ``alpha_by_level.nominal``, ``icc.ICC1``)."""
    try:
        from chartcode.agreement import agreement_report

        report = agreement_report(store)
    except Exception as exc:  # noqa: BLE001 - the export must not fail for want of agreement
        return pd.DataFrame({"agreement": [f"agreement is unavailable ({type(exc).__name__}: {exc})"]})
    skip = set() if not deidentify else {f.name for f in store.codebook.fields if f.identifier}
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
    from chartcode.analysis import run_stats
    from chartcode.errors import UserError

    try:
        results = run_stats(store)["analyses"]
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
