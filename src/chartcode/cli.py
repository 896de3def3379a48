"""The `chartcode` command: thin click commands over the library.

Exit codes: 0 ok, 2 user error (bad input; a message says what and where), 1 a bug.
Nothing here prints note text except commands whose purpose is to show notes.
"""

from __future__ import annotations

import csv
import json
import sys
import traceback
from contextlib import contextmanager
from pathlib import Path

import click

from chartcode import __version__
from chartcode.errors import UserError

DB = click.argument("db", type=click.Path(dir_okay=False, path_type=Path))


@contextmanager
def _open(db: Path):
    from chartcode.store import Store

    store = Store.open(db)
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
        if "bar" in state:
            state["bar"].__exit__(None, None, None)

    return update, finish


class _Group(click.Group):
    def list_commands(self, ctx):  # in the order they were declared: the order of work
        return list(self.commands)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="chartcode")
def cli() -> None:
    """Code EHR chart notes against a codebook, double-code for agreement, reconcile, report.

    \b
    Start with the demo:            chartcode demo
    A new audit from a codebook:    chartcode init audit.db --audit conjoint-pain
    Bring in notes, then code:      chartcode import audit.db notes.csv
    """


# ---------------------------------------------------------------------------- init / status
@cli.command()
@DB
@click.option("--audit", "audit_ref", help="Audit definition: a YAML file or a shipped name (e.g. conjoint-pain).")
@click.option("--codebook", "codebook_ref", help="Codebook YAML file or shipped name, when there is no audit file.")
@click.option("--coder", "coders", multiple=True, metavar="NAME[:ROLE]",
              help="Add a coder (role coder, supervisor or lead; default coder). Repeatable.")
@click.option("--title", help="Audit title (default: from the audit file or codebook).")
def init(db: Path, audit_ref: str | None, codebook_ref: str | None, coders: tuple[str, ...], title: str | None):
    """Create the audit database DB from an audit definition or a codebook.

    The database is created readable by you only (0600) and stores the codebook it was
    created with, by content hash.
    """
    from chartcode import resources
    from chartcode.audit import load_audit
    from chartcode.codebook import load_codebook
    from chartcode.store import Store

    if bool(audit_ref) == bool(codebook_ref):
        raise UserError("give exactly one of --audit FILE or --codebook FILE")
    extra = []
    for spec in coders:
        name, _, role = spec.partition(":")
        extra.append((name.strip(), (role or "coder").strip()))
    if audit_ref:
        audit = load_audit(audit_ref)
        if db.exists():
            _check_existing(db, audit.codebook, str(audit.codebook_path))
        store = Store.create(db, audit.codebook, title=title, audit=audit.as_dict(), audit_source=audit.source,
                             coders=[*audit.coders, *extra])
        what = f"audit {audit.id} ({audit.codebook_path.name})"
    else:
        path = resources.resolve("codebooks", codebook_ref)
        codebook = load_codebook(path)
        if db.exists():
            _check_existing(db, codebook, str(path))
        store = Store.create(db, codebook, title=title, coders=extra)
        what = f"codebook {codebook.id} {codebook.version}"
    with store:
        cb = store.codebook
        click.echo(f"created {db} from {what}: {len(cb.fields)} fields, codebook hash {cb.short_hash}, "
                   f"coders: {', '.join(c['name'] for c in store.coders()) or 'none (add with `chartcode coders add`)'}")


def _check_existing(db: Path, codebook, shown: str) -> None:
    with _open(db) as store:
        store.require_codebook(codebook, shown)
    raise UserError(f"{db}: already exists with this codebook; nothing to do")


@cli.command()
@DB
@click.option("--json", "as_json", is_flag=True, help="Print counts as JSON.")
def status(db: Path, as_json: bool):
    """Counts of records, notes, codes and each coder's progress."""
    with _open(db) as store:
        counts = store.counts()
        if as_json:
            click.echo(json.dumps(counts, indent=None))
            return
        cb = counts["codebook"]
        click.echo(f"{store.title}")
        click.echo(f"codebook {cb['id']} {cb['version']} ({cb['hash'][:12]})")
        click.echo(f"{counts['records']} records, {counts['notes']} notes, {counts['codes']} codes,"
                   f" {counts['consensus']} consensus values, {counts['history']} history entries")
        for c in counts["coder_progress"]:
            click.echo(f"  {c['name']:<16} {c['role']:<10} {c['done']:>5}/{c['assigned']:<5} done"
                       f"  {c['codes']:>6} codes  {c['flagged']} flagged")


