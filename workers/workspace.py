"""The workspace's periodic work: the daily digest of overdue actions (webapp/workspace)."""

from __future__ import annotations

import datetime as dt

from flask import current_app

from webapp import tenancy
from webapp.extensions import db
from webapp.workspace import notify

BATCH = 1000


def publish_overdue_digests(today: dt.date | None = None) -> int:
    """Publish ``overdue_digest(org_id)`` for every organization the door names; how many."""
    today = today or dt.datetime.now(dt.UTC).date()
    org_ids = tenancy.organizations_with_overdue(today, BATCH)
    celery = current_app.extensions["celery"]
    for org_id in org_ids:
        celery.send_task(
            "workers.tasks.overdue_digest", args=[str(org_id)], retry=False, ignore_result=True
        )
    return len(org_ids)


def overdue_digest(today: dt.date | None = None) -> int:
    """Write the organization's overdue digests and ask for their mail; how many."""
    today = today or dt.datetime.now(dt.UTC).date()
    written = notify.overdue_digest(today)
    db.session.commit()
    if written:
        notify.request_delivery()
    return written
