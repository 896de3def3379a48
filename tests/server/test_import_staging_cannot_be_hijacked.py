"""A lead's import goes through a session temp table that the SECURITY DEFINER import fills or reads.
Were that table the lead's own, the lead could hang a trigger on it and run SQL as the owner role
(who may rewrite the history). The import refuses a staging table it did not make itself."""

from __future__ import annotations

import psycopg
import pytest

from tests.server.conftest import Team

PLANT = [
    "CREATE TEMP TABLE import_in (line integer, record_id text, note_id text, note_date text,"
    " note_type text, author text, text text, sha text)",
    "CREATE FUNCTION pg_temp.rewrite() RETURNS trigger LANGUAGE plpgsql AS"
    " $$ BEGIN ALTER TABLE chartcode.history DISABLE TRIGGER USER; DELETE FROM chartcode.history;"
    " ALTER TABLE chartcode.history ENABLE TRIGGER USER; RETURN NEW; END $$",
    "CREATE TRIGGER rewrite BEFORE INSERT ON pg_temp.import_in FOR EACH ROW EXECUTE FUNCTION pg_temp.rewrite()",
    "GRANT ALL ON pg_temp.import_in TO PUBLIC",  # so that the owner role may write to it
]


@pytest.mark.parametrize("how", ["jsonb", "staged"])
def test_a_planted_staging_table_is_refused_and_the_history_is_untouched(team: Team, how: str):
    with psycopg.connect(team.url("lead"), autocommit=True) as lead:
        before = lead.execute("SELECT last_id, hash FROM chartcode.chain_head").fetchone()
        n_before = lead.execute("SELECT count(*) FROM chartcode.notes").fetchone()
        for statement in PLANT:
            lead.execute(statement)
        with pytest.raises(psycopg.Error) as err:
            if how == "jsonb":
                lead.execute(
                    "SELECT * FROM chartcode.import_notes('x.csv', NULL, %s::jsonb)",
                    ['[{"line": 2, "record_id": "R9", "note_id": "N9", "text": "t", "sha": "s"}]'],
                )
            else:
                with lead.transaction():
                    lead.execute("SELECT chartcode.import_notes_stage()")
        assert "staging table" in str(err.value)
        assert lead.execute("SELECT last_id, hash FROM chartcode.chain_head").fetchone() == before
        assert lead.execute("SELECT count(*), bool_and(ok) FROM chartcode.verify_chain()").fetchone() == (
            before[0],
            True,
        )
        assert lead.execute("SELECT count(*) FROM chartcode.notes").fetchone() == n_before