# ---------------------------------------------------------------------------- records / coders
@cli.group(cls=_Group)
def records() -> None:
    """Register and list records (patients, or teams and sites in fidelity audits)."""


@records.command("add")
@DB
@click.argument("ids", nargs=-1, required=True)
def records_add(db: Path, ids: tuple[str, ...]):
    """Register records ID... without notes."""
    with _open(db) as store:
        new = store.add_records(ids)
        click.echo(f"{new} new records ({len(ids) - new} already there)")


@records.command("list")
@DB
def records_list(db: Path):
    """List record ids with their number of notes."""
    with _open(db) as store:
        for row in store.db.query(
                "SELECT r.id, count(n.id) AS notes FROM records r LEFT JOIN notes n ON n.record_id = r.id"
                " GROUP BY r.id ORDER BY r.id"):
            click.echo(f"{row['id']}\t{row['notes']}")


@cli.group(cls=_Group)
def coders() -> None:
    """Add and list the coders of an audit."""


@coders.command("add")
@DB
@click.argument("name")
@click.option("--role", type=click.Choice(["coder", "supervisor", "lead"]), default="coder", show_default=True)
def coders_add(db: Path, name: str, role: str):
    """Add coder NAME with a role."""
    with _open(db) as store:
        added = store.add_coder(name, role)
        click.echo(f"added {name} ({role})" if added else f"{name} is already a {role}")


@coders.command("list")
@DB
def coders_list(db: Path):
    """List coders and their roles."""
    with _open(db) as store:
        for c in store.coders():
            click.echo(f"{c['name']}\t{c['role']}")


# ---------------------------------------------------------------------------- import
@cli.command("import")
@DB
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["csv", "tsv", "jsonl", "folder"]),
              help="Default: from the name (.csv, .tsv, .jsonl; a folder of .txt files).")
@click.option("--map", "mapping", multiple=True, metavar="FIELD=COLUMN",
              help="Read FIELD (record_id, note_id, note_date, note_type, author, text) from another column.")
@click.option("--encoding", default="utf-8", show_default=True, help="Text encoding of the file(s).")
@click.option("--date-format", help="strptime format of note_date when it is not ISO, e.g. '%m/%d/%Y'.")
@click.option("--pattern", help="For a folder: a regex on each file's relative path with named groups"
              " (?P<record_id>...), (?P<note_id>...), (?P<note_date>...).")
def import_(db: Path, source: Path, fmt, mapping, encoding, date_format, pattern):
    """Import chart notes from SOURCE: CSV, JSON Lines, or a folder of .txt files.

    \b
    Columns (CSV) or keys (JSON Lines): record_id, note_id, note_date, note_type, author, text.
    A folder holds one note per .txt file, one sub-folder per record.
    The import is all-or-nothing; importing the same notes again changes nothing.
    """
    from chartcode.importers.notes import import_notes, parse_mapping

    with _open(db) as store:
        update, finish = _progress("importing notes")
        try:
            result = import_notes(store, source, fmt=fmt, mapping=parse_mapping(mapping), encoding=encoding,
                                  date_format=date_format, pattern=pattern, progress=update)
        finally:
            finish()
        click.echo(result.summary())


@cli.command("import-codes")
@DB
@click.argument("codes_csv", type=click.Path(path_type=Path))
@click.option("--coder", required=True, help="Whose codes these are.")
@click.option("--draft", is_flag=True, help="Do not mark the records as submitted by the coder.")
@click.option("--encoding", default="utf-8", show_default=True)
def import_codes_cmd(db: Path, codes_csv: Path, coder: str, draft: bool, encoding: str):
    """Import one coder's codes from a long CSV: record_id, note_id, field, value[, memo].

    note_id is empty for record-level fields. Every row is checked first; any problem
    means nothing is imported. Records in the file count as submitted unless --draft.
    """
    from chartcode.importers.codes import import_codes

    with _open(db) as store:
        click.echo(import_codes(store, codes_csv, coder, draft=draft, encoding=encoding).summary())


@cli.command("codes")
@DB
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option("--coder", help="Only this coder's codes.")
@click.option("--record", "record_id", help="Only this record.")
def codes_cmd(db: Path, fmt: str, coder: str | None, record_id: str | None):
    """List current codes: coder, record_id, note_id, field, value, label, updated_at."""
    with _open(db) as store:
        if coder:
            store.require_coder(coder)
        rows = store.codes(coder=coder, record_id=record_id)
        cols = ["coder", "record_id", "note_id", "field", "value", "label", "memo", "submitted", "updated_at"]
        if fmt == "json":
            click.echo(json.dumps([{k: r[k] for k in cols} for r in rows], indent=1))
            return
        out = csv.writer(sys.stdout, lineterminator="\n")
        out.writerow(cols)
        for r in rows:
            out.writerow([_safe_cell(r[c]) if c in ("label", "memo") else ("" if r[c] is None else r[c])
                          for c in cols])


