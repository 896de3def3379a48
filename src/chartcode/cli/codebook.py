"""`chartcode codebook`: check, list, show, convert, diff and upgrade codebooks."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from chartcode.cli.common import DB, WAIT, _Group, _open
from chartcode.errors import UserError


@click.group(cls=_Group)
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
        click.echo(
            f"{ref}: ok - {cb.id} {cb.version}, {len(cb.fields)} fields"
            f" ({len(cb.record_fields)} record, {len(cb.note_fields)} note), hash {cb.short_hash}"
        )
        if cb.scale is not None:
            sc = cb.scale
            per = ", ".join(f"{s.label} {sum(1 for f in cb.items if f.section == s.id)}" for s in sc.sections)
            bands = "; ".join(
                f"{b.label} {'>= ' + format(b.min, 'g') if b.min is not None else 'below'}" for b in sc.bands
            )
            click.echo(
                f"  scale: {len(cb.items)} items ({per}), scored by {sc.scoring}"
                + (f", bands: {bands}" if bands else "")
                + (f", cannot rate = {sc.cannot_rate}" if sc.cannot_rate is not None else "")
            )
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
        click.echo(
            f"scale: scored by {sc.scoring}; "
            + "; ".join(f"{b.label} {'>= ' + format(b.min, 'g') if b.min is not None else 'below'}" for b in sc.bands)
        )
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
                click.echo(textwrap.fill(c.description, width=100, initial_indent=" " * 10, subsequent_indent=" " * 10))


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
    from chartcode.files import atomic_write_text

    try:
        atomic_write_text(out, text)
    except OSError as exc:
        raise UserError(f"{out}: cannot write ({exc.strerror or exc})") from None
    click.echo(f"wrote {out}: {len(cb.fields)} fields ({len(warnings)} warning{'' if len(warnings) == 1 else 's'})")


@codebook.command("import-qdc")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Codebook YAML to write.")
@click.option("--id", "codebook_id", help="Codebook id (default: from the file name).")
@click.option("--title", help="Codebook title.")
@click.option(
    "--level",
    type=click.Choice(["note", "record"]),
    default="note",
    show_default=True,
    help="Level of the yes/no fields made from another program's codes.",
)
def codebook_import_qdc(file: Path, out: Path, codebook_id, title, level: str):
    """Convert a REFI-QDA codebook (.qdc, or the codebook in a .qdpx project) into codebook YAML.

    \b
    A .qdc that chartcode wrote gives back its fields. A codebook from QualCoder,
    NVivo, MAXQDA, ATLAS.ti or Taguette gives one yes/no field per codable code,
    labelled with its path in the code tree; categories (non-codable codes) only group.
    """
    from chartcode.codebook.loader import load_codebook
    from chartcode.codebook.qdc import qdc_to_yaml
    from chartcode.files import atomic_write_text

    if out.exists():
        raise UserError(f"{out}: already exists; choose another --out")
    text, warnings = qdc_to_yaml(file, codebook_id=codebook_id, title=title, level=level)
    cb = load_codebook(out, text=text)
    for w in warnings:
        click.echo(f"warning: {w}", err=True)
    try:
        atomic_write_text(out, text)
    except OSError as exc:
        raise UserError(f"{out}: cannot write ({exc.strerror or exc})") from None
    click.echo(f"wrote {out}: {len(cb.fields)} fields")


@codebook.command("export")
@click.argument("source")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["redcap", "qdc"]),
    required=True,
    help="redcap: REDCap data dictionary CSV; qdc: REFI-QDA codebook XML.",
)
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
            click.echo(f"{file}: same codebook as stored in {store.path} ({new.short_hash})")
            return
        for c in changes:
            click.echo(str(c))


@codebook.command("upgrade")
@DB
@WAIT
@click.argument("file")
@click.option(
    "--yes",
    is_flag=True,
    help="Accept rewording that coders see (labels, required, ranges); never a change of what codes mean.",
)
@click.option(
    "--by",
    "actor",
    metavar="NAME",
    help="The supervisor or lead of the audit making the change, for the history "
    "(default: the audit's first lead, else its first supervisor).",
)
def codebook_upgrade(db: Path, file: str, yes: bool, actor: str | None):
    """Adopt codebook FILE as a new version, unless stored codes would change meaning.

    \b
    Refused always, with or without --yes (exit 2, nothing changed):
      a field removed, or its type or level changed; a code removed;
      ordinal codes put in another order; a code's label changed to another
      code's old label (a swap, a binary 0/1 flip, a permutation), its old
      label given to another code (or a new one), or a relabelled code moved
      in the list. Labels are compared ignoring case, punctuation and spacing.
    Accepted with --yes (review): a label reworded otherwise, required,
    range, note types or identifier changed; each line says how many stored
    codes it touches.
    Accepted as is: new codes and fields, decision rules, cue words, titles.
    To change what a code means, make a new field or a new audit.
    See codebooks/README.md, "Codebook versions".
    """
    from chartcode import resources
    from chartcode.codebook import load_codebook
    from chartcode.store import is_server

    new = load_codebook(resources.resolve("codebooks", file))
    with _open(db) as store:
        if actor is None and is_server(db):  # on a server the login upgrades (or is refused)
            actor = store.actor
        if actor is None:
            by_role = {r: [c["name"] for c in store.coders() if c["role"] == r] for r in ("lead", "supervisor")}
            actor = next(iter(by_role["lead"] + by_role["supervisor"]), None)
            if actor is None:
                raise UserError("no supervisor or lead in this audit; pass --by NAME")
        role = store.require_coder(actor)
        if role not in ("supervisor", "lead"):
            raise UserError(
                f"{actor!r} is a {role}; a codebook is upgraded by a supervisor or lead of the audit (pass --by NAME)"
            )
        changes = store.upgrade_codebook(new, actor=actor, accept_review=yes)
        if not changes:
            click.echo("no changes; nothing to do")
            return
        for c in changes:
            click.echo(str(c))
        click.echo(f"codebook upgraded to {new.id} {new.version} ({new.short_hash}) by {actor}")
