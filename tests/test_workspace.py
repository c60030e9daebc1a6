"""The workspace across documents (issue 12): the Actions page, editable digests, exports,
notifications. Real PostgreSQL and Redis; documents processed in-process by the pipeline."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import time
import uuid
from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text

from tests.conftest import FIXTURES, csrf_token, login, process_now, upload, uploaded_ids
from tests.test_roles import PASSWORD, add_member
from webapp.documents import services as document_services
from webapp.extensions import db
from webapp.models import AuditEvent, DigestItem, Notification, User
from webapp.tenancy import tenant_context
from webapp.workspace import notify
from workers import workspace as workspace_tasks

MINUTES = (FIXTURES / "meeting_minutes.txt").read_text()
BUDGET = "Maria to send the revised budget by 12 March 2027."


@dataclass
class Team:
    org: object
    owner: FlaskClient
    maria: User
    maria_client: FlaskClient
    document_id: str


def _client(app: Flask, user: User) -> FlaskClient:
    client = app.test_client()
    assert login(client, user.email, PASSWORD).status_code == 302
    return client


@pytest.fixture
def team(app, make_org, login_as, monkeypatch) -> Team:
    """An organization whose member Maria Lopez is named in the minutes it uploaded.

    Its notifications' mail stays pending for the test to deliver in-process: no delivery is
    published, so a real worker still running from an earlier test file cannot mail them
    first (it would, on the shared default queue, whenever it is quicker than the test).
    """
    monkeypatch.setattr(notify, "request_delivery", lambda org_id=None: None)
    org = make_org()
    maria = add_member(app, org.org_id, "member", name="Maria Lopez")
    owner = login_as(org)
    tag = uuid.uuid4().hex[:8]
    response = upload(owner, ((MINUTES + f"\nRef {tag}\n").encode(), f"minutes-{tag}.txt"))
    (document_id,) = set(uploaded_ids(response))
    assert process_now(app, org.org_id, document_id) == "done"
    return Team(org, owner, maria, _client(app, maria), document_id)


def _items(app, org_id, **where) -> list[DigestItem]:
    with app.app_context(), tenant_context(org_id):
        query = select(DigestItem).order_by(DigestItem.kind, DigestItem.position)
        for name, value in where.items():
            query = query.where(getattr(DigestItem, name) == value)
        found = list(db.session.scalars(query))
        for item in found:
            db.session.expunge(item)
        db.session.remove()
    return found


def _item(app, org_id, text_contains: str) -> DigestItem:
    (found,) = [i for i in _items(app, org_id) if text_contains in i.text]
    return found


def _post(client: FlaskClient, path: str, **data: str):  # type: ignore[no-untyped-def]
    token = csrf_token(client, "/actions")
    return client.post(path, data={"csrf_token": token, **data})


def _reprocess(app, team: Team) -> None:
    with app.app_context(), tenant_context(team.org.org_id):
        document_services.reprocess_documents([team.document_id], None)
        db.session.remove()
    assert process_now(app, team.org.org_id, team.document_id) == "done"


# --------------------------------------------------------------------------------------------
# The Actions page


def test_a_stored_digest_materialises_its_items_matched_to_members(app, team):
    items = _items(app, team.org.org_id)
    assert {i.kind for i in items} == {"action", "decision", "risk"}
    budget = _item(app, team.org.org_id, "revised budget")
    assert budget.member_id == team.maria.id  # "Maria" is the only member of that first name
    assert budget.due_date == dt.date(2027, 3, 12)
    assert budget.source_line == MINUTES.split("\n").index("- Action: " + BUDGET) + 1
    assert budget.origin == "analyser" and not budget.human
    assert _item(app, team.org.org_id, "cutover weekend").member_id is None  # Tom: no member


def test_the_actions_page_lists_actions_under_their_member_and_filters(app, team):
    page = team.owner.get("/actions").get_data(as_text=True)
    assert BUDGET in page and "Maria Lopez" in page
    assert "Tom Brennan" in page and "not a member yet" in page
    mine = team.maria_client.get("/actions?member=me").get_data(as_text=True)
    assert BUDGET in mine and "cutover weekend" not in mine
    by_owner = team.owner.get(f"/actions?member={team.maria.id}").get_data(as_text=True)
    assert BUDGET in by_owner and "licence purchase order" not in by_owner
    assert "1 action(s)" in by_owner
    by_doc = team.owner.get(f"/actions?document={team.document_id}").get_data(as_text=True)
    assert "5 action(s)" in by_doc
    # Nothing of these minutes is due this week or overdue (their dates are in 2027) ...
    assert "0 action(s)" in team.owner.get("/actions?view=overdue").get_data(as_text=True)
    # ... until an action is due yesterday.
    item = _item(app, team.org.org_id, "revised budget")
    yesterday = (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)).isoformat()
    response = _post(
        team.owner, f"/items/{item.id}", text=item.text, owner="Maria Lopez", due=yesterday
    )
    assert response.status_code == 302
    overdue = team.owner.get("/actions?view=overdue").get_data(as_text=True)
    assert "1 action(s)" in overdue and BUDGET in overdue
    # Sorted by owner: Daniel's (no member) before Maria Lopez, Priya after.
    by_name = team.owner.get("/actions?sort=owner").get_data(as_text=True)
    assert by_name.index("brief the executive") < by_name.index(BUDGET)
    assert by_name.index(BUDGET) < by_name.index("licence purchase order")


def test_due_this_week_is_today_to_sunday(app, team):
    today = dt.datetime.now(dt.UTC).date()
    sunday = today + dt.timedelta(days=6 - today.weekday())
    budget = _item(app, team.org.org_id, "revised budget")
    priya = _item(app, team.org.org_id, "licence purchase order")
    _post(team.owner, f"/items/{budget.id}", text=budget.text, owner="Maria", due=str(sunday))
    _post(team.owner, f"/items/{priya.id}", text=priya.text, owner="Priya",
          due=str(sunday + dt.timedelta(days=1)))  # fmt: skip
    week = team.owner.get("/actions?view=week").get_data(as_text=True)
    assert "1 action(s)" in week and BUDGET in week and "licence" not in week


def test_the_actions_page_paginates(app, team):
    for n in range(26):
        _post(team.owner, f"/documents/{team.document_id}/digest/items", kind="action",
              text=f"Extra task {n:02d}")  # fmt: skip
    first = team.owner.get("/actions?sort=newest").get_data(as_text=True)
    assert "31 action(s)" in first and "Page 1 of 2" in first
    second = team.owner.get("/actions?sort=newest&page=2").get_data(as_text=True)
    assert "Page 2 of 2" in second and first.count('<tr id="item-') == 25
    assert second.count('<tr id="item-') == 6


def test_the_action_links_to_the_line_it_came_from(app, team):
    item = _item(app, team.org.org_id, "revised budget")
    page = team.owner.get("/actions").get_data(as_text=True)
    link = f"/documents/{team.document_id}/text?line={item.source_line}"
    assert link in page
    source = team.owner.get(link).get_data(as_text=True)
    assert re.search(rf'<tr id="L{item.source_line}" class="target">.*?{re.escape(BUDGET)}',
                     source, re.S)  # fmt: skip


def test_this_is_links_an_owner_to_a_member_and_is_remembered(app, team):
    tom = add_member(app, team.org.org_id, "member", name="T. Brennan")
    response = _post(team.owner, "/actions/owners", name="tom brennan", user_id=str(tom.id))
    assert response.status_code == 302
    assert _item(app, team.org.org_id, "cutover weekend").member_id == tom.id
    with app.app_context(), tenant_context(team.org.org_id):
        note = db.session.scalar(select(Notification).where(Notification.user_id == tom.id))
        assert note is not None and note.kind == "assigned" and "cutover" in note.message
        db.session.remove()
    # Remembered: reprocessing matches the name to the member again.
    _reprocess(app, team)
    assert _item(app, team.org.org_id, "cutover weekend").member_id == tom.id
    # Another organization's member cannot be the target.
    response = _post(team.owner, "/actions/owners", name="priya", user_id=str(uuid.uuid4()))
    assert response.status_code == 400


# --------------------------------------------------------------------------------------------
# Editable digests


def test_edits_survive_reprocessing_and_are_audited(app, team):
    org_id = team.org.org_id
    budget = _item(app, org_id, "revised budget")
    priya = _item(app, org_id, "licence purchase order")
    daniel = _item(app, org_id, "brief the executive")
    decision = _item(app, org_id, "freeze the data model")
    assert _post(team.owner, f"/items/{budget.id}", text="Send the revised budget v2",
                 owner="Maria Lopez", due="2027-03-20").status_code == 302  # fmt: skip
    assert _post(team.owner, f"/items/{priya.id}/done", done="1").status_code == 302
    assert _post(team.owner, f"/items/{daniel.id}/remove").status_code == 302
    assert _post(team.owner, f"/items/{decision.id}/remove").status_code == 302
    assert _post(team.owner, f"/documents/{team.document_id}/digest/items", kind="risk",
                 text="Hosting contract renewal", severity="high").status_code == 302  # fmt: skip
    assert _post(team.owner, f"/documents/{team.document_id}/rename",
                 title="Steering minutes, March").status_code == 302  # fmt: skip

    _reprocess(app, team)

    live = [i for i in _items(app, org_id) if i.removed_at is None]
    texts = [i.text for i in live]
    assert "Send the revised budget v2" in texts and BUDGET not in texts  # human wins
    assert not any("brief the executive" in t for t in texts)  # removed stays removed
    assert not any("freeze the data model" in t for t in texts)
    edited = _item(app, org_id, "revised budget v2")
    assert edited.human and edited.due_date == dt.date(2027, 3, 20)
    assert _item(app, org_id, "licence purchase order").done
    (risk,) = [i for i in live if i.text == "Hosting contract renewal"]
    assert risk.origin == "human" and risk.severity == "high"
    assert len([i for i in live if i.kind == "action"]) == 4  # no duplicate of any
    page = team.owner.get(f"/documents/{team.document_id}").get_data(as_text=True)
    assert "Steering minutes, March" in page and "edited" in page
    with app.app_context(), tenant_context(org_id):
        actions = set(db.session.scalars(select(AuditEvent.action)))
        db.session.remove()
    assert {"digest_item.edited", "digest_item.done", "digest_item.removed", "digest_item.added",
            "document.renamed"} <= actions  # fmt: skip


def test_the_api_gives_the_edited_digest(app, team):
    from webapp.api import tokens

    budget = _item(app, team.org.org_id, "revised budget")
    _post(team.owner, f"/items/{budget.id}", text="Budget v3", owner="Maria", due="")
    with app.app_context(), tenant_context(team.org.org_id):
        owner = db.session.get(User, (team.org.org_id, team.org.user_id))
        issued = tokens.create_token(owner, "ci")
        db.session.remove()
    body = team.owner.get(
        f"/api/v1/documents/{team.document_id}",
        headers={"Authorization": f"Bearer {issued.plaintext}"},
    ).get_json()
    (edited,) = [i for i in body["items"]["action"] if i["id"] == str(budget.id)]
    assert edited["text"] == "Budget v3" and edited["edited"] and edited["due_date"] is None
    assert edited["member_id"] == str(team.maria.id)
    assert len(body["items"]["decision"]) == 3 and body["digest"]["action_items"]


def test_bad_input_is_refused_and_changes_nothing(app, team):
    budget = _item(app, team.org.org_id, "revised budget")
    response = _post(team.owner, f"/items/{budget.id}", text="New", owner="", due="next week")
    assert response.status_code == 303
    assert "YYYY-MM-DD" in team.owner.get(response.location).get_data(as_text=True)
    response = _post(team.owner, f"/items/{budget.id}", text="   ", owner="", due="")
    assert response.status_code == 303
    after = _item(app, team.org.org_id, "revised budget")
    assert (after.text, after.due_date, after.edited_at) == (budget.text, budget.due_date, None)
    response = _post(team.owner, f"/documents/{team.document_id}/digest/items", kind="poem",
                     text="x")  # fmt: skip
    assert response.status_code == 303
    assert len(_items(app, team.org.org_id)) == len(_items(app, team.org.org_id, origin="analyser"))


def test_a_viewer_cannot_edit_and_a_member_only_their_own_documents(app, team):
    viewer = _client(app, add_member(app, team.org.org_id, "viewer"))
    budget = _item(app, team.org.org_id, "revised budget")
    assert _post(viewer, f"/items/{budget.id}/done", done="1").status_code == 403
    # Maria is a member; the owner uploaded this document.
    assert _post(team.maria_client, f"/items/{budget.id}", text="x", owner="",
                 due="").status_code == 403  # fmt: skip
    assert _post(team.maria_client, f"/documents/{team.document_id}/rename",
                 title="Mine").status_code == 403  # fmt: skip
    assert not _item(app, team.org.org_id, "revised budget").done
    edit = team.owner.get(f"/documents/{team.document_id}/digest/edit")
    assert edit.status_code == 200 and 'value="Maria to send the revised budget' in edit.get_data(
        as_text=True
    )


def test_the_assigned_member_may_mark_their_own_action_done(app, team):
    """Maria may not edit the owner's document, but may close the action given to her."""
    budget = _item(app, team.org.org_id, "revised budget")
    priya = _item(app, team.org.org_id, "licence purchase order")
    page = team.maria_client.get("/actions").get_data(as_text=True)
    assert f"/items/{budget.id}/done" in page and f"/items/{priya.id}/done" not in page
    assert _post(team.maria_client, f"/items/{budget.id}/done", done="1").status_code == 302
    assert _post(team.maria_client, f"/items/{priya.id}/done", done="1").status_code == 403
    assert _item(app, team.org.org_id, "revised budget").done
    assert not _item(app, team.org.org_id, "licence purchase order").done


