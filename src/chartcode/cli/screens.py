"""`chartcode code`, `reconcile` and `rate`: open the Textual screens (imported only when run)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from chartcode.cli.common import DB, WAIT, _open, _run_tui
from chartcode.errors import UserError


@click.command("code")
@DB
@click.option("--coder", help="Who is coding (must be a coder of the audit); on a server, the role you log in as.")
def code_cmd(db: Path, coder: str | None):
    """Open the coding screen on CODER's assigned records (keyboard only; ? shows the keys).

    Every change is saved the moment it is made; Ctrl+Q quits. Reopening returns to where
    you left off.
    """
    from chartcode.store import is_server
    from chartcode.tui.runtime import start_without_collections

    if coder is None and not is_server(db):
        raise UserError("give --coder NAME: who is coding this audit file")
    with start_without_collections():
        _run_tui(db, coder)


@click.command()
@DB
@click.option("--coder", required=True, help="The supervisor (or lead) deciding consensus.")
def reconcile(db: Path, coder: str):
    """Open the reconcile screen: settle disagreements into consensus values, by keys.

    a/b/... takes a coder's value, a digit takes another choice; a reason is always asked
    for. Only records every assigned coder has submitted appear (blinding).
    """
    from chartcode.tui.runtime import start_without_collections

    with start_without_collections():
        _run_tui(db, coder, mode="reconcile")


@click.command()
@DB
@WAIT
@click.option("--unit", required=True, help="The unit rated: a team, site or clinician (e.g. 'Team A').")
@click.option("--period", required=True, help="The review period, a label that sorts in time (e.g. 2025-H1).")
@click.option("--rater", required=True, help="Who is rating (must be a coder of the audit).")
def rate(db: Path, unit: str, period: str, rater: str):
    """Open the rating screen: rate one unit in one period on the audit's fidelity scale.

    The unit-period is created if new and assigned to the rater. Each item is rated by the
    number of its anchor (x: cannot rate, c: evidence); every rating is saved the moment it
    is made, and s submits the unit-period when every item is rated. Raters see only their
    own ratings (blind). Reopening returns to where you left off; ? shows the keys.

    \b
    Example:
      chartcode rate fidelity.db --unit "Team A" --period 2025-H1 --rater alice
    """
    with _open(db) as store:
        cb = store.codebook
        if cb.scale is None or not cb.items:
            raise UserError(
                f"{store.path}: codebook {cb.id} is not a rating scale (it has no 'scale' block with scored"
                " items); `chartcode rate` needs an audit made from a scale codebook such as"
                " ips-fidelity"
            )
        store.require_coder(rater)
        if not sys.stdin.isatty() or not sys.stdout.isatty():
            raise UserError("the rating screen needs a terminal; use `chartcode import-codes` in scripts")
        record_id = store.add_unit_period(unit, period, actor=rater)
        store.assign(rater, [record_id], actor=rater, source="rate")
    from chartcode.tui.runtime import start_without_collections

    with start_without_collections():
        _run_tui(db, rater, mode="rate", record_id=record_id)