def _safe_cell(value) -> str:
    """Neutralise spreadsheet formulas in free text (a cell starting with = + - @)."""
    if value is None:
        return ""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


@cli.command()
@DB
@click.option("--coder", help="Only entries about this coder's codes.")
@click.option("--record", "record_id", help="Only this record.")
@click.option("--limit", type=int, help="Only the last N entries.")
@click.option("--json", "as_json", is_flag=True)
def history(db: Path, coder, record_id, limit, as_json):
    """The append-only history: who changed what, when (UTC), old -> new, and why."""
    with _open(db) as store:
        rows = store.history(coder=coder, record_id=record_id, limit=limit)
        if as_json:
            click.echo(json.dumps(rows, indent=1))
            return
        for h in rows:
            where = "/".join(x for x in (h["record_id"], h["note_id"], h["field"]) if x)
            change = ""
            if h["old_value"] is not None or h["new_value"] is not None:
                change = f" {'' if h['old_value'] is None else h['old_value']} -> " \
                         f"{'' if h['new_value'] is None else h['new_value']}"
            reason = f"  ({h['reason']})" if h["reason"] else ""
            click.echo(f"{h['id']:>6} {h['at']} {h['actor']:<12} {h['action']:<12} {where}{change}{reason}")


# ---------------------------------------------------------------------------- codebook
@cli.group(cls=_Group)
def codebook() -> None:
    """Check, convert and version codebooks."""


@codebook.command("check")
@click.argument("files", nargs=-1, required=True)
def codebook_check(files: tuple[str, ...]):
    """Validate codebook FILES; every problem names file, line and field."""
    from chartcode import resources
    from chartcode.codebook import load_codebook

    failed = 0
    for ref in files:
        try:
            cb = load_codebook(resources.resolve("codebooks", ref))
        except UserError as exc:
            failed += 1
            click.echo(str(exc), err=True)
            continue
        click.echo(f"{ref}: ok - {cb.id} {cb.version}, {len(cb.fields)} fields"
                   f" ({len(cb.record_fields)} record, {len(cb.note_fields)} note), hash {cb.short_hash}")
    if failed:
        sys.exit(2)


@codebook.command("list")
def codebook_list():
    """List the codebooks shipped with chartcode."""
    from chartcode import resources
    from chartcode.codebook import load_codebook

    for name in resources.shipped_names("codebooks"):
        cb = load_codebook(resources.shipped_dir("codebooks") / f"{name}.yaml")
        click.echo(f"{name:<28} {cb.version:<6} {cb.title}")


@codebook.command("show")
@click.argument("source")
def codebook_show(source: str):
    """Print the fields of a codebook FILE, or of the one stored in an audit database."""
    cb = _codebook_from(source)
    click.echo(f"{cb.id} {cb.version} - {cb.title} ({cb.short_hash})")
    for f in cb.fields:
        req = "*" if f.required else " "
        click.echo(f"{req} {f.name:<24} {f.level:<6} {f.type:<8} {f.label}")
        for c in f.choices:
            click.echo(f"      {c.code} = {c.label}")


def _codebook_from(source: str):
    """A codebook from a YAML file, a shipped name, or an audit database (its stored codebook)."""
    from chartcode import resources
    from chartcode.codebook import load_codebook

    p = Path(source)
    if p.is_file() and p.suffix.lower() not in (".yaml", ".yml"):
        with _open(p) as store:
            return store.codebook
    return load_codebook(resources.resolve("codebooks", source))


