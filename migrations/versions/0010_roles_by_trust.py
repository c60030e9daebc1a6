"""Roles by trust, and a tenant context the database verifies (issue 11, item 1).

Two runtime roles, both made like the tenant role of 0001 (login, no superuser, no BYPASSRLS,
own nothing):

* the **tenant role** (``DATABASE_URL``) serves tenant pages, the API and tenant tasks. It keeps
  its tenant tables and ``SELECT`` on ``plans``; it loses every door except those acting on
  ``app_current_org()`` alone (``app_search_documents``) and the two context functions below,
  and every privilege on ``platform_admins`` and ``platform_audit_events``;
* the **platform role** (``PLATFORM_DATABASE_URL``, by default derived from ``DATABASE_URL``:
  see ``webapp.config``) serves log-in and sign-up lookups, ``/admin``, ``flask admin`` and the
  housekeeping tasks. It executes the cross-tenant doors, reads ``plans``, reads and appends
  the platform audit log, reads admins and updates only their name, hash and last log-in. It
  holds nothing on tenant tables. Nobody INSERTs an admin but ``app_create_platform_admin``.

The doors now check their arguments (limits clamped, e-mails bounded, an admin's status only
``active``/``suspended``), so a platform-role caller cannot ask for more than the app does.

**The verified context.** ``app_current_org()`` no longer trusts ``app.current_org_id``: it
returns that organization only when ``app.current_org_sig`` is an HMAC-SHA256 of (organization,
this backend's pid, this transaction's start time) under a key held in ``app_context_keys``, a
table owned by the owner role with no grant to anyone. Only ``app_enter_org(org, proof)``
(SECURITY DEFINER, tenant role) sets that pair, and only for a ``proof`` that is an HMAC of
(organization, issue time) under the same key, issued less than ``PROOF_WINDOW`` seconds ago.
The application gets the key once per process through ``app_context_key()``, which only the
platform role may execute, and signs proofs in Python. The threat model is in
``webapp/tenancy.py`` and README.md ("Roles by trust").

HMAC is computed with the built-in ``sha256`` (PostgreSQL 11+) over precomputed inner and
outer pads, so no extension is needed.

Also: ``TEMPORARY`` on the database is revoked from PUBLIC, so an injected statement cannot
leave temporary tables or views on a pooled connection (a temporary view named like a table
would shadow it for the next transaction, another organization's included).

Revision ID: 0010_roles_by_trust
Revises: 0009_limit_changes
Create Date: 2026-12-01
"""

import hashlib
import secrets

from alembic import op
from flask import current_app

from migrations.rls import (
    app_role,
    ensure_login_role,
    grant_door,
    platform_role,
    quote_ident,
)

revision = "0010_roles_by_trust"
down_revision = "0009_limit_changes"
branch_labels = None
depends_on = None

# Seconds an entry proof stays valid (the app signs one per transaction; this only has to
# cover clock skew between the app's host and the database's).
PROOF_WINDOW = 300

SEARCH = "app_search_documents(tsquery, text, text, integer, integer, integer, integer)"
TENANT_FUNCTIONS = ("app_current_org()", "app_enter_org(uuid, text)", SEARCH)
PLATFORM_FUNCTIONS = (
    "app_context_key()",
    "app_login_lookup(text)",
    "app_email_exists(text)",
    "app_outbox_pending(interval, integer)",
    "app_stuck_documents(interval, integer)",
    "app_admin_list_organizations(text, integer, integer)",
    "app_admin_get_organization(uuid, text)",
    "app_admin_update_organization(uuid, text, text, jsonb)",
    "app_admin_update_plan(text, jsonb)",
    "app_organizations_due_for_purge(interval, integer)",
    "app_purge_organization(uuid, interval)",
    "app_create_platform_admin(text, text, text)",
)
TENANT_TABLES = (
    "organizations",
    "users",
    "audit_events",
    "documents",
    "document_blobs",
    "document_analyses",
    "outbox",
    "api_tokens",
    "usage_totals",
    "usage",
    "invitations",
    "exports",
    "export_chunks",
)


