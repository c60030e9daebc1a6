"""Housekeeping doors read partial indexes of the states they look for (issue 15, #10).

Each door's generic plan (see ``test_admin_list.door_plan``) must go through the partial
index named here, so its cost follows the rows in that state, not every organization's.
"""

from __future__ import annotations

import pytest

from tests.test_admin_list import door_plan

DOORS = [
    ("app_outbox_pending", ("30 seconds", 100), "ix_outbox_pending"),
    ("app_expired_leases", (100,), "ix_documents_in_progress"),
    ("app_waiting_organizations", ("5 seconds", 100), "ix_documents_active"),
    ("app_organizations_due_for_purge", ("30 days", 10), "ix_organizations_pending_deletion"),
]


@pytest.mark.parametrize(("function", "args", "index"), DOORS)
def test_a_housekeeping_door_reads_its_partial_index(owner_engine, function, args, index):
    plan = door_plan(owner_engine, function, args)
    assert f"using {index}" in plan or f"on {index}" in plan, plan
