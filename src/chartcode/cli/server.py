"""`chartcode server init`: set up an audit on a team server (PostgreSQL), and the server side of
`chartcode coders add`. Run by an administrator; coders then connect with their own login."""

from __future__ import annotations

import getpass
from pathlib import Path

import click

from chartcode.cli.common import _Group
from chartcode.errors import UserError


@click.group(cls=_Group)
def server() -> None:
    """Set up a team audit on a PostgreSQL server (one login per person, blinding enforced there)."""


@server.command("init")
@click.argument("url")
@click.option("--audit", "audit_ref", help="Audit definition: a YAML file or a shipped name (e.g. conjoint-pain).")
@click.option("--codebook", "codebook_ref", help="Codebook YAML file or shipped name, when there is no audit file.")
@click.option("--title", help="Audit title (default: from the audit file or codebook).")
def init(url: str, audit_ref: str | None, codebook_ref: str | None, title: str | None):
    """Create the audit in the database URL names (created if missing), as an administrator.

    Creates the schema, the owner role nobody logs in as, the groups <db>_coder, <db>_supervisor
    and <db>_lead, and the policies. Then add people with `chartcode coders add URL NAME --role ROLE`.
    """
    from chartcode import resources
    from chartcode.audit import load_audit
    from chartcode.codebook import load_codebook
    from chartcode.store import is_server
    from chartcode.store.pg import admin, redacted

    if not is_server(url):
        raise UserError(f"{url}: not a PostgreSQL URL (postgresql://[user@]host[:port]/dbname)")
    if bool(audit_ref) == bool(codebook_ref):
        raise UserError("give exactly one of --audit FILE or --codebook FILE")
    if audit_ref:
        audit = load_audit(audit_ref)
        roles = admin.init_server(url, audit.codebook, title=title, audit=audit.as_dict(), audit_source=audit.source)
        cb = audit.codebook
    else:
        assert codebook_ref is not None
        cb = load_codebook(resources.resolve("codebooks", codebook_ref))
        roles = admin.init_server(url, cb, title=title)
    click.echo(
        f"created the audit at {redacted(url)} with codebook {cb.id} {cb.version} ({cb.short_hash});"
        f" groups {', '.join(roles.groups)}; add people with `chartcode coders add URL NAME --role coder`"
    )


def add_server_coder(url: str, name: str, role: str, password_file: Path | None) -> None:
    from chartcode.store.pg import admin

    if password_file is not None:
        lines = password_file.read_text(encoding="utf-8").splitlines()
        password = lines[0] if lines else ""
    else:
        password = getpass.getpass(f"password for {name}: ")
        if password != getpass.getpass(f"again, password for {name}: "):
            raise UserError("the two passwords differ; nothing changed")
    if len(password) < 8:
        raise UserError(f"{password_file or 'password'}: at least 8 characters; nothing changed")
    added = admin.add_coder(url, name, role, password)
    click.echo(f"added {name} ({role}) as a login role" if added else f"{name} is already a {role}; password set")
