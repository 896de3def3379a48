"""Exports for analysts: final values (wide) or every code by every coder (long).

    export(store, fmt, out, *, long=False, deidentify=False, viewer=None, force=False)
        -> ExportResult(files, warnings, hidden)

Formats: csv, xlsx, sav, dta, json, redcap (see FORMATS). Wide exports hold the final
values of chartcode.consensus (one rule) plus a flag column per field saying where each
value came from (``<field>__source``; ``<field>_src`` in SPSS/Stata). Long exports are
blind: only the codes chartcode.consensus.visibility_sql lets ``viewer`` see (None: the
rule for any non-lead). No export ever contains note text.
"""

from __future__ import annotations

from dataclasses import dataclass, field as dc_field
from pathlib import Path
from typing import TYPE_CHECKING

from chartcode.errors import UserError

if TYPE_CHECKING:  # the store (sqlite-utils, which imports pandas) loads with the command that opens one
    from chartcode.store.store import Store

FORMATS = ("csv", "xlsx", "sav", "dta", "json", "redcap")
LONG_FORMATS = ("csv", "xlsx", "json")

__all__ = ["FORMATS", "LONG_FORMATS", "ExportResult", "Deidentifier", "export", "planned_files"]


def __getattr__(name: str):
    # the tables (pandas) load on first use, so `from chartcode.export import FORMATS` stays cheap
    if name == "Deidentifier":
        from chartcode.export.tables import Deidentifier

        return Deidentifier
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass
class ExportResult:
    files: list[Path]
    warnings: list[str] = dc_field(default_factory=list)
    hidden: int | None = None  # long exports: codes held back by blinding
    rows: dict[str, int] = dc_field(default_factory=dict)


def _check_request(fmt: str, long: bool) -> None:
    if fmt not in FORMATS:
        raise UserError(f"unknown export format {fmt!r} (choose one of: {', '.join(FORMATS)})")
    if long and fmt not in LONG_FORMATS:
        raise UserError(f"--long exports every coder's codes as csv, xlsx or json, not {fmt}"
                        " (SPSS/Stata files get the wide table of final values)")


def planned_files(fmt: str, out: Path, *, long: bool = False) -> list[Path]:
    """The files an export writes: ``out``, and for wide csv/sav/dta ``<stem>_notes<suffix>``."""
    out = Path(out)
    if not long and fmt in ("csv", "sav", "dta"):
        return [out, out.with_name(f"{out.stem}_notes{out.suffix or '.' + fmt}")]
    return [out]


def _check_targets(files: list[Path], force: bool) -> None:
    for p in files:
        if not p.parent.is_dir():
            raise UserError(f"{p}: cannot write the file (no such folder {p.parent})")
        if p.is_dir():
            raise UserError(f"{p}: is a folder; give a file name with --out")
        if p.exists() and not force:
            raise UserError(f"{p}: already exists; refusing to overwrite it (pass --force to replace it)")


def export(store: Store, fmt: str, out: str | Path, *, long: bool = False, deidentify: bool = False,
           viewer: str | None = None, force: bool = False) -> ExportResult:
    from chartcode.export import writers
    from chartcode.export.tables import (agreement_table, analyses_table, codebook_dict, codebook_table,
                                         fidelity_table, long_table, wide_tables)

    fmt = (fmt or "").lower()
    _check_request(fmt, long)
    if viewer is not None:
        store.require_coder(viewer)
    files = planned_files(fmt, Path(out), long=long)
    _check_targets(files, force)
    cb = store.codebook
    result = ExportResult(files)

    if long:
        lt = long_table(store, viewer=viewer, deidentify=deidentify)
        result.hidden, result.rows = lt.hidden, {"codes": len(lt.frame)}
        if fmt == "csv":
            writers.write_csv(lt.frame, files[0])
        elif fmt == "xlsx":
            writers.write_xlsx({"codes": lt.frame, "codebook": codebook_table(cb, deidentify=deidentify)}, files[0])
        else:
            writers.write_json({"codes": writers.rows(lt.frame),
                                "codebook": codebook_dict(cb, deidentify=deidentify)}, files[0])
        return result

    if fmt == "redcap":
        records, _ = wide_tables(store, deidentify=deidentify, sources=False)
        result.rows = {"records": len(records)}
        if cb.note_fields:
            result.warnings.append(
                f"warning: {len(cb.note_fields)} note-level field(s) left out (a flat REDCap project has one row"
                f" per record): {', '.join(f.name for f in cb.note_fields)}")
        writers.write_csv(records, files[0], safe=False)
        return result

    records, notes = wide_tables(store, deidentify=deidentify)
    result.rows = {"records": len(records), "notes": len(notes)}
    if fmt == "csv":
        writers.write_csv(records, files[0])
        writers.write_csv(notes, files[1])
    elif fmt == "xlsx":
        sheets = {
            "records": records,
            "notes": notes,
            "codebook": codebook_table(cb, deidentify=deidentify),
            "agreement": agreement_table(store, deidentify=deidentify),
            "analyses": analyses_table(store),
        }
        scores = fidelity_table(store, deidentify=deidentify)
        if scores is not None:  # a rating scale: its scores per unit and period
            sheets["fidelity"] = scores
        writers.write_xlsx(sheets, files[0])
    elif fmt in ("sav", "dta"):
        title = f"{cb.id} {cb.version}: final values"
        writers.write_stat(records, cb, files[0], fmt, hashed_ids=deidentify, file_label=title + " (records)")
        writers.write_stat(notes, cb, files[1], fmt, hashed_ids=deidentify, file_label=title + " (notes)")
    else:  # json
        doc = {"records": writers.rows(records), "notes": writers.rows(notes),
               "codebook": codebook_dict(cb, deidentify=deidentify)}
        scores = fidelity_table(store, deidentify=deidentify)
        if scores is not None:
            doc["fidelity"] = writers.rows(scores)
        writers.write_json(doc, files[0])
    return result
