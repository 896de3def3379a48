"""Exports for analysts: final values (wide) or every code by every coder (long).

    export(store, fmt, out, *, long=False, deidentify=False, viewer=None, force=False)
        -> ExportResult(files, warnings, hidden)

Formats: csv, xlsx, sav, dta, json, redcap, each declared once in chartcode.export.formats. Wide exports hold the final
values of chartcode.consensus (one rule) plus a flag column per field saying where each
value came from (``<field>__source``; ``<field>_src`` in SPSS/Stata). Long exports are
blind: only the codes chartcode.store.visibility lets ``viewer`` see (None: the
rule for any non-lead). No export ever contains note text.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field
from pathlib import Path
from typing import TYPE_CHECKING

from chartcode.errors import UserError
from chartcode.export.formats import DATE_MODES, REGISTRY, ExportInput

if TYPE_CHECKING:  # the store (sqlite-utils, which imports pandas) loads with the command that opens one
    from chartcode.store.store import Store

FORMATS = tuple(REGISTRY)
LONG_FORMATS = tuple(name for name, f in REGISTRY.items() if f.write_long is not None)

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
        raise UserError(
            f"--long exports every coder's codes as csv, xlsx or json, not {fmt}"
            " (SPSS/Stata files get the wide table of final values)"
        )


def planned_files(fmt: str, out: Path, *, long: bool = False) -> list[Path]:
    """The files an export writes: ``out``, and for wide csv/sav/dta ``<stem>_notes<suffix>``."""
    return REGISTRY[fmt].files(Path(out), long=long)


def _check_targets(files: list[Path], force: bool) -> None:
    for p in files:
        if not p.parent.is_dir():
            raise UserError(f"{p}: cannot write the file (no such folder {p.parent})")
        if p.is_dir():
            raise UserError(f"{p}: is a folder; give a file name with --out")
        if p.exists() and not force:
            raise UserError(f"{p}: already exists; refusing to overwrite it (pass --force to replace it)")


def _check_dates(fmt: str, deidentify: bool, dates: str | None) -> str:
    if dates is None:
        return "shift"
    if not deidentify:
        raise UserError(f"--dates {dates} applies only with --deidentify (without it every date is exported as is)")
    if dates not in DATE_MODES:
        raise UserError(f"--dates {dates!r}: choose one of: {', '.join(DATE_MODES)}")
    if fmt == "redcap" and dates == "year":
        raise UserError("--dates year: REDCap date fields take whole dates; export redcap with --dates shift")
    return dates


def export(
    store: Store,
    fmt: str,
    out: str | Path,
    *,
    long: bool = False,
    deidentify: bool = False,
    viewer: str | None = None,
    force: bool = False,
    dates: str | None = None,
) -> ExportResult:
    """``dates`` (with ``deidentify`` only): "shift" (the default) or "year"."""
    fmt = (fmt or "").lower()
    _check_request(fmt, long)
    date_mode = _check_dates(fmt, deidentify, dates)
    if viewer is not None:
        store.require_coder(viewer)
    files = planned_files(fmt, Path(out), long=long)
    _check_targets(files, force)
    data = ExportInput(store, deidentify, viewer, dates=date_mode)
    spec = REGISTRY[fmt]
    if long:
        assert spec.write_long is not None  # _check_request refused it otherwise
        spec.write_long(data, files)
    else:
        spec.write_wide(data, files)
    hidden = data.long.hidden if long else None
    return ExportResult(files, data.warnings, hidden, data.rows)