# --------------------------------------------------------------------------------------------
# Exports


def test_markdown_and_csv_exports(app, team):
    budget = _item(app, team.org.org_id, "revised budget")
    _post(team.owner, f"/items/{budget.id}/done", done="1")
    _post(team.owner, f"/documents/{team.document_id}/digest/items", kind="action",
          text="=HYPERLINK(\"http://x\")", owner="Maria")  # fmt: skip
    md = team.owner.get(f"/documents/{team.document_id}/digest.md")
    assert md.status_code == 200 and md.mimetype == "text/markdown"
    body = md.get_data(as_text=True)
    assert "## Action items" in body and f"- [x] {BUDGET}" in body
    assert "## Decisions" in body and "## Risks" in body and "(severity: high)" in body
    response = team.owner.get(f"/documents/{team.document_id}/actions.csv")
    assert (
        response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    )
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == 6
    (row,) = [r for r in rows if r["text"] == BUDGET]
    assert (row["member"], row["due_date"], row["done"], row["line"]) == (
        "Maria Lopez", "2027-03-12", "yes", str(budget.source_line))  # fmt: skip
    (formula,) = [r for r in rows if "HYPERLINK" in r["text"]]
    assert formula["text"].startswith("'=") and formula["origin"] == "human"


def test_the_calendar_feed_lists_my_actions_behind_a_revocable_secret(app, team, owner_engine):
    page = _post(team.maria_client, "/calendar", act="create").get_data(as_text=True)
    link = re.search(r'id="feed-link" readonly value="([^"]+)"', page).group(1)
    path = link.split("://", 1)[1].split("/", 1)[1]
    anonymous = app.test_client()
    response = anonymous.get("/" + path)
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    ics = response.get_data(as_text=True)
    assert "BEGIN:VCALENDAR" in ics and "SUMMARY:Maria to send the revised budget" in ics
    assert "DTSTART;VALUE=DATE:20270312" in ics and "licence" not in ics
    secret = path.rsplit("_", 1)[1].removesuffix(".ics")
    with owner_engine.connect() as conn:
        stored = conn.execute(text("SELECT secret_hash FROM calendar_feeds")).scalars().all()
    assert stored and all(secret not in s for s in stored)
    assert anonymous.get("/" + path.replace(secret[:6], "AAAAAA")).status_code == 404
    _post(team.maria_client, "/calendar", act="revoke")
    assert anonymous.get("/" + path).status_code == 404