def _hmac(message_sql: str, inner: str = "v_inner", outer: str = "v_outer") -> str:
    """SQL for the hex HMAC-SHA256 of a text expression, given the key's two pads."""
    return (
        f"pg_catalog.encode(pg_catalog.sha256({outer} || pg_catalog.sha256({inner} || "
        f"pg_catalog.convert_to({message_sql}, 'UTF8'))), 'hex')"
    )


# The transaction's start, in microseconds since the epoch (independent of TimeZone/DateStyle,
# which any role may change mid-transaction).
TX_START = (
    "(pg_catalog.extract('epoch', pg_catalog.now()) OPERATOR(pg_catalog.*) 1000000)"
    "::pg_catalog.int8::pg_catalog.text"
)

# Runs once per statement (the policies' InitPlan), so it carries no ``SET search_path``: that
# clause alone was a third of its time (bench/context_overhead.py). Instead every name in it is
# schema-qualified — functions, operators (``OPERATOR(pg_catalog.…)``), types and the table — so
# no search_path a caller sets can change what it runs; and neither runtime role may create
# objects anywhere (no CREATE on the schema or database, no TEMPORARY; `flask tenancy check`).
CAT = "OPERATOR(pg_catalog.||)"
CURRENT_ORG_VERIFIED = f"""
CREATE OR REPLACE FUNCTION app_current_org() RETURNS pg_catalog.uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER AS $$
DECLARE
    v_org pg_catalog.text := pg_catalog.current_setting('app.current_org_id', true);
    v_sig pg_catalog.text;
    v_inner pg_catalog.bytea;
    v_outer pg_catalog.bytea;
BEGIN
    IF v_org IS NULL OR v_org OPERATOR(pg_catalog.=) '' THEN
        RETURN NULL;
    END IF;
    v_sig := pg_catalog.current_setting('app.current_org_sig', true);
    SELECT k.inner_pad, k.outer_pad INTO v_inner, v_outer
    FROM public.app_context_keys k WHERE k.id OPERATOR(pg_catalog.=) 1;
    -- Unsigned, forged, or signed for another backend or transaction: no organization.
    IF v_sig IS NULL OR v_inner IS NULL OR v_sig OPERATOR(pg_catalog.<>) pg_catalog.encode(
        pg_catalog.sha256(v_outer {CAT} pg_catalog.sha256(v_inner {CAT} pg_catalog.convert_to(
            'ctx:' {CAT} v_org {CAT} ':' {CAT} pg_catalog.pg_backend_pid()::pg_catalog.text
            {CAT} ':' {CAT} {TX_START}, 'UTF8'))), 'hex') THEN
        RETURN NULL;
    END IF;
    RETURN v_org::pg_catalog.uuid;
END
$$
"""

CURRENT_ORG_PLAIN = (
    "CREATE OR REPLACE FUNCTION app_current_org() RETURNS uuid LANGUAGE sql STABLE "
    "SECURITY INVOKER AS "
    "$$ SELECT NULLIF(current_setting('app.current_org_id', true), '')::uuid $$"
)

