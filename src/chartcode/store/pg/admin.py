"""What an administrator does on the team server: create an audit's schema, roles and policies
(``chartcode server init``), add a person's login role, disable it. Runs as a role that may create
roles (a superuser, or one with CREATEROLE that is made a member of the audit's owner role)."""

from __future__ import annotations

import json
import secrets
from typing import Any

import psycopg
from psycopg import sql

from chartcode.codebook import Codebook
from chartcode.errors import UserError
from chartcode.store.pg import connect as pgconnect
from chartcode.store.pg import schema
from chartcode.store.store import ROLES, utcnow


def _exists(conn: psycopg.Connection[Any], role: str) -> bool:
    return conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone() is not None


def _open_or_create_database(url: str) -> psycopg.Connection[Any]:
    try:
        return psycopg.connect(url, connect_timeout=10, autocommit=True)
    except psycopg.OperationalError as exc:
        if "does not exist" not in str(exc) or "database" not in str(exc):
            raise UserError(f"{pgconnect.redacted(url)}: {pgconnect.explain(exc)}") from None
    name = pgconnect.dbname(url)
    with pgconnect.connect(url, dbname="postgres", autocommit=True) as maint:
        maint.execute(sql.SQL("CREATE DATABASE {} ENCODING 'UTF8'").format(sql.Identifier(name)))
    return pgconnect.connect(url, autocommit=True)


def init_server(
    url: str,
    codebook: Codebook,
    *,
    title: str | None = None,
    audit: dict[str, Any] | None = None,
    audit_source: str | None = None,
    empty: bool = False,
) -> schema.Roles:
    """Create the audit in the URL's database (created if missing): roles, schema, policies, codebook.
    ``empty``: only the roles, schema and policies, for an audit about to be copied in (migrate)."""
    shown = pgconnect.redacted(url)
    with _open_or_create_database(url) as conn:
        dbname = conn.info.dbname
        if len(dbname) > 48:
            raise UserError(f"{shown}: database name longer than 48 characters (role names derive from it)")
        if conn.execute("SELECT to_regnamespace('chartcode') IS NOT NULL").fetchone() == (True,):
            raise UserError(f"{shown}: already holds a chartcode audit; nothing changed")
        me = conn.execute("SELECT current_user, rolsuper, rolcreaterole FROM pg_roles WHERE rolname = current_user")
        row = me.fetchone()
        if row is None or not (row[1] or row[2]):
            raise UserError(
                f"{shown}: role {row[0] if row else '?'} may not create roles; run this as an administrator"
            )
        roles = schema.Roles.for_database(dbname)
        with conn.transaction():
            for role in (roles.owner, *roles.groups):
                if not _exists(conn, role):
                    conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(role)))
            if not row[1]:
                conn.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(sql.Identifier(roles.owner)))
            for statement in schema.install_statements(roles, dbname):
                conn.execute(statement)
            now = utcnow()
            meta = {
                "app": "chartcode",
                "created_at": now,
                "title": title or (audit or {}).get("title") or codebook.title,
                "audit_id": (audit or {}).get("id") or codebook.id,
                "audit_yaml": audit_source or "",
                "audit_json": json.dumps(audit or {}, sort_keys=True, default=str),
                "deid_salt": secrets.token_hex(16),
                "roles": json.dumps(roles.__dict__),
            }
            if empty:
                conn.execute("INSERT INTO chartcode.meta(key, value) VALUES ('roles', %s)", [meta["roles"]])
                return roles
            for key, value in meta.items():
                conn.execute("INSERT INTO chartcode.meta(key, value) VALUES (%s, %s)", [key, value])
            conn.execute(
                "SELECT chartcode.add_codebook(%s, %s, %s, %s, %s, %s, %s)",
                [
                    codebook.hash,
                    codebook.id,
                    codebook.version,
                    codebook.title,
                    codebook.source,
                    codebook.canonical_json(),
                    f"audit created with codebook {codebook.id} {codebook.version}",
                ],
            )
    return roles


def drop_audit(url: str) -> None:
    """Remove a half-made audit (a migration that did not check out): its schema, not its roles."""
    with pgconnect.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS chartcode CASCADE")


