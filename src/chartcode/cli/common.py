"""What the commands share: the DB argument, opening the store, the --wait and --as options, the
progress bar, the command group, table printing, the formula guard for CSV on stdout and the TUI
launcher."""

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

_WAIT_KEY = "chartcode.wait"


def _remember_wait(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    ctx.meta[_WAIT_KEY] = value
    return value


# Every command that writes to the audit takes --wait; _open applies it. The default is to wait
# as long as another program holds the write lock (a coder's screen, a `sqlite3` shell left in a
# transaction), saying so on stderr, because giving up loses nothing but costs a re-run, while
# a write that waits is simply late. Scripts that must not block pass --wait.
WAIT = click.option(
    "--wait",
    type=click.FloatRange(min=0),
    metavar="SECONDS",
    expose_value=False,
    is_eager=True,
    callback=_remember_wait,
    help="If another program holds the database's write lock, give up after SECONDS (exit 2, nothing"
    " written). Default: wait as long as needed, showing the wait on stderr.",
)


def _lock_reporter(db: Path | str):
    """on_wait for a LockWait: "waiting for the database (N s)" on stderr, rewritten in place on a
    terminal; on a pipe a line at 1 s and every 10 s, so logs show it without flooding."""
    tty = sys.stderr.isatty()

    def on_wait(seconds: float, waiting: bool) -> None:
        n = int(seconds)
        if tty:
            end = "" if waiting else "\n"
            text = f"waiting for the database ({n} s)" if waiting else f"waited {n} s for the database"
            click.echo(f"\r{db}: {text}\033[K{end}", err=True, nl=False)
        elif waiting and (n == 1 or n % 10 == 0):
            click.echo(f"{db}: waiting for the database ({n} s): another program holds its write lock", err=True)
        elif not waiting:
            click.echo(f"{db}: waited {n} s for the database", err=True)

    return on_wait


@contextmanager
def _open(db: Path | str):
    from chartcode.store import Store, open_store

    store = open_store(db)
    if isinstance(store, Store):  # the SQLite file (a team server queues writers itself)
        ctx = click.get_current_context(silent=True)
        store.wait_for_locks(ctx.meta.get(_WAIT_KEY) if ctx else None, _lock_reporter(db))
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

    app = make_app(db, coder, mode=mode, tune_runtime=True, **kwargs)
    app.run()
    if app.return_code not in (None, 0):
        sys.exit(app.return_code)
