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
        bar = state.pop("bar", None)
        if bar is not None:
            bar.__exit__(None, None, None)

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
            def phase(message: str) -> None:
                if update is not None:  # on a terminal: close the bar, say what is happening now
                    finish()
                    click.echo(f"{message}...", err=True)

            result = import_notes(store, source, fmt=fmt, mapping=parse_mapping(mapping), encoding=encoding,
                                  date_format=date_format, pattern=pattern, progress=update, on_phase=phase)
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


AS_VIEWER = click.option(
    "--as", "viewer", metavar="NAME",
    help="Who is looking. Coders see their own codes, and others' only on records every assigned coder"
         " has submitted; a lead sees everything. Without --as, the same blinding as for a coder applies.")


@cli.command("codes")
@DB
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option("--coder", help="Only this coder's codes.")
@click.option("--record", "record_id", help="Only this record.")
@AS_VIEWER
def codes_cmd(db: Path, fmt: str, coder: str | None, record_id: str | None, viewer: str | None):
    """List current codes: coder, record_id, note_id, field, value, label, updated_at.

    Blind: codes on a record stay hidden from other coders until every coder assigned to
    it has submitted it (the count of hidden codes goes to stderr).
    """
    from chartcode.consensus import hidden_count, visible_codes

    with _open(db) as store:
        if coder:
            store.require_coder(coder)
        rows = list(visible_codes(store, viewer, coder=coder, record_id=record_id))
        hidden = hidden_count(store, viewer)
        if hidden:
            click.echo(f"({hidden} codes hidden: blind until every coder of their record has submitted it)",
                       err=True)
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
@AS_VIEWER
def history(db: Path, coder, record_id, limit, as_json, viewer):
    """The append-only history: who changed what, when (UTC), old -> new, and why.

    Blind like `codes`: values of a coder's changes on a record not yet submitted by every
    coder show as "(blind)" unless you are that coder or a lead.
    """
    from chartcode.consensus import viewer_is_lead

    with _open(db) as store:
        rows = store.history(coder=coder, record_id=record_id, limit=limit)
        if not viewer_is_lead(store, viewer):
            open_records = {r[0] for r in store.db.execute(
                "SELECT DISTINCT record_id FROM assignments WHERE submitted_at IS NULL")}
            for h in rows:
                if h["coder"] and h["coder"] != viewer and h["record_id"] in open_records and h["field"]:
                    h["old_value"] = h["new_value"] = "(blind)" if h["old_value"] or h["new_value"] else None
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
        if cb.scale is not None:
            sc = cb.scale
            per = ", ".join(f"{s.label} {sum(1 for f in cb.items if f.section == s.id)}" for s in sc.sections)
            bands = "; ".join(f"{b.label} {'>= ' + format(b.min, 'g') if b.min is not None else 'below'}"
                              for b in sc.bands)
            click.echo(f"  scale: {len(cb.items)} items ({per}), scored by {sc.scoring}"
                       + (f", bands: {bands}" if bands else "")
                       + (f", cannot rate = {sc.cannot_rate}" if sc.cannot_rate is not None else ""))
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
    import textwrap

    cb = _codebook_from(source)
    click.echo(f"{cb.id} {cb.version} - {cb.title} ({cb.short_hash})")
    sections = {}
    if cb.scale is not None:
        sc = cb.scale
        click.echo(f"scale: scored by {sc.scoring}; " + "; ".join(
            f"{b.label} {'>= ' + format(b.min, 'g') if b.min is not None else 'below'}" for b in sc.bands))
        sections = {s.id: s.label for s in sc.sections}
    current = None
    for f in cb.fields:
        if f.section and f.section != current:
            current = f.section
            click.echo(f"-- {sections.get(f.section, f.section)}")
        req = "*" if f.required else " "
        extra = f"  (target {f.target:g})" if f.target is not None else ""
        click.echo(f"{req} {f.name:<24} {f.level:<6} {f.type:<8} {f.label}{extra}")
        for c in f.choices:
            click.echo(f"      {c.code} = {c.label}")
            if c.description:  # a scale's anchor: what the rating point looks like
                click.echo(textwrap.fill(c.description, width=100, initial_indent=" " * 10,
                                         subsequent_indent=" " * 10))


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


