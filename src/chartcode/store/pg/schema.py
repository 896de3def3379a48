"""The team-server schema on PostgreSQL: tables owned by a role nobody logs in as, persons in group
roles with no write privilege on any table, writes through SECURITY DEFINER functions that stamp
the actor (``session_user``) and the time (``now()``), reads of codes and history through
security-barrier views that apply the blinding rule for ``current_user``.

Roles, per database (two audits on one server never share a group):

    <db>_owner       NOLOGIN, owns the schema, tables, views and functions
    <db>_coder       group of coders       \
    <db>_supervisor  group of supervisors   > SELECT on the views and shared tables, EXECUTE on the functions
    <db>_lead        group of leads        /

The blinding rule (as chartcode.store.visibility, with issue 11's clause on the viewer): a code of
coder C on record R is returned to viewer V when V is C, or V is a lead (or the administrator), or
the code was submitted, V is assigned to R and has submitted it, and every coder assigned to R has
submitted R.

The history is hash-chained: hash = sha256_hex(previous hash || the entry as jsonb text), the first
entry chained from 64 zeros. jsonb's text form is deterministic, so :data:`VERIFY_SQL` recomputes
the chain with nothing but SQL. Migrations are ordered, recorded steps (``migrations`` table);
a database whose schema is newer than this code is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql

SCHEMA = "chartcode"
VERSION = 1


@dataclass(frozen=True)
class Roles:
    owner: str
    coder: str
    supervisor: str
    lead: str

    @classmethod
    def for_database(cls, dbname: str) -> Roles:
        return cls(f"{dbname}_owner", f"{dbname}_coder", f"{dbname}_supervisor", f"{dbname}_lead")

    def group(self, role: str) -> str:
        return {"coder": self.coder, "supervisor": self.supervisor, "lead": self.lead}[role]

    @property
    def groups(self) -> tuple[str, str, str]:
        return (self.coder, self.supervisor, self.lead)


def visible(viewer: str, table: str = "c", lead: str = "chartcode.is_lead({viewer})") -> str:
    """SQL: the code row ``table`` may be shown to ``viewer`` (an SQL expression naming a role)."""
    who = lead.format(viewer=viewer)
    return (
        f"({table}.coder = {viewer} OR {who} OR ({table}.submitted_at IS NOT NULL"
        f" AND EXISTS (SELECT 1 FROM chartcode.assignments va WHERE va.record_id = {table}.record_id"
        f" AND va.coder = {viewer} AND va.submitted_at IS NOT NULL)"
        f" AND NOT EXISTS (SELECT 1 FROM chartcode.assignments oa WHERE oa.record_id = {table}.record_id"
        " AND oa.submitted_at IS NULL)))"
    )


TABLES = """
CREATE TABLE chartcode.meta (key text PRIMARY KEY, value text);
CREATE TABLE chartcode.migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE chartcode.codebooks (
    hash text PRIMARY KEY, codebook_id text NOT NULL, version text NOT NULL, title text NOT NULL,
    source_yaml text NOT NULL, canonical_json text NOT NULL, added_at text NOT NULL,
    active boolean NOT NULL DEFAULT false);
CREATE UNIQUE INDEX codebooks_one_active ON chartcode.codebooks(active) WHERE active;
CREATE TABLE chartcode.coders (
    name text PRIMARY KEY, role text NOT NULL CHECK (role IN ('coder', 'supervisor', 'lead')),
    added_at text NOT NULL, active boolean NOT NULL DEFAULT true);
CREATE TABLE chartcode.imports (
    id bigserial PRIMARY KEY, at text NOT NULL, actor text, kind text NOT NULL, file_name text NOT NULL,
    file_sha256 text, rows_read integer NOT NULL DEFAULT 0, rows_new integer NOT NULL DEFAULT 0,
    rows_unchanged integer NOT NULL DEFAULT 0);
CREATE TABLE chartcode.records (
    id text PRIMARY KEY CHECK (length(id) > 0), added_at text NOT NULL,
    import_id bigint REFERENCES chartcode.imports(id), unit text, period text);
CREATE TEXT SEARCH DICTIONARY chartcode.stem (TEMPLATE = snowball, LANGUAGE = porter);
CREATE TEXT SEARCH CONFIGURATION chartcode.notes (COPY = pg_catalog.simple);
ALTER TEXT SEARCH CONFIGURATION chartcode.notes
    ALTER MAPPING FOR asciiword, word, numword, asciihword, hword, numhword, hword_part, hword_asciipart,
    hword_numpart WITH chartcode.stem;
CREATE TABLE chartcode.notes (
    id bigserial PRIMARY KEY, note_id text NOT NULL UNIQUE CHECK (length(note_id) > 0),
    record_id text NOT NULL REFERENCES chartcode.records(id), note_date text, note_type text, author text,
    text text NOT NULL, content_sha text NOT NULL, import_id bigint REFERENCES chartcode.imports(id),
    source_line integer,
    tsv tsvector GENERATED ALWAYS AS (to_tsvector('chartcode.notes'::regconfig,
        regexp_replace(text, '[^[:alnum:]]+', ' ', 'g'))) STORED);
