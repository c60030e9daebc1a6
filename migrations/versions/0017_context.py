"""The verified tenant context, checked per statement without the key (issue 15).

0010 made ``app_current_org()`` recompute an HMAC under the key on every statement: a
PL/pgSQL SECURITY DEFINER call that reads ``app_context_keys`` through SPI and hashes twice,
and ``app_enter_org`` hashed four times under ``SET search_path``. At the database that was
the larger part of the context's cost: in interleaved pgbench runs of the bench's statements
the verified transaction made 0.56-0.77 of the owner's plain query's throughput, the same
transaction with 0001's unverified function 0.76-1.06.

Now the key is needed once per transaction (to check the entry proof) and never per statement:

* ``app_context_marks``, an UNLOGGED sequence owned by the owner role. Its ``currval`` is
  per-session state that only ``nextval``/``setval`` change, and those need USAGE or UPDATE on
  the sequence, which no runtime role holds. The tenant role holds SELECT only (``currval``
  needs it): it can read its own session's mark, never set it.
* ``app_enter_org(org, proof)`` checks the proof as before (key, five minutes), then sets
  the session's mark to the first 64 bits of sha256(<org> || <transaction start>) with
  ``setval``, and the transaction-local settings ``app.current_org_id`` (the
  organization) and ``app.current_org_sig`` (the hex of that digest: public, not a secret,
  kept for whoever reads it; the check does not).
* ``app_current_org()`` is a plain SQL function (inlined into each statement's InitPlan, no
  SECURITY DEFINER, no SPI): the organization of ``app.current_org_id`` when the session's mark
  equals the mark of (that organization, this transaction's start), otherwise NULL.

Why a tenant-role attacker with SQL injection still cannot open organization B: passing the
check with B in a transaction that started at t needs ``currval = mark(B, t)``; only
``app_enter_org`` changes the session's mark, and only after a valid proof for the
organization it marks, in the transaction it marks. Setting ``app.current_org_id`` to B
(the marker too, any value) compares ``mark(B, t)`` with the mark of A: different (a 64-bit
SHA-256 collision between chosen-by-nobody inputs otherwise). A mark is dead after COMMIT (the
next transaction starts at another time) and never leaves its backend (sequence state is
per session). The key stays in ``app_context_keys``, which the check no longer reads.

A session that never entered has no ``currval``: the check reads the session-level setting
``app.context_marked`` (set by ``app_enter_org``) first and returns NULL without it, so a plain
or forged ``set_config`` on a fresh connection reads nothing rather than raising. Someone who
sets that setting by hand on such a connection gets an error (``currval … not yet defined``)
instead of 0 rows: refused all the same. Marks are not transactional: an entry made inside a
savepoint that is rolled back leaves the session marked for the inner organization while the
settings return to the outer one, which then reads as no organization (closed, not open) until
the next ``app_enter_org``. ``setval`` is a write: a read-only transaction (or a hot standby)
cannot enter an organization; nothing in the app uses one.

Revision ID: 0017_context
Revises: 0016_load
Create Date: 2026-12-01
"""

import importlib

from alembic import op

from migrations.rls import app_role, grant_door

revision = "0017_context"
down_revision = "0016_load"
branch_labels = None
depends_on = None

_0010 = importlib.import_module("migrations.versions.0010_roles_by_trust")

# Everything schema-qualified (functions, operators, types, the sequence), like 0010's check:
# neither runtime role can create objects anywhere, and no search_path changes what runs.
CAT = "OPERATOR(pg_catalog.||)"
EQ = "OPERATOR(pg_catalog.=)"
SEQUENCE = "public.app_context_marks"
TX_START = _0010.TX_START  # the transaction's start, microseconds since the epoch, as text


def _mark_digest(org_text: str) -> str:
    """SQL: sha256 of the organization's text and the transaction's start (its 8-byte binary
    form, microseconds: independent of TimeZone and DateStyle, which any role may change)."""
    return (
        f"pg_catalog.sha256(pg_catalog.convert_to({org_text}, 'UTF8') {CAT} "
        "pg_catalog.timestamptz_send(pg_catalog.now()))"
    )


# The organization as set: text, exactly as app_enter_org wrote it (canonical UUID text), so
# the mark compares the text and only the winning branch casts it.
_ORG_TEXT = "pg_catalog.current_setting('app.current_org_id', true)"

# Inlined into each statement by the planner (plain SQL, one expression, not SECURITY
# DEFINER): no function call, no SPI, a handful of built-ins evaluated once per statement.
# VOLATILE because currval is: a STABLE function holding a volatile call is not inlined. The
# policies call it as ``(SELECT app_current_org())``, an InitPlan: once per statement whatever
# its volatility. CASE evaluates its branches in order, so currval is called only once the
# session has been marked; an unset or empty organization, or any text other than the one
# marked, fails the comparison and reads as NULL.
CURRENT_ORG = f"""
CREATE OR REPLACE FUNCTION app_current_org() RETURNS pg_catalog.uuid
LANGUAGE sql VOLATILE SECURITY INVOKER AS $$
SELECT CASE
    WHEN COALESCE(pg_catalog.current_setting('app.context_marked', true), '')
         OPERATOR(pg_catalog.<>) 'on'
        THEN NULL::pg_catalog.uuid
    WHEN pg_catalog.int8send(pg_catalog.currval('{SEQUENCE}'::pg_catalog.regclass)) {EQ}
         pg_catalog.substr({_mark_digest(_ORG_TEXT)}, 1, 8)
        THEN {_ORG_TEXT}::pg_catalog.uuid
END
$$
"""

