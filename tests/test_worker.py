"""Tenant context in a real Celery worker process (not eager mode)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from webapp.tenancy import TenantContextMissing
from workers.tasks import tenant_census

pytestmark = pytest.mark.slow


def _census_events(owner_engine, org_id=None) -> int:
    with owner_engine.connect() as conn:
        if org_id is None:
            return conn.scalar(
                text("SELECT count(*) FROM audit_events WHERE action = 'worker.census'")
            )
        return conn.scalar(
            text(
                "SELECT count(*) FROM audit_events WHERE action = 'worker.census' "
                "AND organization_id = :o"
            ),
            {"o": org_id},
        )


def test_alternating_tasks_each_see_only_their_organization(worker, app, make_org, owner_engine):
    a, b = make_org(), make_org()
    with app.app_context():
        results = [
            tenant_census.delay(org.org_id, note=str(i)) for i, org in enumerate([a, b, a, b, a, b])
        ]
        outcomes = [r.get(timeout=60) for r in results]
    assert len({o["pid"] for o in outcomes}) == 1, "all tasks ran in one worker process"
    for org, outcome in zip([a, b, a, b, a, b], outcomes, strict=True):
        assert outcome["org_id"] == str(org.org_id)
        assert outcome["organizations"] == [str(org.org_id)]
        assert outcome["user_orgs"] == [str(org.org_id)]
    # Each census counted only its own organization's events: 1, 1, 2, 2, 3, 3.
    assert [o["census_events"] for o in outcomes] == [1, 1, 2, 2, 3, 3]
    assert _census_events(owner_engine, a.org_id) == 3
    assert _census_events(owner_engine, b.org_id) == 3


def test_enqueueing_without_an_organization_raises(app):
    with app.app_context():
        with pytest.raises(TenantContextMissing):
            tenant_census.delay()
        with pytest.raises(TenantContextMissing):
            tenant_census.delay("not-a-uuid")
        with pytest.raises(TenantContextMissing):
            tenant_census.apply_async(kwargs={"note": "x"})


def test_a_message_without_an_organization_fails_and_changes_nothing(
    worker, app, make_org, owner_engine
):
    make_org()
    before = _census_events(owner_engine)
    celery = app.extensions["celery"]
    for args in ([], [None], ["not-a-uuid"]):
        result = celery.send_task("workers.tasks.tenant_census", args=args)
        with pytest.raises(Exception) as failure:
            result.get(timeout=60)
        assert "TenantContextMissing" in type(failure.value).__name__ + repr(failure.value)
    assert _census_events(owner_engine) == before
    # The worker is still healthy afterwards.
    org = make_org()
    with app.app_context():
        assert tenant_census.delay(org.org_id).get(timeout=60)["org_id"] == str(org.org_id)
