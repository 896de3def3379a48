"""What the commands share: the DB argument, opening the store, the --as option, the progress
bar, the command group, table printing, the formula guard for CSV on stdout and the TUI launcher."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path

import click

from chartcode.errors import UserError


class _Target(click.ParamType):
    """An audit: a file path (a Path), or a team server's postgresql:// URL (kept as it is, a str)."""

    name = "DB"

    def convert(self, value, param, ctx):
        if isinstance(value, str) and value.startswith(("postgresql://", "postgres://")):
            return value
        return click.Path(dir_okay=False, path_type=Path).convert(value, param, ctx)


DB = click.argument("db", type=_Target())


@contextmanager
def _open(db: Path | str):
    from chartcode.store import open_store

    store = open_store(db)
    try:
        yield store
    finally:
        store.close()


def _progress(label: str):
    """A progress callback drawing a bar on a terminal (stderr), or None when piped."""
    if not sys.stderr.isatty():
        return None, lambda: None
    state: dict = {}

    def update(done: int, total: int) -> None:
        bar = state.get("bar")
        if bar is None:
            bar = click.progressbar(length=max(total, 1), label=label, file=sys.stderr, show_percent=True)
            bar.__enter__()
            state["bar"] = bar
        bar.update(done - bar.pos)

    def finish() -> None:
        bar = state.pop("bar", None)
        if bar is not None:
            bar.__exit__(None, None, None)

    return update, finish


class _Group(click.Group):
    def list_commands(self, ctx):  # in the order they were declared: the order of work
        return list(self.commands)


AS_VIEWER = click.option(
    "--as",
    "viewer",
    metavar="NAME",
    help="Who is looking. Coders see their own codes, and others' only on records they are assigned to and"
    " have submitted, once every assigned coder has; a lead sees everything. Without --as, no coder's codes.",
)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def fmt(r: list[str]) -> str:
        return "  " + "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )

    return [fmt(header).rstrip(), *[fmt(r).rstrip() for r in rows]]


def _run_tui(db: Path | str, coder: str | None, mode: str = "code", **kwargs) -> None:
    if not sys.stdin.isatty() or not sys.stdout.isatty():
        raise UserError("the coding screen needs a terminal; use `chartcode import-codes` in scripts")
    from chartcode.tui.app import make_app

    app = make_app(db, coder, mode=mode, **kwargs)
    app.run()
    if app.return_code not in (None, 0):
        sys.exit(app.return_code)
