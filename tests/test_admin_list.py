"""The platform admin's organization list: keyset pages, counts kept, indexed search (#15)."""

from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import text

from webapp import tenancy
from webapp.extensions import db


def literal(value: object) -> str:
    """A SQL literal (EXPLAIN takes no bind parameters)."""
    return "NULL" if value is None else "'" + str(value).replace("'", "''") + "'"


def door_plan(owner_engine, function: str, args: tuple) -> str:  # type: ignore[no-untyped-def]
    """EXPLAIN of a SQL door's own body (read from the catalog) with these arguments.

    The plan is the generic one a function's statement gets (its arguments are parameters),
    and sequential scans are priced out, as they would be at 10,000 organizations: the test
    database holds a handful, where any plan is cheap.
    """
    with owner_engine.connect() as conn:
        body, names, types = conn.execute(
            text(
                "SELECT prosrc, proargnames, "
                "ARRAY(SELECT format_type(t, NULL) FROM unnest(proargtypes) t) "
                "FROM pg_proc WHERE proname = :f"
            ),
            {"f": function},
        ).one()
        for number, name in enumerate(names[: len(types)], start=1):
            body = re.sub(rf"\b{name}\b", f"${number}", body)
        conn.execute(text("SET enable_seqscan = off"))
        conn.execute(text("SET plan_cache_mode = force_generic_plan"))
        body = body.replace("%", "%%")  # the driver reads % as a placeholder
        conn.exec_driver_sql(f"PREPARE door_plan({', '.join(types)}) AS {body}", {})
        values = ", ".join(f"{literal(v)}::{t}" for v, t in zip(args, types, strict=True))
        plan = "\n".join(conn.exec_driver_sql(f"EXPLAIN EXECUTE door_plan({values})", {}).scalars())
        conn.exec_driver_sql("DEALLOCATE door_plan", {})
        conn.rollback()
    return plan


def plan_of(owner_engine, search, after) -> str:  # type: ignore[no-untyped-def]
    """The list door's plan for a search and a cursor."""
    created, last_id = after or (None, None)
    return door_plan(owner_engine, "app_admin_organizations_page", (search, 51, created, last_id))


def test_the_list_pages_by_keyset_through_the_index(owner_engine, make_org) -> None:
    org = make_org()
    with owner_engine.connect() as conn:
        created = conn.scalar(
            text("SELECT created_at FROM organizations WHERE id = :o"), {"o": org.org_id}
        )
    for after in (None, (created, org.org_id)):
        plan = plan_of(owner_engine, None, after)
        # The page walks the newest-first index, and the cursor bounds the walk (an index
        # condition of that scan), rather than filtering the rows it read.
        bounded = re.search(
            r"Scan using ix_organizations_newest on organizations \w+ +\([^\n]*\)\n"
            r" +Index Cond: \(ROW\((o\.)?created_at, (o\.)?id\) < ROW\(",
            plan,
        )
        assert bounded, plan


def test_a_name_search_goes_through_the_trigram_index(owner_engine) -> None:
    with owner_engine.connect() as conn:
        offered = conn.scalar(text("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'"))
    if offered is None:
        pytest.skip("this server has no pg_trgm (the embedded pgserver): searches are unindexed")
    plan = plan_of(owner_engine, "steering", None)
    assert "Bitmap Index Scan on ix_organizations_name_trgm" in plan, plan


def test_pages_follow_each_other_without_gaps_or_repeats(app, make_org) -> None:
    """Every organization of a search appears once, newest first, across keyset pages."""
    tag = uuid.uuid4().hex[:8]
    made = [make_org(f"Keyset {tag} {n}").org_id for n in range(5)]
    seen: list[uuid.UUID] = []
    after = None
    with app.app_context():
        while True:
            page = tenancy.admin_organizations_page(f"keyset {tag}", 2, after)
            db.session.rollback()
            if not page:
                break
            seen += [record.id for record in page]
            after = (page[-1].created_at, page[-1].id)
    assert seen == list(reversed(made))


def test_counts_are_kept_in_the_usage_row(app, make_org, owner_engine) -> None:
    """Members and documents counted by the writes themselves, down as well as up."""
    org = make_org()
    with owner_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO documents (organization_id, id, title, filename, content_type, "
                "detected_type, size_bytes, sha256, status, progress, attempts, created_at, "
                "updated_at) SELECT :o, gen_random_uuid(), 'x', 'x.txt', 'text/plain', 'txt', "
                "1, md5(g::text), 'queued', 0, 0, now(), now() FROM generate_series(1, 3) g"
            ),
            {"o": org.org_id},
        )
        conn.execute(
            text(
                "DELETE FROM documents WHERE ctid IN (SELECT ctid FROM documents "
                "WHERE organization_id = :o LIMIT 1)"
            ),
            {"o": org.org_id},
        )
    with app.app_context():
        (record,) = tenancy.admin_organizations_page(org.name, 5, None)
        db.session.rollback()
    assert (record.member_count, record.document_count) == (1, 2)