# --------------------------------------------------------------------------------------------
# Notifications


def test_processing_and_assignment_notify_in_app_and_by_mail(app, team, monkeypatch):
    with app.app_context(), tenant_context(team.org.org_id):
        notes = {(n.user_id, n.kind) for n in db.session.scalars(select(Notification))}
        db.session.remove()
    assert (team.org.user_id, "processing_done") in notes
    assert (team.maria.id, "assigned") in notes
    page = team.maria_client.get("/actions").get_data(as_text=True)
    assert "Notifications: 1 unread" in page
    listing = team.maria_client.get("/notifications").get_data(as_text=True)
    assert "You were assigned an action" in listing and "revised budget" in listing
    sent: list = []
    monkeypatch.setitem(app.config, "MAIL_SENDER", sent.append)
    with app.app_context(), tenant_context(team.org.org_id):
        assert notify.deliver_pending() == 0.0
        assert notify.deliver_pending() == 0.0  # each is mailed once
        db.session.remove()
    to = {m.to: m for m in sent}
    assert len(sent) == 2 and set(to) == {team.maria.email, team.org.email}
    assert "revised budget" in to[team.maria.email].body
    # Reading it clears the bell.
    note_id = re.search(r"/notifications/([0-9a-f-]{36})/read", listing).group(1)
    assert _post(team.maria_client, f"/notifications/{note_id}/read").status_code == 302
    assert "Notifications: 0 unread" in team.maria_client.get("/actions").get_data(as_text=True)


