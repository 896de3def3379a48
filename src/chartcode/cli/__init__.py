"""The `chartcode` command: thin click commands over the library.

Exit codes: 0 ok, 2 user error (bad input; a message says what and where), 1 a bug.
Nothing here prints note text except commands whose purpose is to show notes.
"""

from __future__ import annotations

import os
import sys

import click

from chartcode import __version__
from chartcode.cli import (
    agreement,
    codebook,
    coding,
    demo,
    double_coding,
    export,
    fidelity,
    migrate,
    notes,
    report,
    reviews,
    screens,
    server,
    setup,
    stats,
    verify,
)
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


# commands in the order `chartcode --help` lists them: the order of work
cli.add_command(setup.init)
cli.add_command(server.server)
cli.add_command(migrate.migrate)
cli.add_command(migrate.snapshot)
cli.add_command(setup.status)
cli.add_command(setup.records)
cli.add_command(setup.coders)
cli.add_command(notes.import_)
cli.add_command(notes.notes)
cli.add_command(coding.import_codes_cmd)
cli.add_command(coding.codes_cmd)
cli.add_command(coding.history)
cli.add_command(verify.verify)
cli.add_command(codebook.codebook)
cli.add_command(double_coding.assign)
cli.add_command(double_coding.disagreements)
cli.add_command(double_coding.consensus)
cli.add_command(double_coding.final_cmd)
cli.add_command(screens.code_cmd)
cli.add_command(screens.reconcile)
cli.add_command(screens.rate)
cli.add_command(demo.demo)
cli.add_command(agreement.agreement)
cli.add_command(stats.stats)
cli.add_command(reviews.reviews)
cli.add_command(export.export)
cli.add_command(report.report)
cli.add_command(fidelity.fidelity)


# ---------------------------------------------------------------------------- entry point
def run(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code (0 ok, 2 user error, 1 bug)."""
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
