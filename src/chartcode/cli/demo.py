"""`chartcode demo`: build a demo audit (and open the coding screen on it)."""

from __future__ import annotations

from pathlib import Path

import click

from chartcode.cli.common import _run_tui


@click.command()
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("chartcode-demo"),
    show_default=True,
    help="Where to build demo.db.",
)
@click.option("--no-tui", is_flag=True, help="Only build the demo database; do not open the coding screen.")
@click.option("--complete", is_flag=True, help="Code all 24 records for the intern (for reports).")
@click.option(
    "--audit",
    "audit_name",
    type=click.Choice(["conjoint-pain", "ibbis-fidelity"]),
    default="conjoint-pain",
    show_default=True,
    help="Which demo: chart coding (conjoint-pain) or team fidelity ratings (ibbis-fidelity, "
    "builds ibbis-demo.db and never opens the coding screen).",
)
@click.option(
    "--server",
    "server_url",
    metavar="URL",
    help="Also put the demo on a team server: build the file, then `chartcode migrate` it into the"
    " new database URL names (as an administrator); never opens the coding screen.",
)
def demo(directory: Path, no_tui: bool, complete: bool, audit_name: str, server_url: str | None):
    """Build a demo audit: 24 fictional veterans' records, an intern and a supervisor.

    With --audit ibbis-fidelity: three fictional teams rated in two review periods on an
    integrated-care fidelity scale by two reviewers, with the lead reviewer's consensus.
    With --server URL: the same demo, moved onto a team server (then give its coders logins).
    """
    if server_url is not None:
        from chartcode.errors import UserError
        from chartcode.store import is_server

        if not is_server(server_url):
            raise UserError(f"{server_url}: not a PostgreSQL URL (postgresql://[user@]host[:port]/dbname)")
    if audit_name == "ibbis-fidelity":
        from chartcode.demo_fidelity import DEMO_DB as FIDELITY_DB
        from chartcode.demo_fidelity import build_fidelity_demo

        existing = directory / FIDELITY_DB
        if existing.exists():
            _say_existing(existing, "--audit ibbis-fidelity ")
            _fidelity_next_steps(existing)
            return

        path = build_fidelity_demo(directory, progress=lambda msg: click.echo(msg, err=True))
        if server_url is not None:
            _to_server(path, server_url)
            return
        click.echo(f"built {path}")
        _fidelity_next_steps(path)
        return
    from chartcode.demo import DEMO_DB, build_demo

    path = directory / DEMO_DB
    if path.exists():
        # A second `chartcode demo` opens the demo already built (with the coding it holds)
        # instead of failing: the demo is where a new user comes back to.
        _say_existing(path, "")
        if server_url is not None:
            _to_server(path, server_url)
            return
        if no_tui:
            _next_steps(path)
            return
    else:
        path = build_demo(directory, complete=complete, progress=lambda msg: click.echo(msg, err=True))
        if server_url is not None:
            _to_server(path, server_url)
            return
        click.echo(f"built {path}")
        if no_tui:
            _next_steps(path)
            return
    _run_tui(path, "intern")


def _say_existing(path: Path, which: str) -> None:
    click.echo(
        f"{path} already exists (built earlier; not rebuilt). A fresh demo: delete {path.parent}"
        f" or run `chartcode demo {which}--dir OTHER`.",
        err=True,
    )


def _next_steps(path: Path) -> None:
    click.echo(f"  chartcode code {path} --coder intern      # the coding screen")
    click.echo(f"  chartcode status {path}")
    click.echo(f"  chartcode codes {path} --coder intern --as intern")


def _fidelity_next_steps(path: Path) -> None:
    click.echo(f"  chartcode fidelity {path}      # scores, bands and the action list")
    click.echo(f"  chartcode report {path} --out fidelity.html")
    click.echo(f'  chartcode rate {path} --unit "Team North" --period 2025-H2 --rater reviewer-a')


def _to_server(path: Path, url: str) -> None:
    from chartcode.store import Store
    from chartcode.store.pg import migrate, redacted

    counts = migrate.to_server(path, url, on_phase=lambda msg: click.echo(f"  {msg}", err=True))
    shown = redacted(url)
    click.echo(f"built {path} and moved it to {shown} ({counts['records']} records, {counts['codes']} codes)")
    with Store.open(path) as store:
        coders = store.coders()
    for c in coders:
        click.echo(f"  chartcode coders add {shown} {c['name']} --role {c['role']}   # a login for {c['name']}")