CREATE INDEX notes_by_record ON chartcode.notes(record_id, note_date, id);
CREATE INDEX notes_fts ON chartcode.notes USING gin(tsv);
CREATE TABLE chartcode.assignments (
    coder text NOT NULL REFERENCES chartcode.coders(name), record_id text NOT NULL REFERENCES chartcode.records(id),
    assigned_at text NOT NULL, source text NOT NULL DEFAULT 'manual',
    status text NOT NULL DEFAULT 'not_started' CHECK (status IN ('not_started', 'in_progress', 'done')),
    submitted_at text, flagged boolean NOT NULL DEFAULT false, flag_comment text, PRIMARY KEY (coder, record_id));
CREATE INDEX assignments_by_record ON chartcode.assignments(record_id);
CREATE TABLE chartcode.codes (
    id bigserial PRIMARY KEY, coder text NOT NULL REFERENCES chartcode.coders(name),
    record_id text NOT NULL REFERENCES chartcode.records(id), note_key text NOT NULL DEFAULT '',
    field text NOT NULL, value jsonb, memo text, submitted_value jsonb, submitted_at text,
    codebook_hash text NOT NULL REFERENCES chartcode.codebooks(hash), updated_at text NOT NULL,
    version integer NOT NULL DEFAULT 1, UNIQUE (coder, record_id, note_key, field));
CREATE INDEX codes_by_record ON chartcode.codes(record_id, note_key, field);
CREATE TABLE chartcode.consensus (
    id bigserial PRIMARY KEY, record_id text NOT NULL REFERENCES chartcode.records(id),
    note_key text NOT NULL DEFAULT '', field text NOT NULL, value jsonb, reason text NOT NULL,
    decided_by text NOT NULL, decided_at text NOT NULL,
    codebook_hash text NOT NULL REFERENCES chartcode.codebooks(hash), UNIQUE (record_id, note_key, field));
CREATE TABLE chartcode.history (
    id bigint PRIMARY KEY, at text NOT NULL, actor text NOT NULL, action text NOT NULL, coder text,
    record_id text, note_id text, field text, old_value jsonb, new_value jsonb, reason text,
    codebook_hash text, hash text NOT NULL CHECK (length(hash) = 64));
CREATE INDEX history_by_coder ON chartcode.history(coder, id);
CREATE INDEX history_by_record ON chartcode.history(record_id, id);
CREATE TABLE chartcode.chain_head (
    one boolean PRIMARY KEY DEFAULT true CHECK (one), last_id bigint NOT NULL, hash text NOT NULL);
INSERT INTO chartcode.chain_head VALUES (true, 0, repeat('0', 64));
-- Writes sent with a request key (the coding screens' writer, which sends a write again after a lost
-- connection): each key is applied once; its result (json: the columns in their order) is kept for a
-- week for the sender to read back.
CREATE TABLE chartcode.requests (
    coder text NOT NULL, key text NOT NULL, result json, at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (coder, key));
CREATE INDEX requests_by_age ON chartcode.requests(coder, at);
CREATE TABLE chartcode.positions (
    coder text PRIMARY KEY REFERENCES chartcode.coders(name), record_id text, note_id text, field text,
    updated_at text NOT NULL);

CREATE FUNCTION chartcode.refuse_history_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'history is append-only: rows cannot be changed or deleted' USING ERRCODE = '42501';
END $$;
CREATE TRIGGER history_is_append_only BEFORE UPDATE OR DELETE ON chartcode.history
    FOR EACH ROW EXECUTE FUNCTION chartcode.refuse_history_change();
CREATE TRIGGER history_no_truncate BEFORE TRUNCATE ON chartcode.history
    FOR EACH STATEMENT EXECUTE FUNCTION chartcode.refuse_history_change();
"""

# {owner}: the owner role's name as a string literal (for pg_has_role).
FUNCTIONS = """
CREATE FUNCTION chartcode.utc(t timestamptz) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') $$;

CREATE FUNCTION chartcode.is_admin(viewer name) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT pg_has_role(viewer, {owner}, 'MEMBER') $$;

CREATE FUNCTION chartcode.is_lead(viewer name) RETURNS boolean LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = chartcode, pg_temp AS $$
    SELECT chartcode.is_admin(viewer)
        OR EXISTS (SELECT 1 FROM chartcode.coders WHERE name = viewer AND role = 'lead' AND active) $$;

-- The acting person's role in this audit; refuses a login that is not an active coder here.
CREATE FUNCTION chartcode.actor_role() RETURNS text LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = chartcode, pg_temp AS $$
DECLARE r text;
BEGIN
    IF chartcode.is_admin(session_user) THEN RETURN 'admin'; END IF;
    SELECT role INTO r FROM chartcode.coders WHERE name = session_user AND active;
    IF r IS NULL THEN
        RAISE EXCEPTION 'role % is not an active coder of this audit', session_user USING ERRCODE = '42501';
    END IF;
    RETURN r;
END $$;

