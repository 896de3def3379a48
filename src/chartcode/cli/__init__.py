"""The `chartcode` command: thin click commands over the library.

Exit codes: 0 ok, 2 user error (bad input; a message says what and where), 1 a bug.
Nothing here prints note text except commands whose purpose is to show notes.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator

import click

from chartcode import __version__, gc_policy
from chartcode.cli.common import _Group
from chartcode.errors import UserError


class _PipeClosed(Exception):
    """stdout's reader went away (`chartcode codes DB | head`): a normal end, not an error."""


class _EntryGroup(_Group):
    def invoke(self, ctx: click.Context):
        # click turns EPIPE into exit 1 inside main(); take it first, as the reader's normal end
        try:
            return super().invoke(ctx)
        except BrokenPipeError as exc:
            raise _PipeClosed() from exc


def _quiet_closed_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush of what is still buffered
    cannot fail again (Python's documented recipe for SIGPIPE-free tools)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # stdout without a file descriptor (a test's capture): nothing to flush
        pass


@click.group(cls=_EntryGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="chartcode")
def cli() -> None:
    """Code EHR chart notes against a codebook, double-code for agreement, reconcile, report.

    \b
    Start with the demo:            chartcode demo
    A new audit from a codebook:    chartcode init audit.db --audit conjoint-pain
    Bring in notes, then code:      chartcode import audit.db notes.csv
    """


# commands in the order `chartcode --help` lists them (the order of work): name -> (module, attribute)
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("setup", "init"),
    "server": ("server", "server"),
    "migrate": ("migrate", "migrate"),
    "snapshot": ("migrate", "snapshot"),
    "status": ("setup", "status"),
    "records": ("setup", "records"),
    "coders": ("setup", "coders"),
    "import": ("notes", "import_"),
    "notes": ("notes", "notes"),
    "import-codes": ("coding", "import_codes_cmd"),
    "codes": ("coding", "codes_cmd"),
    "history": ("coding", "history"),
    "verify": ("verify", "verify"),
    "codebook": ("codebook", "codebook"),
    "assign": ("double_coding", "assign"),
    "disagreements": ("double_coding", "disagreements"),
    "consensus": ("double_coding", "consensus"),
    "final": ("double_coding", "final_cmd"),
    "code": ("screens", "code_cmd"),
    "reconcile": ("screens", "reconcile"),
    "rate": ("screens", "rate"),
    "demo": ("demo", "demo"),
    "agreement": ("agreement", "agreement"),
    "stats": ("stats", "stats"),
    "reviews": ("reviews", "reviews"),
    "export": ("export", "export"),
    "report": ("report", "report"),
    "fidelity": ("fidelity", "fidelity"),
}


class _LazyCommands(dict[str, click.Command]):
    """The group's commands (click's ``Group.commands``), each command's module imported the first
    time the command is looked up: `chartcode code` imports chartcode.cli.screens and none of the
    other 15 command modules (with what they import: ~0.05 s of CPU, a tenth of the coding
    screen's start-up). Listing them (``--help``, iterating) imports them all, in the declared
    order; a command added later (``add_command``) is listed after them."""

    def __init__(self, table: dict[str, tuple[str, str]]) -> None:
        super().__init__()
        self._order = list(table)
        self._pending = dict(table)

    def _load(self, name: str) -> None:
        spec = self._pending.pop(name, None)
        if spec is not None:
            module = importlib.import_module(f"chartcode.cli.{spec[0]}")
            super().setdefault(name, getattr(module, spec[1]))

    def _names(self) -> list[str]:
        for name in list(self._pending):
            self._load(name)
        loaded = dict.keys(self)
        return [n for n in self._order if n in loaded] + [n for n in loaded if n not in self._order]

    def __getitem__(self, name: str) -> click.Command:
        self._load(name)
        return super().__getitem__(name)

    def get(self, name: str, default: click.Command | None = None) -> click.Command | None:  # type: ignore[override]
        self._load(name)
        return super().get(name, default)

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._pending.pop(name, None)  # a command registered under a declared name replaces it
        super().__setitem__(name, command)

    def __delitem__(self, name: str) -> None:
        self._load(name)
        super().__delitem__(name)

    def __contains__(self, name: object) -> bool:
        return name in self._pending or super().__contains__(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._pending) + super().__len__()

    def __bool__(self) -> bool:
        return len(self) > 0

    def keys(self) -> list[str]:  # type: ignore[override]
        return self._names()

    def values(self) -> list[click.Command]:  # type: ignore[override]
        return [self[n] for n in self._names()]

    def items(self) -> list[tuple[str, click.Command]]:  # type: ignore[override]
        return [(n, self[n]) for n in self._names()]

    def copy(self) -> dict[str, click.Command]:
        return dict(self.items())

    def __repr__(self) -> str:
        return repr(self.copy())


cli.commands = _LazyCommands(COMMANDS)


# ---------------------------------------------------------------------------- entry point
def run(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code (0 ok, 2 user error, 1 bug)."""
    gc_policy.for_batch_work()  # the coding screen sets its own once it has started
    try:
        rc = cli.main(args=argv, prog_name="chartcode", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except UserError as exc:
        click.echo(f"chartcode: error: {exc}", err=True)
        return 2
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return 130
    except (_PipeClosed, BrokenPipeError):
        _quiet_closed_stdout()
        return 0
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except Exception:  # a bug: say so, with the traceback for the report
        import traceback  # only for a bug: not loaded by every command

        click.echo("chartcode: internal error (this is a bug; please report it with the lines below)", err=True)
        traceback.print_exc()
        return 1
    return rc if isinstance(rc, int) else 0


def main() -> None:
    sys.exit(run(sys.argv[1:]))