def _roles(conn: psycopg.Connection[Any], shown: str) -> schema.Roles:
    try:
        row = conn.execute("SELECT value FROM chartcode.meta WHERE key = 'roles'").fetchone()
    except psycopg.errors.UndefinedTable:
        raise UserError(f"{shown}: no chartcode audit in this database (run `chartcode server init`)") from None
    except psycopg.errors.InsufficientPrivilege:
        raise UserError(f"{shown}: only an administrator adds or removes coders") from None
    if row is None:
        raise UserError(f"{shown}: no chartcode audit in this database (run `chartcode server init`)")
    return schema.Roles(**json.loads(row[0]))


def _check_name(name: str) -> None:
    if not name or len(name) > 63 or any(not (c.isalnum() or c in "_-.") for c in name):
        raise UserError(f"coder name {name!r}: 1-63 letters, digits, '_', '-' or '.' (it is a login role name)")


def add_coder(url: str, name: str, role: str, password: str | None) -> bool:
    """Create (or reuse) the login role ``name`` and make it a ``role`` of this audit; False if it already was."""
    _check_name(name)
    if role not in ROLES:
        raise UserError(f"coder {name!r}: role {role!r} must be one of: {', '.join(ROLES)}")
    shown = pgconnect.redacted(url)
    with pgconnect.connect(url, autocommit=True) as conn:
        roles = _roles(conn, shown)
        if name in (roles.owner, *roles.groups):
            raise UserError(f"{name!r} is one of the audit's own roles, not a person")
        existing = conn.execute("SELECT role, active FROM chartcode.coders WHERE name = %s", [name]).fetchone()
        if existing and existing[0] != role:
            raise UserError(f"coder {name!r} already exists with role {existing[0]}")
        with conn.transaction():
            ident = sql.Identifier(name)
            if not _exists(conn, name):
                conn.execute(sql.SQL("CREATE ROLE {} LOGIN NOINHERIT").format(ident))
            else:
                conn.execute(sql.SQL("ALTER ROLE {} LOGIN").format(ident))
            if password is not None:
                # Sent as a SCRAM verifier computed here (libpq's PQencryptPasswordConn), never as the password.
                verifier = conn.pgconn.encrypt_password(password.encode(), name.encode(), b"scram-sha-256")
                conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(ident, sql.Literal(verifier.decode())))
            conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(roles.group(role)), ident))
            conn.execute(sql.SQL("ALTER ROLE {} INHERIT").format(ident))
            if existing and existing[1]:
                return False
            if existing:
                conn.execute("UPDATE chartcode.coders SET active = true WHERE name = %s", [name])
            else:
                conn.execute(
                    "INSERT INTO chartcode.coders(name, role, added_at) VALUES (%s, %s, %s)", [name, role, utcnow()]
                )
            conn.execute(
                "SELECT chartcode.append_history('add_coder', %s, NULL, NULL, NULL, NULL, %s, NULL)",
                [name, psycopg.types.json.Jsonb(role)],
            )
    return True


def remove_coder(url: str, name: str) -> None:
    """Take ``name`` out of this audit: no login to it any more (its group membership is revoked), its codes
    and history kept."""
    shown = pgconnect.redacted(url)
    with pgconnect.connect(url, autocommit=True) as conn:
        roles = _roles(conn, shown)
        row = conn.execute("SELECT role, active FROM chartcode.coders WHERE name = %s", [name]).fetchone()
        if row is None or not row[1]:
            raise UserError(f"coder {name!r} is not an active coder of this audit")
        with conn.transaction():
            conn.execute(sql.SQL("REVOKE {} FROM {}").format(sql.Identifier(roles.group(row[0])), sql.Identifier(name)))
            conn.execute("UPDATE chartcode.coders SET active = false WHERE name = %s", [name])
            conn.execute(
                "SELECT chartcode.append_history('remove_coder', %s, NULL, NULL, NULL, %s, NULL, NULL)",
                [name, psycopg.types.json.Jsonb(row[0])],
            )