CREATE FUNCTION chartcode.require_role(VARIADIC allowed text[]) RETURNS text LANGUAGE plpgsql STABLE
SECURITY DEFINER SET search_path = chartcode, pg_temp AS $$
DECLARE r text := chartcode.actor_role();
BEGIN
    IF r <> 'admin' AND NOT r = ANY(allowed) THEN
        RAISE EXCEPTION '% is a %; this needs a %', session_user, r, array_to_string(allowed, ' or ')
            USING ERRCODE = '42501';
    END IF;
    RETURN r;
END $$;

CREATE FUNCTION chartcode.append_history(
    p_action text, p_coder text, p_record text, p_note text, p_field text, p_old jsonb, p_new jsonb,
    p_reason text) RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = chartcode, pg_temp AS $$
DECLARE head chartcode.chain_head; v_id bigint; v_body jsonb; v_hash text;
BEGIN
    SELECT * INTO head FROM chartcode.chain_head FOR UPDATE;
    v_id := head.last_id + 1;
    v_body := jsonb_build_object('id', v_id, 'at', chartcode.utc(now()), 'actor', session_user::text,
        'action', p_action, 'coder', p_coder, 'record_id', p_record, 'note_id', nullif(p_note, ''),
        'field', p_field, 'old_value', p_old, 'new_value', p_new, 'reason', p_reason,
        'codebook_hash', (SELECT hash FROM chartcode.codebooks WHERE active));
    v_hash := encode(sha256(convert_to(head.hash || v_body::text, 'UTF8')), 'hex');
    INSERT INTO chartcode.history(id, at, actor, action, coder, record_id, note_id, field, old_value, new_value,
        reason, codebook_hash, hash)
    SELECT v_id, v_body->>'at', v_body->>'actor', p_action, p_coder, p_record, nullif(p_note, ''), p_field,
        p_old, p_new, p_reason, v_body->>'codebook_hash', v_hash;
    UPDATE chartcode.chain_head SET last_id = v_id, hash = v_hash;
    RETURN v_id;
END $$;

CREATE FUNCTION chartcode.check_target(p_record text, p_note text) RETURNS void LANGUAGE plpgsql STABLE
SECURITY DEFINER SET search_path = chartcode, pg_temp AS $$
DECLARE owner_record text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM chartcode.records WHERE id = p_record) THEN
        RAISE EXCEPTION 'unknown record %', p_record USING ERRCODE = '22023';
    END IF;
    IF p_note <> '' THEN
        SELECT record_id INTO owner_record FROM chartcode.notes WHERE note_id = p_note;
        IF owner_record IS NULL THEN RAISE EXCEPTION 'unknown note %', p_note USING ERRCODE = '22023'; END IF;
        IF owner_record <> p_record THEN
            RAISE EXCEPTION 'note % belongs to record %, not %', p_note, owner_record, p_record
                USING ERRCODE = '22023';
        END IF;
    END IF;
END $$;

-- A stale change: the code is no longer at the version the change was made against.
-- SQLSTATE CC409; DETAIL holds the current value as JSON, HINT its version.
CREATE FUNCTION chartcode.set_code(
    p_record text, p_note text, p_field text, p_value jsonb, p_expected integer DEFAULT NULL,
    p_reason text DEFAULT NULL, p_memo text DEFAULT NULL, p_action text DEFAULT NULL)