@codebook.command("import-redcap")
@click.argument("dictionary", type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Codebook YAML to write.")
@click.option("--id", "codebook_id", help="Codebook id (default: from the file name).")
@click.option("--title", help="Codebook title.")
def codebook_import_redcap(dictionary: Path, out: Path, codebook_id, title):
    """Convert a REDCap data dictionary (CSV) into a codebook YAML file."""
    from chartcode.codebook.loader import load_codebook
    from chartcode.codebook.redcap import redcap_to_yaml

    if out.exists():
        raise UserError(f"{out}: already exists; choose another --out")
    text, warnings = redcap_to_yaml(dictionary, codebook_id=codebook_id, title=title)
    cb = load_codebook(out, text=text)
    for w in warnings:
        click.echo(f"warning: {w}", err=True)
    out.write_text(text, encoding="utf-8")
    click.echo(f"wrote {out}: {len(cb.fields)} fields ({len(warnings)} skipped)")


@codebook.command("export")
@click.argument("source")
@click.option("--format", "fmt", type=click.Choice(["redcap", "qdc"]), required=True,
              help="redcap: REDCap data dictionary CSV; qdc: REFI-QDA codebook XML.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
def codebook_export(source: str, fmt: str, out: Path):
    """Write codebook SOURCE (a YAML file, shipped name or audit database) for REDCap or QDA tools."""
    cb = _codebook_from(source)
    if fmt == "redcap":
        from chartcode.codebook.redcap import codebook_to_redcap

        codebook_to_redcap(cb, out)
    else:
        from chartcode.codebook.qdc import codebook_to_qdc

        codebook_to_qdc(cb, out)
    click.echo(f"wrote {out} ({fmt}, {len(cb.fields)} fields)")


@codebook.command("diff")
@DB
@click.argument("file")
def codebook_diff(db: Path, file: str):
    """Show how codebook FILE differs from the codebook stored in DB."""
    from chartcode import resources
    from chartcode.codebook import load_codebook

    new = load_codebook(resources.resolve("codebooks", file))
    with _open(db) as store:
        changes = store.compare_codebook(new)
        if not changes:
            click.echo(f"{file}: same codebook as stored in {db} ({new.short_hash})")
            return
        for c in changes:
            click.echo(str(c))


@codebook.command("upgrade")
@DB
@click.argument("file")
@click.option("--yes", is_flag=True, help="Accept changes to wording that coders see.")
@click.option("--by", "actor", default="lead", show_default=True, help="Who makes the change (for the history).")
def codebook_upgrade(db: Path, file: str, yes: bool, actor: str):
    """Adopt codebook FILE as a new version, unless stored codes would change meaning."""
    from chartcode import resources
    from chartcode.codebook import load_codebook

    new = load_codebook(resources.resolve("codebooks", file))
    with _open(db) as store:
        changes = store.upgrade_codebook(new, actor=actor, accept_review=yes)
        if not changes:
            click.echo("no changes; nothing to do")
            return
        for c in changes:
            click.echo(str(c))
        click.echo(f"codebook upgraded to {new.id} {new.version} ({new.short_hash})")


# ---------------------------------------------------------------------------- coding screen
@cli.command("code")
@DB
@click.option("--coder", required=True, help="Who is coding (must be a coder of the audit).")
def code_cmd(db: Path, coder: str):
    """Open the coding screen on CODER's assigned records (keyboard only; ? shows the keys).

    Every change is saved the moment it is made; Ctrl+Q quits. Reopening returns to where
    you left off.
    """
    _run_tui(db, coder)


def _run_tui(db: Path, coder: str) -> None:
    if not sys.stdin.isatty() or not sys.stdout.isatty():
        raise UserError("the coding screen needs a terminal; use `chartcode import-codes` in scripts")
    from chartcode.tui.app import make_app

    app = make_app(db, coder)
    app.run()
    if app.return_code not in (None, 0):
        sys.exit(app.return_code)


# ---------------------------------------------------------------------------- demo
@cli.command()
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              default=Path("chartcode-demo"), show_default=True, help="Where to build demo.db.")
@click.option("--no-tui", is_flag=True, help="Only build the demo database; do not open the coding screen.")
@click.option("--complete", is_flag=True, help="Code all 24 records for the intern (for reports).")
def demo(directory: Path, no_tui: bool, complete: bool):
    """Build a demo audit: 24 fictional veterans' records, an intern and a supervisor."""
    from chartcode.demo import build_demo

    path = build_demo(directory, complete=complete, progress=lambda msg: click.echo(msg, err=True))
    click.echo(f"built {path}")
    if no_tui:
        click.echo(f"  chartcode code {path} --coder intern      # the coding screen")
        click.echo(f"  chartcode status {path}")
        click.echo(f"  chartcode codes {path} --coder intern")
        return
    _run_tui(path, "intern")


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
    except BrokenPipeError:
        return 0
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except Exception:  # a bug: say so, with the traceback for the report
        click.echo("chartcode: internal error (this is a bug; please report it with the lines below)", err=True)
        traceback.print_exc()
        return 1
    return rc if isinstance(rc, int) else 0


def main() -> None:
    sys.exit(run(sys.argv[1:]))
