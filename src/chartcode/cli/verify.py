"""`chartcode verify`: check that the history is intact and explains the current codes."""

from __future__ import annotations

import json
from pathlib import Path

import click

from chartcode.cli.common import DB, _open

SHOWN = 20  # problems printed; --json lists them all


@click.command()
@DB
@click.option(
    "--head",
    "head",
    metavar="HEX",
    help="A chain head published earlier (a report, an export, a previous verify): check that the"
    " history still contains it. Without it, removing the last entries cannot be detected.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON (the full chain head).")
def verify(db: Path, head: str | None, as_json: bool):
    """Check the history's hash chain and replay the codes from it.

    Exit 0 when every entry's hash matches and the codes and consensus values are what the
    history says; exit 2 naming the first entry or code that does not match. A file cannot stop
    its owner: a consistent rewrite (entries, hashes and codes together) is exposed only by a
    chain head published before it (--head).
    """
    with _open(db) as store:
        result = store.verify(head)
        shown = store.path
    if as_json:
        click.echo(
            json.dumps(
                {
                    "ok": result.ok,
                    "entries": result.entries,
                    "history_head": result.head,
                    "head_checked": result.head_checked,
                    "head_entry": result.head_entry,
                    "chained_at_migration": result.chained_at_migration,
                    "replay_skipped": result.replay_skipped,
                    "problems": [
                        {"message": p.message, "history_id": p.history_id, "code": p.code} for p in result.problems
                    ],
                }
            )
        )
    elif result.ok:
        click.echo(f"{shown}: history intact: {result.entries} entries, chain head {result.head[:16]}")
        if result.replay_skipped:
            click.echo(f"  the codes were not replayed: {result.replay_skipped}")
        else:
            click.echo("  the codes and consensus values are what the history says")
        if result.head_checked:
            click.echo(f"  contains the published head {result.head_checked} (entry {result.head_entry})")
        migrated = result.chained_at_migration
        if migrated:
            click.echo(
                f"  entries 1..{migrated.get('last_id')} were chained when the file was upgraded"
                f" ({migrated.get('at')}); changes made before then cannot be detected"
            )
    else:
        n = len(result.problems)
        click.echo(
            f"{shown}: the history does not check out ({n} problem{'s' if n != 1 else ''};"
            f" {result.entries} entries, chain head {result.head[:16]}):"
        )
        for p in result.problems[:SHOWN]:
            click.echo(f"  {p.message}")
        if n > SHOWN:
            click.echo(f"  ... and {n - SHOWN} more (--json lists them all)")
    if not result.ok:
        raise SystemExit(2)