def test_a_failed_document_notifies_its_uploader(app, make_org, login_as):
    org = make_org()
    client = login_as(org)
    content = (FIXTURES / "bad" / "truncated.pdf").read_bytes()
    (document_id,) = set(uploaded_ids(upload(client, (content, "broken.pdf"))))
    assert process_now(app, org.org_id, document_id) == "failed"
    with app.app_context(), tenant_context(org.org_id):
        (note,) = db.session.scalars(select(Notification))
        assert note.kind == "processing_failed" and note.user_id == org.user_id
        assert note.message.startswith("Processing “broken")
        db.session.remove()


def test_mail_is_rate_limited_per_organization(app, team, make_org, monkeypatch):
    sent: list = []
    monkeypatch.setitem(app.config, "MAIL_SENDER", sent.append)
    monkeypatch.setitem(app.config, "NOTIFY_MAIL_RATE", "1/minute")
    with app.app_context(), tenant_context(team.org.org_id):
        assert notify.deliver_pending() > 0  # the second mail waits for the next window
        pending = db.session.scalar(
            select(db.func.count()).where(Notification.mail_pending.is_(True))
        )
        db.session.remove()
    assert len(sent) == 1 and pending == 1
    # Another organization's budget is its own.
    other = make_org()
    with app.app_context(), tenant_context(other.org_id):
        notify.notify(other.user_id, "assigned", "hello", None)
        db.session.commit()
        assert notify.deliver_pending() == 0.0
        db.session.remove()
    assert len(sent) == 2 and sent[1].to == other.email