# Once per transaction. Written for speed as well: one SPI query (the key), everything else
# plpgsql's fast path for simple expressions (assignments, not PERFORM: each PERFORM is a
# query of its own, with a snapshot). A refused proof raises, which aborts the transaction
# (or rolls back to the caller's savepoint, with whatever context it had there).
ENTER_ORG = f"""
CREATE FUNCTION app_enter_org(p_org uuid, p_proof text) RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    v_issued bigint;
    v_inner bytea;
    v_outer bytea;
    v_set text;
BEGIN
    IF p_org IS NULL THEN
        v_set := pg_catalog.set_config('app.current_org_id', '', true)
            || pg_catalog.set_config('app.current_org_sig', '', true);
        RETURN NULL;
    END IF;
    IF p_proof IS NULL OR p_proof !~ '^[0-9]{{1,12}}\\.[0-9a-f]{{64}}$' THEN
        RAISE EXCEPTION 'organization context refused: malformed proof'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    v_issued := pg_catalog.split_part(p_proof, '.', 1)::bigint;
    IF abs(EXTRACT(EPOCH FROM pg_catalog.clock_timestamp()) - v_issued) > {PROOF_WINDOW} THEN
        RAISE EXCEPTION 'organization context refused: proof expired'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT k.inner_pad, k.outer_pad INTO v_inner, v_outer
    FROM public.app_context_keys k WHERE k.id = 1;
    IF v_inner IS NULL OR pg_catalog.split_part(p_proof, '.', 2) <> {
    _hmac("'enter:' || p_org::text || ':' || v_issued::text")
} THEN
        RAISE EXCEPTION 'organization context refused: bad proof'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    v_set := pg_catalog.set_config('app.current_org_id', p_org::text, true)
        || pg_catalog.set_config('app.current_org_sig', {
    _hmac(f"'ctx:' || p_org::text || ':' || pg_catalog.pg_backend_pid() || ':' || {TX_START}")
}, true);
    RETURN p_org;
END
$$
"""

CONTEXT_KEY = (
    "CREATE FUNCTION app_context_key() RETURNS bytea LANGUAGE sql STABLE SECURITY DEFINER "
    "SET search_path = '' AS $$ SELECT k.secret FROM public.app_context_keys k WHERE k.id = 1 $$"
)

CREATE_ADMIN = """
CREATE FUNCTION app_create_platform_admin(p_email text, p_name text, p_password_hash text)
RETURNS uuid LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    v_id uuid := pg_catalog.gen_random_uuid();
BEGIN
    IF p_email IS NULL OR pg_catalog.length(p_email) > 254
       OR p_email !~ '^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$'
       OR p_email <> pg_catalog.lower(p_email) THEN
        RAISE EXCEPTION 'not a valid e-mail address' USING ERRCODE = 'check_violation';
    END IF;
    IF p_name IS NULL OR pg_catalog.btrim(p_name) = '' OR pg_catalog.length(p_name) > 120 THEN
        RAISE EXCEPTION 'a name of 1 to 120 characters' USING ERRCODE = 'check_violation';
    END IF;
    IF p_password_hash IS NULL OR p_password_hash !~ '^\\$argon2id\\$' THEN
        RAISE EXCEPTION 'the password must be an Argon2id hash' USING ERRCODE = 'check_violation';
    END IF;
    INSERT INTO public.platform_admins (id, email, name, password_hash)
    VALUES (v_id, p_email, p_name, p_password_hash);
    RETURN v_id;
END
$$
"""