# ---------------------------------------------------------------------------- double-coding
@cli.command()
@DB
@click.option("--coder", help="Who gets the records (default: the audit file's double_coding.coder).")
@click.option("--all", "all_records", is_flag=True, help="Assign every record (or every record of --from).")
@click.option("--sample", "fraction", type=float, help="Assign a random FRACTION of the records, e.g. 0.25.")
@click.option("--n", "n", type=int, help="Assign a random sample of N records.")
@click.option("--seed", type=int, help="Random seed: the same seed draws the same records.")
@click.option("--from", "from_coder", help="Sample from the records assigned to this coder.")
@click.option("--stratify", help="Stratify the sample by the --from coder's submitted value of this record field.")
@click.option("--by", "actor", default="lead", show_default=True, help="Who makes the assignment (history).")
def assign(db: Path, coder, all_records, fraction, n, seed, from_coder, stratify, actor):
    """Assign records to a coder: all of them, or a reproducible random sample for double-coding.

    \b
    chartcode assign audit.db --coder intern --all
    chartcode assign audit.db --coder supervisor --n 6 --seed 20240601 --from intern
    chartcode assign audit.db          # the sample declared under double_coding: in the audit file
    """
    from chartcode.sampling import draw, population

    with _open(db) as store:
        spec = store.audit.get("double_coding") or {}
        if not (all_records or fraction is not None or n is not None):
            if not spec:
                raise UserError("say what to assign: --all, --n N or --sample FRACTION (or declare"
                                " double_coding: in the audit file)")
            coder = coder or spec.get("coder")
            from_coder = from_coder or spec.get("from")
            n = spec.get("n")
            fraction = spec.get("fraction") if n is None else None
            seed = seed if seed is not None else spec.get("seed")
            stratify = stratify or spec.get("stratify")
        if not coder:
            raise UserError("--coder is required")
        store.require_coder(coder)
        if all_records:
            ids = population(store, from_coder)
            how = f"all {len(ids)} records" + (f" of {from_coder}" if from_coder else "")
        else:
            sample = draw(store, n=n, fraction=fraction, seed=seed, from_coder=from_coder, stratify=stratify)
            ids, how = sample.record_ids, sample.description
        new = store.assign(coder, ids, actor=actor, source=how)
        click.echo(f"assigned {new} new records to {coder} ({len(ids) - new} already assigned): {how}")
        if not all_records:
            click.echo("  " + " ".join(ids))


@cli.command()
@DB
@click.option("--json", "as_json", is_flag=True)
@click.option("--all", "include_settled", is_flag=True, help="Also those already settled by consensus.")
def disagreements(db: Path, as_json: bool, include_settled: bool):
    """Units where coders gave different values (only records every coder has submitted)."""
    from chartcode.consensus import disagreements as find

    with _open(db) as store:
        cb = store.codebook
        found = find(store, open_only=not include_settled)
        rows = [{"record_id": u.record_id, "note_id": u.note_id, "field": u.field,
                 "values": {c: {"value": v, "label": cb.field(u.field).label_for(v), "memo": u.memos.get(c)}
                            for c, v in u.values.items()},
                 "consensus": u.consensus, "reason": u.consensus_reason} for u in found]
        if as_json:
            click.echo(json.dumps({"disagreements": rows}, indent=1))
            return
        if not rows:
            click.echo("no open disagreements")
        for r in rows:
            where = r["record_id"] + (f" / {r['note_id']}" if r["note_id"] else "")
            vals = "; ".join(f"{c}: {v['value']} {v['label']}".rstrip() for c, v in r["values"].items())
            click.echo(f"{where:<24} {r['field']:<22} {vals}")


@cli.command()
@DB
@click.option("--auto-agreed", is_flag=True, help="Fill consensus wherever every coder gave the same value.")
@click.option("--record", "record_id", help="Set one consensus value: the record ...")
@click.option("--note", "note_id", help="... the note (note-level fields) ...")
@click.option("--field", "field_name", help="... the field ...")
@click.option("--value", help="... the value ...")
@click.option("--reason", help="... and why (required).")
@click.option("--by", "decided_by", help="Supervisor or lead deciding (default: the audit's first supervisor).")
def consensus(db: Path, auto_agreed: bool, record_id, note_id, field_name, value, reason, decided_by):
    """Record consensus values, apart from the coders' codes, with history."""
    from chartcode.consensus import auto_agreed as fill

    with _open(db) as store:
        if decided_by is None:
            decided_by = next((c["name"] for c in store.coders() if c["role"] in ("supervisor", "lead")), None)
            if decided_by is None:
                raise UserError("no supervisor or lead in this audit; pass --by NAME")
        if auto_agreed:
            click.echo(f"{fill(store, decided_by)} consensus values filled where all coders agreed")
            return
        if not (record_id and field_name and value is not None):
            raise UserError("give --auto-agreed, or --record, --field, --value and --reason")
        change = store.set_consensus(record_id, field_name, value, note_id=note_id, reason=reason or "",
                                     decided_by=decided_by)
        click.echo("saved" if change.changed else "unchanged")