def test_the_daily_overdue_digest_once_a_day_and_opt_out(app, team, monkeypatch):
    budget = _item(app, team.org.org_id, "revised budget")
    _post(team.owner, f"/items/{budget.id}", text=budget.text, owner="Maria Lopez",
          due="2026-01-05")  # fmt: skip
    published: list = []
    celery = app.extensions["celery"]
    monkeypatch.setattr(celery, "send_task", lambda name, args, **kw: published.append(args))
    with app.app_context():
        assert workspace_tasks.publish_overdue_digests(dt.date(2026, 12, 1)) >= 1
    assert [str(team.org.org_id)] in published

    def run() -> int:
        with app.app_context(), tenant_context(team.org.org_id):
            written = workspace_tasks.overdue_digest(dt.date(2026, 12, 1))
            db.session.remove()
        return written

    assert run() == 1 and run() == 0  # once a day
    with app.app_context(), tenant_context(team.org.org_id):
        (note,) = db.session.scalars(select(Notification).where(Notification.kind == "overdue"))
        assert note.user_id == team.maria.id and "1 of your action is overdue" in note.message
        db.session.delete(note)
        db.session.commit()
        db.session.remove()
    _post(team.maria_client, "/notifications/preferences", mail="1")  # digest unticked
    assert run() == 0