# The doors, recreated with their arguments checked (same signatures and results).
LOGIN_LOOKUP = (
    "CREATE OR REPLACE FUNCTION app_login_lookup(p_email text) RETURNS TABLE ("
    "organization_id uuid, user_id uuid, password_hash text, user_status text, "
    "org_status text) LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$ "
    "SELECT u.organization_id, u.id, u.password_hash::text, u.status::text, o.status::text "
    "FROM public.users u JOIN public.organizations o ON o.id = u.organization_id "
    "WHERE p_email IS NOT NULL AND length(p_email) <= 254 "
    "AND lower(u.email) = lower(p_email) $$"
)
EMAIL_EXISTS = (
    "CREATE OR REPLACE FUNCTION app_email_exists(p_email text) RETURNS boolean "
    "LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$ "
    "SELECT p_email IS NOT NULL AND length(p_email) <= 254 AND EXISTS ("
    "SELECT 1 FROM public.users WHERE lower(email) = lower(p_email)) $$"
)
# At most this many rows per housekeeping call, whatever the caller asks for.
HOUSEKEEPING_BATCH = 1000
OUTBOX_PENDING = (
    "CREATE OR REPLACE FUNCTION app_outbox_pending(p_older_than interval, p_limit integer) "
    "RETURNS TABLE (organization_id uuid, id uuid) LANGUAGE sql STABLE SECURITY DEFINER "
    "SET search_path = '' AS $$ SELECT o.organization_id, o.id FROM public.outbox o "
    "WHERE o.dispatched_at IS NULL "
    "AND o.created_at < now() - GREATEST(p_older_than, interval '0') "
    f"ORDER BY o.created_at LIMIT LEAST(GREATEST(p_limit, 0), {HOUSEKEEPING_BATCH}) $$"
)
STUCK_DOCUMENTS = (
    "CREATE OR REPLACE FUNCTION app_stuck_documents(p_older_than interval, p_limit integer) "
    "RETURNS TABLE (organization_id uuid, id uuid) LANGUAGE sql STABLE SECURITY DEFINER "
    "SET search_path = '' AS $$ SELECT d.organization_id, d.id FROM public.documents d "
    "WHERE d.status IN ('queued', 'extracting', 'analysing') "
    "AND d.updated_at < now() - GREATEST(p_older_than, interval '0') "
    f"ORDER BY d.updated_at LIMIT LEAST(GREATEST(p_limit, 0), {HOUSEKEEPING_BATCH}) $$"
)
DUE_FOR_PURGE = (
    "CREATE OR REPLACE FUNCTION app_organizations_due_for_purge(p_grace interval, "
    "p_limit integer) RETURNS TABLE (id uuid) LANGUAGE sql STABLE SECURITY DEFINER "
    "SET search_path = '' AS $$ "
    "SELECT o.id FROM public.organizations o WHERE o.status = 'pending_deletion' "
    "AND o.deletion_requested_at <= now() - GREATEST(p_grace, interval '1 day') "
    f"ORDER BY o.deletion_requested_at LIMIT LEAST(GREATEST(p_limit, 0), {HOUSEKEEPING_BATCH}) $$"
)
# 0008's list door, with the page size bounded and the offset non-negative.
ADMIN_COLUMNS = (
    "id uuid, name text, slug text, plan_id text, status text, quota_overrides jsonb, "
    "created_at timestamptz, member_count bigint, document_count bigint, "
    "storage_bytes bigint, documents_this_month bigint"
)
ADMIN_SELECT = (
    "o.id, o.name::text, o.slug::text, o.plan_id::text, o.status::text, o.quota_overrides, "
    "o.created_at, "
    "(SELECT count(*) FROM public.users u WHERE u.organization_id = o.id), "
    "(SELECT count(*) FROM public.documents d WHERE d.organization_id = o.id)"
    ", coalesce((SELECT t.storage_bytes FROM public.usage_totals t "
    "WHERE t.organization_id = o.id), 0)::bigint"
    ", coalesce((SELECT m.documents_uploaded FROM public.usage m WHERE m.organization_id = o.id "
    "AND m.period = date_trunc('month', now() AT TIME ZONE 'UTC')::date), 0)::bigint"
)
ADMIN_PAGE_MAX = 200
ADMIN_LIST = f"""
CREATE OR REPLACE FUNCTION app_admin_list_organizations(
    p_search text, p_limit integer, p_offset integer
) RETURNS TABLE ({ADMIN_COLUMNS}, total bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
    SELECT {ADMIN_SELECT}, count(*) OVER ()
    FROM public.organizations o
    WHERE p_search IS NULL OR p_search = ''
       OR strpos(lower(o.name), lower(left(p_search, 120))) > 0
       OR o.slug = lower(p_search)
    ORDER BY o.created_at DESC, o.id
    LIMIT LEAST(GREATEST(p_limit, 0), {ADMIN_PAGE_MAX}) OFFSET GREATEST(p_offset, 0)
$$
"""
# 0005's update door; a platform admin may set a status of active or suspended only
# (pending deletion is the owner's request, with its date, and the purge's business). The
# row lock no longer blocks the foreign keys of the organization's own tables.
ADMIN_UPDATE = """
CREATE OR REPLACE FUNCTION app_admin_update_organization(
    p_id uuid, p_plan_id text, p_status text, p_overrides jsonb
) RETURNS TABLE (old_value jsonb, new_value jsonb)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    v_old public.organizations%ROWTYPE;
    v_new public.organizations%ROWTYPE;
BEGIN
    IF p_id IS NULL THEN
        RAISE EXCEPTION 'an organization id is required';
    END IF;
    IF p_status IS NOT NULL AND p_status NOT IN ('active', 'suspended') THEN
        RAISE EXCEPTION 'status must be active or suspended';
    END IF;
    IF p_overrides IS NOT NULL AND jsonb_typeof(p_overrides) <> 'object' THEN
        RAISE EXCEPTION 'quota overrides must be a JSON object';
    END IF;
    -- FOR NO KEY UPDATE, not FOR UPDATE: the caller's tenant-role connection then writes the
    -- organization's own audit event (its foreign key takes KEY SHARE on this row) before
    -- both commit; FOR UPDATE would make it wait for this very transaction, for ever.
    SELECT * INTO v_old FROM public.organizations WHERE id = p_id FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    UPDATE public.organizations SET
        plan_id = coalesce(p_plan_id, plan_id),
        status = coalesce(p_status, status),
        quota_overrides = coalesce(p_overrides, quota_overrides)
    WHERE id = p_id
    RETURNING * INTO v_new;
    RETURN QUERY SELECT
        jsonb_build_object('plan_id', v_old.plan_id, 'status', v_old.status,
                           'quota_overrides', v_old.quota_overrides),
        jsonb_build_object('plan_id', v_new.plan_id, 'status', v_new.status,
                           'quota_overrides', v_new.quota_overrides);
END
$$
"""