@cli.command("final")
@DB
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
def final_cmd(db: Path, fmt: str):
    """The value each unit contributes to analyses: consensus, else the coders' shared value.

    The `source` column says which: consensus, single (one coder), agreed (all coders gave
    it), unresolved (coders disagree and no consensus yet: no value).
    """
    from chartcode.consensus import final_values

    with _open(db) as store:
        rows = list(final_values(store))
        cols = ["record_id", "note_id", "field", "value", "label", "source", "n_coders"]
        if fmt == "json":
            click.echo(json.dumps(rows, indent=1))
            return
        out = csv.writer(sys.stdout, lineterminator="\n")
        out.writerow(cols)
        for r in rows:
            out.writerow(["" if r[c] is None else (_safe_cell(r[c]) if c == "label" else r[c]) for c in cols])


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


@cli.command()
@DB
@click.option("--coder", required=True, help="The supervisor (or lead) deciding consensus.")
def reconcile(db: Path, coder: str):
    """Open the reconcile screen: settle disagreements into consensus values, by keys.

    a/b/... takes a coder's value, a digit takes another choice; a reason is always asked
    for. Only records every assigned coder has submitted appear (blinding).
    """
    _run_tui(db, coder, mode="reconcile")


@cli.command()
@DB
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
            raise UserError(f"{db}: codebook {cb.id} is not a rating scale (it has no 'scale' block with scored"
                            " items); `chartcode rate` needs an audit made from a scale codebook such as"
                            " ips-fidelity")
        store.require_coder(rater)
        if not sys.stdin.isatty() or not sys.stdout.isatty():
            raise UserError("the rating screen needs a terminal; use `chartcode import-codes` in scripts")
        record_id = store.add_unit_period(unit, period, actor=rater)
        store.assign(rater, [record_id], actor=rater, source="rate")
    _run_tui(db, rater, mode="rate", record_id=record_id)


def _run_tui(db: Path, coder: str, mode: str = "code", **kwargs) -> None:
    if not sys.stdin.isatty() or not sys.stdout.isatty():
        raise UserError("the coding screen needs a terminal; use `chartcode import-codes` in scripts")
    from chartcode.tui.app import make_app

    app = make_app(db, coder, mode=mode, **kwargs)
    app.run()
    if app.return_code not in (None, 0):
        sys.exit(app.return_code)


# ---------------------------------------------------------------------------- demo
@cli.command()
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              default=Path("chartcode-demo"), show_default=True, help="Where to build demo.db.")
@click.option("--no-tui", is_flag=True, help="Only build the demo database; do not open the coding screen.")
@click.option("--complete", is_flag=True, help="Code all 24 records for the intern (for reports).")
@click.option("--audit", "audit_name", type=click.Choice(["conjoint-pain", "ibbis-fidelity"]),
              default="conjoint-pain", show_default=True,
              help="Which demo: chart coding (conjoint-pain) or team fidelity ratings (ibbis-fidelity, "
                   "builds ibbis-demo.db and never opens the coding screen).")
def demo(directory: Path, no_tui: bool, complete: bool, audit_name: str):
    """Build a demo audit: 24 fictional veterans' records, an intern and a supervisor.

    With --audit ibbis-fidelity: three fictional teams rated in two review periods on an
    integrated-care fidelity scale by two reviewers, with the lead reviewer's consensus.
    """
    if audit_name == "ibbis-fidelity":
        from chartcode.demo_fidelity import build_fidelity_demo

        path = build_fidelity_demo(directory, progress=lambda msg: click.echo(msg, err=True))
        click.echo(f"built {path}")
        click.echo(f"  chartcode fidelity {path}      # scores, bands and the action list")
        click.echo(f"  chartcode report {path} --out fidelity.html")
        click.echo(f'  chartcode rate {path} --unit "Team North" --period 2025-H2 --rater reviewer-a')
        return
    from chartcode.demo import build_demo

    path = build_demo(directory, complete=complete, progress=lambda msg: click.echo(msg, err=True))
    click.echo(f"built {path}")
    if no_tui:
        click.echo(f"  chartcode code {path} --coder intern      # the coding screen")
        click.echo(f"  chartcode status {path}")
        click.echo(f"  chartcode codes {path} --coder intern")
        return
    _run_tui(path, "intern")


from chartcode.cli_agreement import agreement  # noqa: E402  (commands in modules of their own)
from chartcode.cli_export import export  # noqa: E402
from chartcode.cli_fidelity import fidelity  # noqa: E402
from chartcode.cli_report import report  # noqa: E402
from chartcode.cli_stats import stats  # noqa: E402
from chartcode.cli_reviews import reviews  # noqa: E402

cli.add_command(agreement)
cli.add_command(stats)
cli.add_command(reviews)
cli.add_command(export)
cli.add_command(report)
cli.add_command(fidelity)


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