# --------------------------------------------------------------------------------------------
# The dashboard


def test_the_dashboard_is_the_managers_start_page(app, team):
    budget = _item(app, team.org.org_id, "revised budget")
    _post(team.owner, f"/items/{budget.id}", text=budget.text, owner="Maria Lopez",
          due="2026-01-05")  # fmt: skip
    page = team.maria_client.get("/dashboard").get_data(as_text=True)
    mine = page[page.index('id="my-actions"') : page.index('id="overdue"')]
    assert BUDGET in mine and "overdue" in mine and "licence purchase order" not in mine
    assert '<strong id="count-mine">1</strong>' in page
    assert '<strong id="count-mine-overdue">1</strong>' in page
    overdue = page[page.index('id="overdue"') : page.index('id="recent-documents"')]
    assert BUDGET in overdue and "Maria Lopez" in overdue
    recent = page[page.index('id="recent-documents"') : page.index('id="usage"')]
    assert f"/documents/{team.document_id}" in recent and "badge-done" in recent
    usage = " ".join(page[page.index('id="usage"') : page.index('id="members"')].split())
    assert "Documents this month: 1 of 50" in usage and "Members: 2 of 3" in usage
    members = page[page.index('id="members"') :]
    assert f'/actions?member={team.maria.id}">1</a>' in members and team.maria.email in members
    # The owner has no action of their own.
    owner_page = team.owner.get("/dashboard").get_data(as_text=True)
    assert "No open actions are yours" in owner_page


@pytest.mark.slow
def test_the_mail_tasks_run_in_a_real_worker_within_their_organization(app, team, worker):
    """Tenant-aware tasks: a real worker writes the organization's overdue digest and mails
    its pending notifications (processing done, assigned, overdue)."""
    from tests.conftest import TEST_QUEUE

    budget = _item(app, team.org.org_id, "revised budget")
    _post(team.owner, f"/items/{budget.id}", text=budget.text, owner="Maria Lopez",
          due="2026-01-05")  # fmt: skip
    celery = app.extensions["celery"]
    org = str(team.org.org_id)
    celery.send_task("workers.tasks.overdue_digest", args=[org], queue=TEST_QUEUE)
    celery.send_task("workers.tasks.deliver_notifications", args=[org], queue=TEST_QUEUE)

    def pending() -> tuple[int, int, int]:
        with app.app_context(), tenant_context(team.org.org_id):
            rows = list(db.session.scalars(select(Notification)))
            db.session.remove()
        overdue = sum(n.kind == "overdue" for n in rows)
        return (
            overdue,
            sum(n.mail_pending for n in rows),
            sum(n.mailed_at is not None for n in rows),
        )

    deadline = dt.datetime.now() + dt.timedelta(seconds=60)
    while True:
        overdue, waiting, mailed = pending()
        if overdue == 1 and waiting == 0 and mailed >= 3:
            break
        assert dt.datetime.now() < deadline, (overdue, waiting, mailed)
        time.sleep(0.5)