def _key_row() -> tuple[str, str, str]:
    """A fresh 32-byte key and its HMAC pads, as bytea hex literals."""
    key = secrets.token_bytes(32)
    block = key.ljust(hashlib.sha256().block_size, b"\0")
    inner = bytes(b ^ 0x36 for b in block)
    outer = bytes(b ^ 0x5C for b in block)
    return tuple(f"'\\x{part.hex()}'::bytea" for part in (key, inner, outer))  # type: ignore[return-value]


def _rewrite_search_door(old: str, new: str) -> None:
    """Recreate 0003's search door with its calls of app_current_org() rewritten.

    Inside the door ``public.app_current_org()`` sat in WHERE clauses, where a bitmap heap
    scan's recheck evaluates it once per row; the verified function costs tens of microseconds
    a call, so each becomes ``(SELECT public.app_current_org())``: once per statement.
    """
    bind = op.get_bind()
    definition = bind.exec_driver_sql(
        f"SELECT pg_get_functiondef('{SEARCH}'::regprocedure)"
    ).scalar()
    assert old in definition, "the search door is not the one 0003 made"
    bind.exec_driver_sql(definition.replace(old, new))


def _database() -> str:
    return quote_ident(op.get_bind().exec_driver_sql("SELECT current_database()").scalar())