# Once per transaction: the proof under the key (0010's rules), then the mark. Written for
# speed: plpgsql re-initialises every expression in every transaction, so there are few: the
# key, the proof's digest and the mark in one query; then one comparison, the window, and the
# mark and settings in one assignment. The digest is checked first, over the issued time as
# sent, so a proof that is not exactly what the app signs (a malformed one included) is refused
# before anything parses it (no regular expression: its bounded repetitions were a quarter of
# the call). No ``SET search_path`` clause (a GUC nest level on every call): every name is
# qualified instead.
ENTER_ORG = f"""
CREATE OR REPLACE FUNCTION app_enter_org(p_org pg_catalog.uuid, p_proof pg_catalog.text)
RETURNS pg_catalog.uuid
LANGUAGE plpgsql VOLATILE SECURITY DEFINER AS $$
DECLARE
    v_ok pg_catalog.bool;
    v_mark pg_catalog.bytea;
    v_set pg_catalog.text;
BEGIN
    IF p_org IS NULL THEN
        v_set := pg_catalog.set_config('app.current_org_id', '', true)
            {CAT} pg_catalog.set_config('app.current_org_sig', '', true);
        RETURN NULL;
    END IF;
    SELECT pg_catalog.split_part(p_proof, '.', 2) {EQ} pg_catalog.encode(pg_catalog.sha256(
               k.outer_pad {CAT} pg_catalog.sha256(k.inner_pad {CAT} pg_catalog.convert_to(
                   'enter:' {CAT} p_org::pg_catalog.text {CAT} ':' {CAT}
                   pg_catalog.split_part(p_proof, '.', 1), 'UTF8'))), 'hex'),
           {_mark_digest("p_org::pg_catalog.text")}
    INTO v_ok, v_mark
    FROM public.app_context_keys k WHERE k.id {EQ} 1;
    IF v_ok IS NOT TRUE THEN
        RAISE EXCEPTION 'organization context refused: bad proof'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF pg_catalog.abs(pg_catalog.extract('epoch', pg_catalog.clock_timestamp())
                      OPERATOR(pg_catalog.-)
                      pg_catalog.split_part(p_proof, '.', 1)::pg_catalog.int8)
       OPERATOR(pg_catalog.>) {_0010.PROOF_WINDOW} THEN
        RAISE EXCEPTION 'organization context refused: proof expired'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- The mark (setval: the session's currval), then the settings; app.context_marked is
    -- session-level: from now on this session has a currval for the check to read.
    v_set := pg_catalog.setval('{SEQUENCE}'::pg_catalog.regclass,
            ('x' {CAT} pg_catalog.encode(pg_catalog.substr(v_mark, 1, 8), 'hex'))
                ::pg_catalog.bit(64)::pg_catalog.int8, true)::pg_catalog.text
        {CAT} pg_catalog.set_config('app.context_marked', 'on', false)
        {CAT} pg_catalog.set_config('app.current_org_id', p_org::pg_catalog.text, true)
        {CAT} pg_catalog.set_config('app.current_org_sig', pg_catalog.encode(v_mark, 'hex'), true);
    RETURN p_org;
END
$$
"""


def upgrade() -> None:
    op.execute(
        f"CREATE UNLOGGED SEQUENCE {SEQUENCE} AS bigint "
        "MINVALUE -9223372036854775808 MAXVALUE 9223372036854775807 NO CYCLE"
    )
    op.execute(f"REVOKE ALL ON SEQUENCE {SEQUENCE} FROM PUBLIC")
    # currval needs SELECT (or USAGE); nextval needs USAGE or UPDATE, setval UPDATE: neither.
    op.execute(f"GRANT SELECT ON SEQUENCE {SEQUENCE} TO {app_role()}")
    op.execute(CURRENT_ORG)
    op.execute(ENTER_ORG)
    # No door any more, but still the tenant role's alone (the policies run it as the caller).
    op.execute("REVOKE ALL ON FUNCTION app_current_org() FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION app_current_org() TO {app_role()}")
    grant_door("app_enter_org(uuid, text)", "tenant")


def downgrade() -> None:
    op.execute(_0010.CURRENT_ORG_VERIFIED)
    op.execute("DROP FUNCTION app_enter_org(uuid, text)")
    op.execute(_0010.ENTER_ORG)
    grant_door("app_current_org()", "tenant")
    grant_door("app_enter_org(uuid, text)", "tenant")
    op.execute(f"DROP SEQUENCE {SEQUENCE}")
