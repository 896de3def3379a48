"""`chartcode report`: the audit report as one self-contained HTML page or Markdown."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from chartcode.cli.common import _Target
from chartcode.errors import UserError
from chartcode.files import atomic_write_text


@click.command()
@click.argument("db", type=_Target())
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="File to write.")
@click.option("--format", "fmt", type=click.Choice(["html", "md"]), help="Default: from --out (.md or .html).")
@click.option("--bootstrap", type=int, default=200, show_default=True, help="Resamples for agreement CIs.")
@click.option("--seed", type=int, default=1, show_default=True, help="Seed for the bootstrap (same seed, same CIs).")
def report(db: Path, out: Path, fmt: str | None, bootstrap: int, seed: int):
    """Write the audit report: progress, agreement with CIs, distributions, analyses, open disagreements.

    The HTML page is self-contained (inline CSS and SVG charts, nothing fetched), readable on a
    phone and printable.
    """
    from chartcode.report import build_report
    from chartcode.store import open_store

    fmt = fmt or ("md" if out.suffix.lower() in (".md", ".markdown") else "html")
    if not out.parent.exists():
        raise UserError(f"{out.parent}: no such folder")
    store = open_store(db)
    try:
        text = build_report(
            store,
            fmt=fmt,
            bootstrap=bootstrap,
            seed=seed,
            progress=lambda msg: click.echo(f"report: {msg}", err=True) if sys.stderr.isatty() else None,
        )
    finally:
        store.close()
    try:
        atomic_write_text(out, text)
    except OSError as exc:
        raise UserError(f"{out}: cannot write ({exc.strerror or exc})") from None
    click.echo(f"wrote {out} ({fmt}, {len(text) // 1024} KB)")