def upgrade() -> None:
    config = current_app.config
    ensure_login_role(config["PLATFORM_DB_ROLE"], config.get("PLATFORM_DB_PASSWORD"))
    tenant, platform = app_role(), platform_role()

    # The key: owner-only, no grant to anyone; read by SECURITY DEFINER functions alone.
    op.execute(
        "CREATE TABLE app_context_keys (id smallint PRIMARY KEY CHECK (id = 1), "
        "secret bytea NOT NULL, inner_pad bytea NOT NULL, outer_pad bytea NOT NULL)"
    )
    op.execute("REVOKE ALL ON app_context_keys FROM PUBLIC")
    secret, inner, outer = _key_row()
    op.execute(f"INSERT INTO app_context_keys VALUES (1, {secret}, {inner}, {outer})")

    op.execute(CURRENT_ORG_VERIFIED)
    _rewrite_search_door("public.app_current_org()", "(SELECT public.app_current_org())")
    op.execute(ENTER_ORG)
    op.execute(CONTEXT_KEY)
    op.execute(CREATE_ADMIN)
    for statement in (
        LOGIN_LOOKUP,
        EMAIL_EXISTS,
        OUTBOX_PENDING,
        STUCK_DOCUMENTS,
        DUE_FOR_PURGE,
        ADMIN_LIST,
        ADMIN_UPDATE,
    ):
        op.execute(statement)
    for function in TENANT_FUNCTIONS:
        grant_door(function, "tenant")
    for function in PLATFORM_FUNCTIONS:
        grant_door(function, "platform")

    # Platform tables: out of the tenant role's reach; the platform role reads them, appends
    # to the audit log and stamps log-ins. New admins only through app_create_platform_admin.
    for table in ("platform_admins", "platform_audit_events"):
        op.execute(f"REVOKE ALL ON {table} FROM {tenant}")
        op.execute(f"REVOKE ALL ON {table} FROM PUBLIC")
    op.execute(f"GRANT SELECT ON platform_admins TO {platform}")
    op.execute(
        f"GRANT UPDATE (name, password_hash, last_login_at) ON platform_admins TO {platform}"
    )
    op.execute(f"GRANT SELECT, INSERT ON platform_audit_events TO {platform}")
    op.execute(f"GRANT SELECT ON plans TO {platform}")
    # TRUNCATE ignores row-level security: no runtime role may hold it anywhere.
    for table in TENANT_TABLES:
        op.execute(f"REVOKE TRUNCATE, REFERENCES, TRIGGER ON {table} FROM {tenant}")
    op.execute(f"REVOKE TEMPORARY ON DATABASE {_database()} FROM PUBLIC")


def downgrade() -> None:
    tenant, platform = app_role(), platform_role()
    op.execute(f"GRANT TEMPORARY ON DATABASE {_database()} TO PUBLIC")
    op.execute(f"REVOKE ALL ON plans FROM {platform}")
    op.execute(f"REVOKE ALL ON platform_audit_events FROM {platform}")
    op.execute(f"REVOKE ALL ON platform_admins FROM {platform}")
    op.execute(f"GRANT SELECT, INSERT ON platform_admins TO {tenant}")
    stamps = "UPDATE (name, password_hash, last_login_at)"
    op.execute(f"GRANT {stamps} ON platform_admins TO {tenant}")
    op.execute(f"GRANT SELECT, INSERT ON platform_audit_events TO {tenant}")
    for function in PLATFORM_FUNCTIONS:
        if function in ("app_context_key()", "app_create_platform_admin(text, text, text)"):
            continue
        op.execute(f"REVOKE ALL ON FUNCTION {function} FROM {platform}")
        op.execute(f"GRANT EXECUTE ON FUNCTION {function} TO {tenant}")
    op.execute("DROP FUNCTION app_create_platform_admin(text, text, text)")
    op.execute("DROP FUNCTION app_context_key()")
    op.execute("DROP FUNCTION app_enter_org(uuid, text)")
    op.execute(CURRENT_ORG_PLAIN)
    op.execute(f"GRANT EXECUTE ON FUNCTION app_current_org() TO {tenant}")
    _rewrite_search_door("(SELECT public.app_current_org())", "public.app_current_org()")
    op.execute("DROP TABLE app_context_keys")
    # The doors keep their argument checks (they accept what the app sends either way), and
    # the platform role stays: roles are cluster-wide and may serve other databases.
    op.execute(f"REVOKE ALL ON SCHEMA public FROM {platform}")
    op.execute(f"REVOKE ALL ON DATABASE {_database()} FROM {platform}")