def test_backfill_fills_the_actions_of_documents_processed_before(app, team, owner_engine):
    with owner_engine.begin() as conn:
        conn.execute(
            text("DELETE FROM digest_items WHERE organization_id = :o"), {"o": team.org.org_id}
        )
    assert "0 action(s)" in team.owner.get("/actions").get_data(as_text=True)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["workspace", "backfill"])
    assert result.exit_code == 0, result.output
    assert "backfilled" in result.output
    page = team.owner.get("/actions").get_data(as_text=True)
    assert "5 action(s)" in page and "Maria Lopez" in page
    # Idempotent: a second run adds nothing.
    result = runner.invoke(args=["workspace", "backfill", "--org", str(team.org.org_id)])
    assert result.output.startswith("0 document(s) in 1 organization(s)")
    assert len(_items(app, team.org.org_id, kind="action")) == 5
    with owner_engine.connect() as conn:
        audited = conn.scalar(
            text("SELECT count(*) FROM platform_audit_events WHERE action = 'workspace.backfill'")
        )
    assert audited >= 2


def test_two_deliveries_at_once_mail_each_notification_once(app, make_org, monkeypatch):
    import threading

    org = make_org()
    with app.app_context(), tenant_context(org.org_id):
        for n in range(6):
            notify.notify(org.user_id, "assigned", f"note {n}", None)
        db.session.commit()
        db.session.remove()
    sent: list = []

    def slow(message) -> None:  # type: ignore[no-untyped-def]
        time.sleep(0.1)
        sent.append(message.body)

    monkeypatch.setitem(app.config, "MAIL_SENDER", slow)

    def deliver() -> None:
        with app.app_context(), tenant_context(org.org_id):
            notify.deliver_pending()
            db.session.remove()

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(sent) == sorted(f"note {n}\n" for n in range(6))


def test_one_delivery_message_stands_for_every_request_until_it_starts(app, make_org, monkeypatch):
    """A document processed asks for a delivery after its commit; while one is asked for and
    has not started (or waits for its retry), further requests send no message: it reads
    what is pending after it starts. Once it starts, the next request sends one again."""
    org = make_org()
    sent: list = []
    celery = app.extensions["celery"]
    monkeypatch.setattr(celery, "send_task", lambda name, **options: sent.append(options["args"]))
    with app.app_context(), tenant_context(org.org_id):
        for _ in range(5):
            notify.request_delivery()
        assert sent == [[str(org.org_id)]]
        notify.delivery_started(org.org_id)  # the task begins: later notifications ask again
        notify.request_delivery()
        notify.request_delivery()
        assert len(sent) == 2
        notify.delivery_started(org.org_id)
        notify.delivery_waits(org.org_id, 30)  # over its mail budget: it runs again in 30 s
        notify.request_delivery()
        assert len(sent) == 2
        # Another organization's requests are its own.
        other = make_org()
        notify.request_delivery(other.org_id)
        assert sent[-1] == [str(other.org_id)]
        # A message that could not be published leaves no mark: the next request sends one.
        notify.delivery_started(org.org_id)

        def down(name, **options):  # type: ignore[no-untyped-def]
            raise ConnectionError("broker down")

        monkeypatch.setattr(celery, "send_task", down)
        notify.request_delivery()
        monkeypatch.setattr(
            celery, "send_task", lambda name, **options: sent.append(options["args"])
        )
        notify.request_delivery()
        assert sent[-1] == [str(org.org_id)] and len(sent) == 4