RETURNS TABLE (old_value jsonb, new_value jsonb, changed boolean, history_id bigint, version integer, at text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = chartcode, pg_temp AS $$
DECLARE
    v_coder text := session_user; v_at text := chartcode.utc(now()); v_cb text; r record; v_hid bigint;
    v_action text; v_version integer;
BEGIN
    PERFORM chartcode.actor_role();
    p_note := coalesce(p_note, '');
    IF p_action IS NOT NULL AND p_action NOT IN ('set', 'change', 'clear', 'undo', 'redo') THEN
        RAISE EXCEPTION 'unknown coding action %', p_action USING ERRCODE = '22023';
    END IF;
    IF p_value = 'null'::jsonb THEN p_value := NULL; END IF;
    PERFORM chartcode.check_target(p_record, p_note);
    SELECT hash INTO v_cb FROM chartcode.codebooks WHERE active;
    SELECT c.id, c.value, c.memo, c.version INTO r FROM chartcode.codes c
        WHERE c.coder = v_coder AND c.record_id = p_record AND c.note_key = p_note AND c.field = p_field FOR UPDATE;
    IF r.id IS NULL AND p_value IS NOT NULL THEN
        INSERT INTO chartcode.codes AS c (coder, record_id, note_key, field, value, memo, codebook_hash, updated_at,
            version) VALUES (v_coder, p_record, p_note, p_field, NULL, NULL, v_cb, v_at, 0)
            ON CONFLICT DO NOTHING;
        SELECT c.id, c.value, c.memo, c.version INTO r FROM chartcode.codes c
            WHERE c.coder = v_coder AND c.record_id = p_record AND c.note_key = p_note AND c.field = p_field
            FOR UPDATE;
    END IF;
    v_version := coalesce(r.version, 0);
    IF p_expected IS NOT NULL AND p_expected <> v_version THEN
        RAISE EXCEPTION 'stale change: % was changed elsewhere', p_field
            USING ERRCODE = 'CC409', DETAIL = coalesce(r.value::text, 'null'), HINT = v_version::text;
    END IF;
    IF r.id IS NULL THEN  -- clearing a code that was never set
        RETURN QUERY SELECT NULL::jsonb, NULL::jsonb, false, NULL::bigint, 0, v_at; RETURN;
    END IF;
    IF r.value IS NOT DISTINCT FROM p_value AND (p_memo IS NULL OR p_memo IS NOT DISTINCT FROM r.memo) THEN
        RETURN QUERY SELECT r.value, p_value, false, NULL::bigint, v_version, v_at; RETURN;
    END IF;
    IF r.value IS NOT DISTINCT FROM p_value THEN  -- only the memo changes
        UPDATE chartcode.codes SET memo = p_memo, updated_at = v_at, version = v_version + 1 WHERE id = r.id;
        v_hid := chartcode.append_history('memo', v_coder, p_record, p_note, p_field, to_jsonb(r.memo),
            to_jsonb(p_memo), p_reason);
        RETURN QUERY SELECT r.value, p_value, true, v_hid, v_version + 1, v_at; RETURN;
    END IF;
    UPDATE chartcode.codes SET value = p_value, memo = coalesce(p_memo, memo), updated_at = v_at,
        codebook_hash = v_cb, version = v_version + 1 WHERE id = r.id;
    v_action := coalesce(p_action, CASE WHEN p_value IS NULL THEN 'clear' WHEN r.value IS NULL THEN 'set'
        ELSE 'change' END);
    v_hid := chartcode.append_history(v_action, v_coder, p_record, p_note, p_field, r.value, p_value, p_reason);
    IF p_memo IS NOT NULL AND p_memo IS DISTINCT FROM r.memo THEN
        PERFORM chartcode.append_history('memo', v_coder, p_record, p_note, p_field, to_jsonb(r.memo),
            to_jsonb(p_memo), p_reason);
    END IF;
    UPDATE chartcode.assignments SET status = 'in_progress'
        WHERE coder = v_coder AND record_id = p_record AND status = 'not_started';
    RETURN QUERY SELECT r.value, p_value, true, v_hid, v_version + 1, v_at;
END $$;

CREATE FUNCTION chartcode.set_memo(p_record text, p_note text, p_field text, p_memo text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = chartcode, pg_temp AS $$
DECLARE r record; v_at text := chartcode.utc(now());
BEGIN
    PERFORM chartcode.actor_role();
    p_note := coalesce(p_note, '');
    SELECT id, memo, version INTO r FROM chartcode.codes
        WHERE coder = session_user AND record_id = p_record AND note_key = p_note AND field = p_field FOR UPDATE;
    IF r.id IS NULL THEN
        RAISE EXCEPTION 'field % has no code yet; code it before adding a memo', p_field USING ERRCODE = '22023';
    END IF;
    IF r.memo IS NOT DISTINCT FROM p_memo THEN RETURN false; END IF;
    UPDATE chartcode.codes SET memo = p_memo, updated_at = v_at, version = r.version + 1 WHERE id = r.id;
    PERFORM chartcode.append_history('memo', session_user, p_record, p_note, p_field, to_jsonb(r.memo),
        to_jsonb(p_memo), NULL);
    RETURN true;
END $$;

-- Self-assignment (by submitting or importing one's own codes) only on a record nobody is assigned yet:
-- joining a record others have coded would be a way round the blinding rule.
CREATE FUNCTION chartcode.assign(p_coder text, p_records text[], p_source text) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = chartcode, pg_temp AS $$
DECLARE v_role text := chartcode.actor_role(); v_new integer := 0; rid text; v_at text := chartcode.utc(now());
BEGIN
    IF NOT EXISTS (SELECT 1 FROM chartcode.coders WHERE name = p_coder AND active) THEN
        RAISE EXCEPTION 'coder % is not in this audit', p_coder USING ERRCODE = '22023';
    END IF;
    FOREACH rid IN ARRAY p_records LOOP
        IF EXISTS (SELECT 1 FROM chartcode.assignments WHERE coder = p_coder AND record_id = rid) THEN CONTINUE;
        END IF;
        IF v_role NOT IN ('admin', 'supervisor', 'lead') AND (p_coder <> session_user
            OR EXISTS (SELECT 1 FROM chartcode.assignments WHERE record_id = rid)) THEN
            RAISE EXCEPTION '% is a coder; records are assigned by a supervisor or lead', session_user
                USING ERRCODE = '42501';
        END IF;
        PERFORM chartcode.check_target(rid, '');
        INSERT INTO chartcode.assignments(coder, record_id, assigned_at, source) VALUES (p_coder, rid, v_at, p_source);
        PERFORM chartcode.append_history('assign', p_coder, rid, NULL, NULL, NULL, NULL, p_source);
        v_new := v_new + 1;
    END LOOP;
    RETURN v_new;
END $$;

CREATE FUNCTION chartcode.submit(p_record text, p_reason text DEFAULT NULL) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = chartcode, pg_temp AS $$
DECLARE v_status text; v_open integer; v_at text := chartcode.utc(now());
BEGIN
    PERFORM chartcode.actor_role();
    SELECT status INTO v_status FROM chartcode.assignments WHERE coder = session_user AND record_id = p_record
        FOR UPDATE;
    IF v_status IS NULL THEN
        PERFORM chartcode.assign(session_user, ARRAY[p_record], 'submit');
    END IF;
    SELECT count(*) INTO v_open FROM chartcode.codes
        WHERE coder = session_user AND record_id = p_record AND submitted_at IS NULL;
    IF v_status = 'done' AND v_open = 0 THEN RETURN false; END IF;
    UPDATE chartcode.assignments SET status = 'done', submitted_at = coalesce(submitted_at, v_at)
        WHERE coder = session_user AND record_id = p_record;
    UPDATE chartcode.codes SET submitted_value = value, submitted_at = v_at
        WHERE coder = session_user AND record_id = p_record AND submitted_at IS NULL;
    PERFORM chartcode.append_history('submit', session_user, p_record, NULL, NULL, NULL, NULL, p_reason);
    RETURN true;
END $$;

CREATE FUNCTION chartcode.flag(p_record text, p_comment text, p_flagged boolean) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = chartcode, pg_temp AS $$
DECLARE r record;
BEGIN
    PERFORM chartcode.actor_role();
    SELECT flagged, flag_comment INTO r FROM chartcode.assignments
        WHERE coder = session_user AND record_id = p_record FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'record % is not assigned to %', p_record, session_user USING ERRCODE = '22023';
    END IF;
    IF r.flagged = p_flagged AND r.flag_comment IS NOT DISTINCT FROM
        (CASE WHEN p_flagged THEN p_comment ELSE r.flag_comment END) THEN RETURN false; END IF;
    UPDATE chartcode.assignments SET flagged = p_flagged, flag_comment = CASE WHEN p_flagged THEN p_comment END
        WHERE coder = session_user AND record_id = p_record;
    PERFORM chartcode.append_history(CASE WHEN p_flagged THEN 'flag' ELSE 'unflag' END, session_user, p_record,
        NULL, NULL, to_jsonb(r.flag_comment), CASE WHEN p_flagged THEN to_jsonb(p_comment) END, NULL);
    RETURN true;
END $$;

CREATE FUNCTION chartcode.set_consensus(p_record text, p_note text, p_field text, p_value jsonb, p_reason text)
RETURNS TABLE (old_value jsonb, changed boolean, history_id bigint, at text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = chartcode, pg_temp AS $$
DECLARE r record; v_at text := chartcode.utc(now()); v_hid bigint; v_cb text;
BEGIN
    PERFORM chartcode.require_role('supervisor', 'lead');
    IF coalesce(trim(p_reason), '') = '' THEN
        RAISE EXCEPTION 'a consensus value needs a reason' USING ERRCODE = '22023';
    END IF;
    p_note := coalesce(p_note, '');
    PERFORM chartcode.check_target(p_record, p_note);
    SELECT hash INTO v_cb FROM chartcode.codebooks WHERE active;
    SELECT id, value INTO r FROM chartcode.consensus
        WHERE record_id = p_record AND note_key = p_note AND field = p_field FOR UPDATE;
    IF r.id IS NOT NULL AND r.value IS NOT DISTINCT FROM p_value THEN
        RETURN QUERY SELECT r.value, false, NULL::bigint, v_at; RETURN;
    END IF;
    INSERT INTO chartcode.consensus(record_id, note_key, field, value, reason, decided_by, decided_at, codebook_hash)
        VALUES (p_record, p_note, p_field, p_value, trim(p_reason), session_user, v_at, v_cb)
        ON CONFLICT (record_id, note_key, field) DO UPDATE SET value = excluded.value, reason = excluded.reason,
        decided_by = excluded.decided_by, decided_at = excluded.decided_at, codebook_hash = excluded.codebook_hash;
    v_hid := chartcode.append_history('consensus', NULL, p_record, p_note, p_field, r.value, p_value, trim(p_reason));
    RETURN QUERY SELECT r.value, true, v_hid, v_at;
END $$;

-- Whether the caller's write with this key was committed (seen), and the result it returned.
CREATE FUNCTION chartcode.request_result(p_key text) RETURNS TABLE (seen boolean, result json)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = chartcode, pg_temp AS $$
    SELECT true, r.result FROM chartcode.requests r WHERE r.coder = session_user AND r.key = p_key
    UNION ALL SELECT false, NULL WHERE NOT EXISTS (
        SELECT 1 FROM chartcode.requests r WHERE r.coder = session_user AND r.key = p_key) $$;

-- Called in the write's own statement: the key commits with the write, or neither does.
CREATE FUNCTION chartcode.request_done(p_key text, p_result json) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = chartcode, pg_temp AS $$
BEGIN
    PERFORM chartcode.actor_role();
    INSERT INTO chartcode.requests(coder, key, result) VALUES (session_user, p_key, p_result);
    DELETE FROM chartcode.requests WHERE coder = session_user AND at < now() - interval '7 days';
END $$;

CREATE FUNCTION chartcode.save_position(p_record text, p_note text, p_field text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = chartcode, pg_temp AS $$
BEGIN
    PERFORM chartcode.actor_role();
    INSERT INTO chartcode.positions(coder, record_id, note_id, field, updated_at)
        VALUES (session_user, p_record, p_note, p_field, chartcode.utc(now()))
        ON CONFLICT (coder) DO UPDATE SET record_id = excluded.record_id, note_id = excluded.note_id,
        field = excluded.field, updated_at = excluded.updated_at;
END $$;

CREATE FUNCTION chartcode.add_records(p_ids text[]) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = chartcode, pg_temp AS $$
DECLARE rid text; n integer := 0; v_at text := chartcode.utc(now()); k integer;
BEGIN
    PERFORM chartcode.require_role('lead');
    FOREACH rid IN ARRAY p_ids LOOP
        INSERT INTO chartcode.records(id, added_at, unit, period)
            VALUES (rid, v_at, CASE WHEN strpos(rid, ' @ ') > 0 THEN trim(split_part(rid, ' @ ', 1)) END,
                    CASE WHEN strpos(rid, ' @ ') > 0 THEN trim(split_part(rid, ' @ ', 2)) END)
            ON CONFLICT DO NOTHING;
        GET DIAGNOSTICS k = ROW_COUNT;
        IF k > 0 THEN
            n := n + 1;
            PERFORM chartcode.append_history('add_record', NULL, rid, NULL, NULL, NULL, NULL, NULL);
        END IF;
    END LOOP;
    RETURN n;
END $$;

-- A note import stages its rows in pg_temp.import_in, a table made here for the transaction (owned by
-- the owner role; the caller may only INSERT into it, e.g. by COPY). A table of that name made by the
-- caller is refused: its triggers or rules would run as the owner role inside these functions.
CREATE FUNCTION chartcode.import_staging_ok() RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER
SET search_path = chartcode, pg_temp AS $$
DECLARE v_owner oid;
BEGIN
    SELECT c.relowner INTO v_owner FROM pg_class c WHERE c.oid = to_regclass('pg_temp.import_in');
    IF v_owner IS NOT NULL AND v_owner <> (SELECT r.oid FROM pg_roles r WHERE r.rolname = current_user) THEN
        RAISE EXCEPTION 'the import''s staging table pg_temp.import_in in this session was not made by chartcode;'
            ' drop it (or reconnect) and import again' USING ERRCODE = '42501';
    END IF;
    RETURN v_owner IS NOT NULL;
END $$;

CREATE FUNCTION chartcode.import_notes_stage() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = chartcode, pg_temp AS $$
BEGIN
    PERFORM chartcode.require_role('lead');
    IF chartcode.import_staging_ok() THEN
        TRUNCATE pg_temp.import_in;
    ELSE
        CREATE TEMP TABLE import_in (line integer, record_id text, note_id text, note_date text,
            note_type text, author text, text text, sha text) ON COMMIT DROP;
    END IF;
    EXECUTE format('GRANT INSERT ON pg_temp.import_in TO %I', session_user);
END $$;

-- The staged rows (line, record_id, note_id, note_date, note_type, author, text, sha) into the audit.
-- Returns (new notes, unchanged notes, new records); raises naming the line of a note id reused with
-- other text or another record.
CREATE FUNCTION chartcode.import_notes_staged(p_file text, p_sha text)
RETURNS TABLE (notes_new integer, notes_unchanged integer, records_new integer)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = chartcode, pg_temp AS $$
DECLARE v_at text := chartcode.utc(now()); v_import bigint; v_new integer; v_same integer; v_rec integer;
    bad record;
BEGIN
    PERFORM chartcode.require_role('lead');
    IF NOT chartcode.import_staging_ok() THEN
        RAISE EXCEPTION 'no staged notes in this transaction (call chartcode.import_notes_stage() first)'
            USING ERRCODE = '22023';
    END IF;
    EXECUTE format('REVOKE INSERT ON pg_temp.import_in FROM %I', session_user);
    SELECT i.line, i.note_id, n.import_id INTO bad FROM pg_temp.import_in i
        JOIN chartcode.notes n ON n.note_id = i.note_id
        WHERE n.content_sha <> i.sha OR n.record_id <> i.record_id ORDER BY i.line LIMIT 1;
    IF bad.line IS NOT NULL THEN  -- DETAIL: the line, note id and import, for the caller's message
        RAISE EXCEPTION 'line %: note_id % is already in the audit with other content or another record',
            bad.line, bad.note_id USING ERRCODE = '22023',
            DETAIL = json_build_object('line', bad.line, 'note_id', bad.note_id, 'import', bad.import_id)::text;
    END IF;
    SELECT count(*) INTO v_same FROM pg_temp.import_in i JOIN chartcode.notes n ON n.note_id = i.note_id;
    INSERT INTO chartcode.imports(at, actor, kind, file_name, file_sha256) VALUES (v_at, session_user, 'notes',
        p_file, p_sha) RETURNING id INTO v_import;
    INSERT INTO chartcode.records(id, added_at, import_id)
        SELECT DISTINCT i.record_id, v_at, v_import FROM pg_temp.import_in i ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS v_rec = ROW_COUNT;
    INSERT INTO chartcode.notes(note_id, record_id, note_date, note_type, author, text, content_sha, import_id,
        source_line)
        SELECT i.note_id, i.record_id, i.note_date, i.note_type, i.author, i.text, i.sha, v_import, i.line
        FROM pg_temp.import_in i ORDER BY i.line ON CONFLICT (note_id) DO NOTHING;
    GET DIAGNOSTICS v_new = ROW_COUNT;
    TRUNCATE pg_temp.import_in;
    IF v_new = 0 THEN
        DELETE FROM chartcode.imports WHERE id = v_import;
        RETURN QUERY SELECT 0, v_same, 0; RETURN;
    END IF;
    UPDATE chartcode.imports SET rows_read = v_new + v_same, rows_new = v_new, rows_unchanged = v_same
        WHERE id = v_import;
    PERFORM chartcode.append_history('import_notes', NULL, NULL, NULL, NULL, NULL, to_jsonb(v_import),
        format('%s: %s notes, %s new records', p_file, v_new, v_rec));
    RETURN QUERY SELECT v_new, v_same, v_rec;
END $$;

-- The same with every row in one argument: p_rows a JSON array of objects with line, record_id,
-- note_id, note_date, note_type, author, text, sha (kept for callers that do not COPY).
CREATE FUNCTION chartcode.import_notes(p_file text, p_sha text, p_rows jsonb)
RETURNS TABLE (notes_new integer, notes_unchanged integer, records_new integer)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = chartcode, pg_temp AS $$
BEGIN
    PERFORM chartcode.import_notes_stage();
    INSERT INTO pg_temp.import_in SELECT * FROM jsonb_to_recordset(p_rows) AS x(line integer, record_id text,
        note_id text, note_date text, note_type text, author text, text text, sha text);
    RETURN QUERY SELECT * FROM chartcode.import_notes_staged(p_file, p_sha);
END $$;

CREATE FUNCTION chartcode.add_codebook(p_hash text, p_id text, p_version text, p_title text, p_yaml text,
    p_json text, p_reason text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = chartcode, pg_temp AS $$
DECLARE v_old text; v_at text := chartcode.utc(now());
BEGIN
    PERFORM chartcode.require_role('lead');
    SELECT hash INTO v_old FROM chartcode.codebooks WHERE active;
    IF v_old = p_hash THEN RETURN false; END IF;
    UPDATE chartcode.codebooks SET active = false WHERE active;
    INSERT INTO chartcode.codebooks(hash, codebook_id, version, title, source_yaml, canonical_json, added_at, active)
        VALUES (p_hash, p_id, p_version, p_title, p_yaml, p_json, v_at, true)
        ON CONFLICT (hash) DO UPDATE SET active = true;
    PERFORM chartcode.append_history(CASE WHEN v_old IS NULL THEN 'create' ELSE 'codebook' END, NULL, NULL, NULL,
        NULL, to_jsonb(v_old), to_jsonb(p_hash), p_reason);
    RETURN true;
END $$;

-- The hash chain recomputed on the server, for anyone to check (the history itself is not readable).
CREATE FUNCTION chartcode.verify_chain() RETURNS TABLE (id bigint, ok boolean, in_order boolean, hash text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = chartcode, pg_temp AS $$ {verify_sql} $$;

-- How many current codes the caller may not see (a count, never which).
CREATE FUNCTION chartcode.hidden_count() RETURNS bigint LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = chartcode, pg_temp AS $$
    SELECT count(*) FROM chartcode.codes c WHERE c.value IS NOT NULL AND NOT {visible_session} $$;

CREATE VIEW chartcode.visible_codes WITH (security_barrier) AS
    SELECT c.id, c.coder, c.record_id, c.note_key, c.field, c.value, c.memo, c.submitted_value, c.submitted_at,
        c.updated_at, c.version
    FROM chartcode.codes c WHERE {visible_current};

-- Entries about a coder's code (or flag) that the rule hides show "(blind)" for their values and reason.
CREATE VIEW chartcode.visible_history WITH (security_barrier) AS
    SELECT h.id, h.at, h.actor, h.action, h.coder, h.record_id, h.note_id, h.field,
        CASE WHEN b.blind THEN (CASE WHEN h.old_value IS NULL AND h.new_value IS NULL THEN NULL
            ELSE '"(blind)"'::jsonb END) ELSE h.old_value END AS old_value,
        CASE WHEN b.blind THEN (CASE WHEN h.old_value IS NULL AND h.new_value IS NULL THEN NULL
            ELSE '"(blind)"'::jsonb END) ELSE h.new_value END AS new_value,
        CASE WHEN b.blind AND h.reason IS NOT NULL THEN '(blind)' ELSE h.reason END AS reason,
        h.codebook_hash, h.hash
    FROM chartcode.history h
    LEFT JOIN chartcode.codes c ON c.coder = h.coder AND c.record_id = h.record_id
        AND c.note_key = coalesce(h.note_id, '') AND c.field = h.field
    CROSS JOIN LATERAL (SELECT h.coder IS NOT NULL AND (h.field IS NOT NULL OR h.action IN ('flag', 'unflag'))
        AND h.coder <> current_user AND NOT chartcode.is_lead(current_user)
        AND NOT (c.id IS NOT NULL AND {visible_history_code}) AS blind) b;

-- Assignments: everyone sees who is assigned and who has submitted (the rule needs it); flags and their
-- comments only their coder and leads.
CREATE VIEW chartcode.visible_assignments WITH (security_barrier) AS
    SELECT a.coder, a.record_id, a.assigned_at, a.source, a.status, a.submitted_at,
        CASE WHEN a.coder = current_user OR chartcode.is_lead(current_user) THEN a.flagged ELSE false END AS flagged,
        CASE WHEN a.coder = current_user OR chartcode.is_lead(current_user) THEN a.flag_comment END AS flag_comment
    FROM chartcode.assignments a;
"""

VERIFY_SQL = """
    SELECT h.id, h.hash = encode(sha256(convert_to(
            coalesce(lag(h.hash) OVER (ORDER BY h.id), repeat('0', 64)) || jsonb_build_object(
                'id', h.id, 'at', h.at, 'actor', h.actor, 'action', h.action, 'coder', h.coder,
                'record_id', h.record_id, 'note_id', h.note_id, 'field', h.field, 'old_value', h.old_value,
                'new_value', h.new_value, 'reason', h.reason, 'codebook_hash', h.codebook_hash)::text,
            'UTF8')), 'hex') AS ok,
        h.id = row_number() OVER (ORDER BY h.id) AS in_order,
        h.hash
    FROM chartcode.history h ORDER BY h.id"""


def install_statements(roles: Roles, dbname: str) -> list[sql.Composed | sql.SQL]:
    """Everything ``server init`` runs, in order, as the administrator (the DDL as the owner role)."""
    ident = sql.Identifier
    owner = ident(roles.owner)
    groups = [ident(g) for g in roles.groups]
    out: list[sql.Composed | sql.SQL] = [
        sql.SQL("CREATE SCHEMA chartcode AUTHORIZATION {}").format(owner),
        sql.SQL("SET ROLE {}").format(owner),
        sql.SQL(TABLES),
        sql.SQL(
            FUNCTIONS.replace("{owner}", "{owner_lit}")
            .replace("{visible_session}", visible("session_user"))
            .replace("{visible_current}", visible("current_user"))
            .replace("{visible_history_code}", visible("current_user", lead="false"))
            .replace("{verify_sql}", VERIFY_SQL)
        ).format(owner_lit=sql.Literal(roles.owner)),
        sql.SQL("REVOKE ALL ON ALL FUNCTIONS IN SCHEMA chartcode FROM PUBLIC"),
        sql.SQL("INSERT INTO chartcode.migrations(name) VALUES ('v1_initial')"),
        sql.SQL("INSERT INTO chartcode.meta(key, value) VALUES ('schema_version', {})").format(
            sql.Literal(str(VERSION))
        ),
        sql.SQL("RESET ROLE"),
        sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(ident(dbname)),
        sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}").format(ident(dbname), owner),
    ]
    public_tables = [
        "meta",
        "migrations",
        "codebooks",
        "coders",
        "imports",
        "records",
        "notes",
        "consensus",
        "chain_head",
    ]
    views = ["visible_codes", "visible_history", "visible_assignments"]
    functions = [
        "utc(timestamptz)",
        "is_lead(name)",
        "is_admin(name)",
        "actor_role()",
        "set_code(text, text, text, jsonb, integer, text, text, text)",
        "set_memo(text, text, text, text)",
        "assign(text, text[], text)",
        "submit(text, text)",
        "flag(text, text, boolean)",
        "set_consensus(text, text, text, jsonb, text)",
        "save_position(text, text, text)",
        "request_result(text)",
        "request_done(text, json)",
        "add_records(text[])",
        "import_notes(text, text, jsonb)",
        "import_notes_stage()",
        "import_notes_staged(text, text)",
        "add_codebook(text, text, text, text, text, text, text)",
        "hidden_count()",
        "verify_chain()",
        "require_role(text[])",
    ]
    for g in groups:
        out += [
            sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}").format(ident(dbname), g),
            sql.SQL("GRANT USAGE ON SCHEMA chartcode TO {}").format(g),
            sql.SQL("GRANT SELECT ON {} TO {}").format(
                sql.SQL(", ").join(sql.Identifier("chartcode", t) for t in public_tables + views), g
            ),
            sql.SQL("GRANT SELECT (coder, record_id, note_id, field, updated_at) ON chartcode.positions TO {}").format(
                g
            ),
            sql.SQL("GRANT EXECUTE ON FUNCTION {} TO {}").format(
                sql.SQL(", ").join(sql.SQL("chartcode." + f) for f in functions), g
            ),
        ]
    return out
