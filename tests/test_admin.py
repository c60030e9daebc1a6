"""Platform administration: admin accounts, the 404 wall, plan/org changes and their audit."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError

from tests.conftest import CSRF_RE, csrf_token, login, upload
from webapp.admin import services
from webapp.extensions import db
from webapp.plans import LIMIT_NAMES, human_bytes


@dataclass(frozen=True)
class AdminAccount:
    email: str
    password: str
    id: uuid.UUID


@pytest.fixture
def platform_admin(app) -> AdminAccount:
    """A platform admin made through the service the CLI uses."""
    tag = uuid.uuid4().hex[:8]
    email, password = f"root-{tag}@platform.example", f"admin-{tag}-secret"
    with app.app_context():
        admin = services.create_admin(email, f"Root {tag}", password, services.Actor("cli:test"))
        db.session.remove()
    return AdminAccount(email, password, admin.id)


def admin_login(client: FlaskClient, email: str, password: str):  # type: ignore[no-untyped-def]
    token = csrf_token(client, "/admin/login")
    return client.post(
        "/admin/login", data={"email": email, "password": password, "csrf_token": token}
    )


@pytest.fixture
def admin_client(app, platform_admin) -> FlaskClient:
    client = app.test_client()
    response = admin_login(client, platform_admin.email, platform_admin.password)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


@pytest.fixture
def restore_plans(owner_engine):
    """Plans are global: put every limit back after a test that changes them."""
    with owner_engine.connect() as conn:
        saved = [dict(r._mapping) for r in conn.execute(text("SELECT * FROM plans"))]
    yield
    with owner_engine.begin() as conn:
        for row in saved:
            sets = ", ".join(f"{name} = :{name}" for name in LIMIT_NAMES)
            conn.execute(text(f"UPDATE plans SET {sets} WHERE id = :id"), row)


def platform_events(owner_engine, target_id: object) -> list[dict]:
    with owner_engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT * FROM platform_audit_events WHERE target_id = :t ORDER BY created_at, id"
            ),
            {"t": str(target_id)},
        )
        return [dict(r._mapping) for r in rows]


def org_events(owner_engine, org_id: uuid.UUID, prefix: str = "organization.") -> list[dict]:
    with owner_engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT action, details FROM audit_events WHERE organization_id = :o "
                "AND action LIKE :p ORDER BY created_at, id"
            ),
            {"o": org_id, "p": prefix + "%"},
        )
        return [dict(r._mapping) for r in rows]


def org_row(owner_engine, org_id: uuid.UUID) -> dict:
    with owner_engine.connect() as conn:
        row = conn.execute(
            text("SELECT plan_id, status, quota_overrides FROM organizations WHERE id = :o"),
            {"o": org_id},
        ).one()
        return dict(row._mapping)


def org_form(client: FlaskClient, org_id: uuid.UUID, **fields: str):  # type: ignore[no-untyped-def]
    """POST the organization form with its current values, changed by ``fields``."""
    page = client.get(f"/admin/organizations/{org_id}")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    data = {"csrf_token": CSRF_RE.search(body).group(1), "plan_id": "free", "status": "active"}
    data.update({name: "" for name in LIMIT_NAMES})
    data.update(fields)
    return client.post(f"/admin/organizations/{org_id}", data=data)


# --- accounts -----------------------------------------------------------------------------


def test_create_admin_command(runner, owner_engine):
    email = f"ops-{uuid.uuid4().hex[:8]}@platform.example"
    result = runner.invoke(
        args=["admin", "create-admin", "--email", email, "--name", "Ops", "--password", "x" * 12]
    )
    assert result.exit_code == 0, result.output
    assert f"Created platform admin {email}" in result.output
    with owner_engine.connect() as conn:
        admin = conn.execute(
            text("SELECT id, name, password_hash FROM platform_admins WHERE email = :e"),
            {"e": email},
        ).one()
    assert admin.name == "Ops" and admin.password_hash.startswith("$argon2")
    (event,) = platform_events(owner_engine, admin.id)
    assert event["action"] == "admin.created" and event["actor"].startswith("cli:")
    assert event["new_value"] == {"email": email, "name": "Ops"}

    again = runner.invoke(
        args=[
            "admin",
            "create-admin",
            "--email",
            email.upper(),
            "--name",
            "X",
            "--password",
            "y" * 12,
        ]
    )
    assert again.exit_code == 1 and "already exists" in again.output
    short = runner.invoke(
        args=["admin", "create-admin", "--email", "a@b.example", "--name", "X", "--password", "s"]
    )
    assert short.exit_code == 1 and "at least" in short.output


def test_create_admin_prompts_for_the_password(runner, owner_engine):
    email = f"ops-{uuid.uuid4().hex[:8]}@platform.example"
    result = runner.invoke(
        args=["admin", "create-admin", "--email", email, "--name", "Ops"],
        input="prompted-secret-1\nprompted-secret-1\n",
    )
    assert result.exit_code == 0, result.output
    assert "prompted-secret-1" not in result.output


def test_admin_login_and_logout(app, platform_admin, owner_engine):
    client = app.test_client()
    assert client.get("/admin/login").status_code == 200
    wrong = admin_login(client, platform_admin.email, "not-the-password")
    assert wrong.status_code == 401
    assert "Wrong e-mail or password" in wrong.get_data(as_text=True)
    assert client.get("/admin/").status_code == 404

    ok = admin_login(client, platform_admin.email.upper(), platform_admin.password)
    assert ok.status_code == 302 and ok.headers["Location"].endswith("/admin/")
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin").status_code == 200  # no redirect that would reveal the area
    assert client.get("/admin/plans").status_code == 200
    assert client.get("/admin/audit").status_code == 200

    # Without its CSRF token a log-out is refused, and the session stays.
    assert client.post("/admin/logout").status_code == 400
    token = csrf_token(client, "/admin/")
    out = client.post("/admin/logout", data={"csrf_token": token})
    assert out.status_code == 302
    assert client.get("/admin/").status_code == 404

    actions = [e["action"] for e in platform_events(owner_engine, platform_admin.id)]
    assert actions == ["admin.created", "admin.login_failed", "admin.login", "admin.logout"]


def test_admin_log_in_is_throttled(app, platform_admin):
    throttled = app.test_client()
    app.config["LOGIN_LIMIT_PER_ACCOUNT"] = "3/minute"
    try:
        codes = [
            admin_login(throttled, platform_admin.email, "wrong-password").status_code
            for _ in range(4)
        ]
    finally:
        app.config["LOGIN_LIMIT_PER_ACCOUNT"] = "10/minute"
    assert codes == [401, 401, 401, 429]


def test_an_organization_account_cannot_log_in_as_admin(app, make_org):
    """Are the two kinds of account really apart (same e-mail and password)?"""
    org = make_org()
    client = app.test_client()
    assert admin_login(client, org.email, org.password).status_code == 401


def _admin_requests(app, org_id: uuid.UUID):  # type: ignore[no-untyped-def]
    values = {"org_id": str(org_id), "plan_id": "free"}
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("admin.") or rule.endpoint == "admin.login":
            continue
        path = rule.build(values, append_unknown=False)[1]
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((method, path, rule.endpoint))
    return found


def test_an_organization_owner_gets_404_on_every_admin_route(app, make_org, login_as, owner_engine):
    org = make_org()
    owner = login_as(org)
    token = csrf_token(owner, "/documents")
    before = org_row(owner_engine, org.org_id)
    requests = _admin_requests(app, org.org_id)
    assert {e for *_, e in requests} >= {
        "admin.index",
        "admin.organization",
        "admin.plans",
        "admin.update_plan",
        "admin.audit_log",
        "admin.logout",
    }
    for method, path, _ in requests:
        data = {"csrf_token": token, "plan_id": "enterprise", "status": "suspended"}
        data |= {name: "999999" for name in LIMIT_NAMES}
        response = owner.open(path, method=method, data=data)
        assert response.status_code == 404, f"{method} {path}"
        assert "admin" not in response.get_data(as_text=True).lower()
    assert org_row(owner_engine, org.org_id) == before
    assert owner.get("/documents").status_code == 200  # still logged in as the owner


def test_without_a_session_every_admin_route_is_404(app, make_org):
    client = app.test_client()
    org = make_org()
    for method, path, _ in _admin_requests(app, org.org_id):
        assert client.open(path, method=method).status_code == 404, f"{method} {path}"


# --- changes and their audit --------------------------------------------------------------


def test_admin_changes_plan_limits(admin_client, platform_admin, owner_engine, restore_plans):
    page = admin_client.get("/admin/plans").get_data(as_text=True)
    data = {"csrf_token": CSRF_RE.search(page).group(1)}
    data |= {
        "pro-requests_per_minute": "700",
        "pro-uploads_per_hour": "200",
        "pro-documents_per_month": "unlimited",
        "pro-storage_bytes": str(50 * 1024**3),
        "pro-members": "20",
        "pro-max_file_bytes": str(50 * 1024**2),
        "pro-worker_slots": "4",
        "pro-page_requests_per_minute": "600",
        "pro-user_requests_per_minute": "300",
        "pro-token_requests_per_minute": "250",
    }
    response = admin_client.post("/admin/plans/pro", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)
    with owner_engine.connect() as conn:
        plan = conn.execute(text("SELECT * FROM plans WHERE id = 'pro'")).one()
    assert plan.requests_per_minute == 700 and plan.documents_per_month is None
    event = platform_events(owner_engine, "pro")[-1]
    assert event["action"] == "plan.limits_changed"
    assert event["actor"] == f"admin:{platform_admin.email}"
    assert event["actor_admin_id"] == platform_admin.id
    assert plan.token_requests_per_minute == 250  # the budgets of migration 0016 too
    assert event["old_value"] == {
        "requests_per_minute": 600,
        "documents_per_month": 500,
        "token_requests_per_minute": 600,
    }
    assert event["new_value"] == {
        "requests_per_minute": 700,
        "documents_per_month": None,
        "token_requests_per_minute": 250,
    }

    # Validated: a negative number and "unlimited" where the plan cannot be unlimited.
    bad = dict(data, **{"pro-uploads_per_hour": "-1", "pro-max_file_bytes": "unlimited"})
    refused = admin_client.post("/admin/plans/pro", data=bad)
    assert refused.status_code == 400
    body = refused.get_data(as_text=True)
    assert "Uploads per hour: enter a whole number of 0 or more." in body
    assert "Largest file (bytes) cannot be unlimited" in body
    assert admin_client.post("/admin/plans/nope", data=data).status_code == 404


def test_admin_changes_an_organizations_plan_overrides_and_status(
    admin_client, platform_admin, make_org, owner_engine
):
    org = make_org()
    response = org_form(
        admin_client,
        org.org_id,
        plan_id="pro",
        status="suspended",
        members="unlimited",
        uploads_per_hour="500",
        note="ticket 42",
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    assert org_row(owner_engine, org.org_id) == {
        "plan_id": "pro",
        "status": "suspended",
        "quota_overrides": {"members": None, "uploads_per_hour": 500},
    }
    page = admin_client.get(f"/admin/organizations/{org.org_id}").get_data(as_text=True)
    assert "plan changed, suspended, quota overrides changed" in page
    assert "<strong>500</strong>" in page  # the effective uploads per hour

    events = {e["action"]: e for e in platform_events(owner_engine, org.org_id)}
    assert events["organization.plan_changed"]["old_value"] == {"plan_id": "free"}
    assert events["organization.plan_changed"]["new_value"] == {"plan_id": "pro"}
    assert events["organization.suspended"]["old_value"] == {"status": "active"}
    assert events["organization.overrides_changed"]["new_value"] == {
        "quota_overrides": {"members": None, "uploads_per_hour": 500}
    }
    assert all(e["actor_admin_id"] == platform_admin.id for e in events.values())
    assert all(e["ip"] and e["request_id"] for e in events.values())

    # The organization's own audit log shows the same changes, naming the platform admin.
    own = {e["action"]: e["details"] for e in org_events(owner_engine, org.org_id)}
    assert set(own) >= set(events)
    plan_change = own["organization.plan_changed"]
    assert plan_change["old"] == {"plan_id": "free"} and plan_change["new"] == {"plan_id": "pro"}
    assert plan_change["platform_admin_email"] == platform_admin.email
    assert plan_change["platform_admin_id"] == str(platform_admin.id)
    assert plan_change["note"] == "ticket 42"

    # Saving the same values again changes (and audits) nothing.
    count = len(platform_events(owner_engine, org.org_id))
    again = org_form(
        admin_client,
        org.org_id,
        plan_id="pro",
        status="suspended",
        members="unlimited",
        uploads_per_hour="500",
    )
    assert again.status_code == 302
    assert len(platform_events(owner_engine, org.org_id)) == count


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("max_file_bytes", "-5", "Largest file (bytes): enter a whole number of 0 or more"),
        ("max_file_bytes", "unlimited", "Largest file (bytes) cannot be unlimited"),
        ("members", "lots", "Members: enter a whole number of 0 or more or “unlimited”"),
        ("worker_slots", "1.5", "Worker slots: enter a whole number"),
        ("plan_id", "platinum", "Not a valid choice"),
        ("status", "deleted", "Not a valid choice"),
    ],
)
def test_invalid_organization_changes_are_refused(
    admin_client, make_org, owner_engine, field, value, message
):
    org = make_org()
    before = org_row(owner_engine, org.org_id)
    response = org_form(admin_client, org.org_id, **{field: value})
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert org_row(owner_engine, org.org_id) == before


def test_admin_pages_list_and_search_organizations(admin_client, populate_org, owner_engine):
    a = populate_org()
    page = admin_client.get("/admin/", query_string={"q": a.org.name.upper()})
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert a.org.name in body and f"/admin/organizations/{a.org.org_id}" in body
    assert "1 organization matching" in body
    assert "<td>1</td>\n        <td>1</td>" in body  # one member, one document
    # Usage, read past RLS by the door: this month's uploads and the storage held.
    with owner_engine.connect() as conn:
        stored = conn.scalar(
            text("SELECT storage_bytes FROM usage_totals WHERE organization_id = :o"),
            {"o": a.org.org_id},
        )
    assert stored > 0
    assert f"<td>1</td>\n        <td>{human_bytes(stored)}</td>" in body
    detail = admin_client.get(f"/admin/organizations/{a.org.org_id}").get_data(as_text=True)
    assert "1 uploaded this month" in detail and f"{human_bytes(stored)} stored" in detail
    nothing = admin_client.get("/admin/", query_string={"q": "no-such-" + uuid.uuid4().hex})
    assert "No organization matches." in nothing.get_data(as_text=True)
    assert admin_client.get(f"/admin/organizations/{uuid.uuid4()}").status_code == 404
    assert admin_client.get("/admin/organizations/not-a-uuid").status_code == 404


def test_raising_an_override_admits_a_refused_upload_at_once(admin_client, make_org, login_as):
    """Does an admin's change apply on the organization's very next request?"""
    org = make_org()
    owner = login_as(org)
    assert org_form(admin_client, org.org_id, max_file_bytes="1000").status_code == 302
    content = b"Project status: on track. Risks: none noted.\n" * 50  # ~2 kB
    refused = upload(owner, (content, "status.txt"))
    assert refused.status_code == 400
    assert "larger than the 1000 bytes per file" in refused.get_data(as_text=True)

    assert org_form(admin_client, org.org_id, max_file_bytes="100000").status_code == 302
    accepted = upload(owner, (content, "status.txt"))
    assert accepted.status_code == 200, accepted.get_data(as_text=True)
    assert "Uploaded; processing has started." in accepted.get_data(as_text=True)


# --- the command line ---------------------------------------------------------------------


def test_cli_changes_are_audited(runner, app, make_org, owner_engine, restore_plans):
    org = make_org()
    with app.app_context():
        slug = services.resolve_organization(org.org_id).slug
        db.session.remove()

    result = runner.invoke(args=["admin", "set-org-plan", slug, "enterprise"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["admin", "set-org-override", str(org.org_id), "members", "7"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["admin", "set-org-override", slug, "members", "inherit"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["admin", "set-plan-limit", "free", "uploads_per_hour", "25"])
    assert result.exit_code == 0 and "uploads_per_hour 20 -> 25" in result.output

    assert org_row(owner_engine, org.org_id)["plan_id"] == "enterprise"
    assert org_row(owner_engine, org.org_id)["quota_overrides"] == {}
    events = platform_events(owner_engine, org.org_id)
    assert [e["action"] for e in events] == [
        "organization.plan_changed",
        "organization.overrides_changed",
        "organization.overrides_changed",
    ]
    assert all(e["actor"].startswith("cli:") and e["actor_admin_id"] is None for e in events)
    assert events[1]["new_value"] == {"quota_overrides": {"members": 7}}
    assert events[2]["old_value"] == {"quota_overrides": {"members": 7}}
    own = org_events(owner_engine, org.org_id)
    assert [e["action"] for e in own][-3:] == [e["action"] for e in events]
    assert own[-1]["details"]["actor"].startswith("cli:")
    plan_event = platform_events(owner_engine, "free")[-1]
    assert plan_event["old_value"] == {"uploads_per_hour": 20}
    assert plan_event["new_value"] == {"uploads_per_hour": 25}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["set-org-plan", "no-such-org", "pro"], "There is no organization"),
        (["set-org-plan", "{org}", "platinum"], "There is no plan"),
        (["set-org-override", "{org}", "max_file_bytes", "--", "-1"], "whole number"),
        (["set-org-override", "{org}", "colour", "1"], "Unknown limit"),
        (["set-plan-limit", "free", "worker_slots", "unlimited"], "cannot be unlimited"),
        (["set-plan-limit", "gold", "worker_slots", "3"], "There is no plan"),
    ],
)
def test_cli_refuses_bad_input(runner, make_org, owner_engine, args, message):
    org = make_org()
    args = [a.replace("{org}", str(org.org_id)) for a in args]
    result = runner.invoke(args=["admin", *args])
    assert result.exit_code == 1
    assert message in result.output
    assert platform_events(owner_engine, org.org_id) == []


def test_suspension_stops_log_in_and_reactivation_restores_it(
    runner, app, make_org, login_as, owner_engine
):
    org = make_org()
    session = login_as(org)
    result = runner.invoke(args=["admin", "suspend", str(org.org_id)])
    assert result.exit_code == 0 and "organization.suspended" in result.output
    # The open session ends on its next request, and a new log-in is refused.
    assert session.get("/documents").status_code == 403  # the "suspended" page, signed out
    assert session.get("/documents").status_code == 302
    refused = login(app.test_client(), org.email, org.password)
    assert refused.status_code == 403
    assert "suspended" in refused.get_data(as_text=True)

    result = runner.invoke(args=["admin", "reactivate", str(org.org_id)])
    assert result.exit_code == 0 and "organization.reactivated" in result.output
    assert login(app.test_client(), org.email, org.password).status_code == 302
    actions = [e["action"] for e in platform_events(owner_engine, org.org_id)]
    assert actions == ["organization.suspended", "organization.reactivated"]


# --- the database walls -------------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE platform_audit_events SET action = 'nothing'",
        "DELETE FROM platform_audit_events",
        "TRUNCATE platform_audit_events",
        "UPDATE plans SET requests_per_minute = 1",
        "DELETE FROM platform_admins",
        "UPDATE platform_admins SET email = 'mine@example.com'",
    ],
)
def test_the_app_role_cannot_rewrite_platform_records(app_engine, platform_admin, statement):
    with app_engine.connect() as conn, pytest.raises(ProgrammingError) as caught:
        conn.execute(text(statement))
    assert "permission denied" in str(caught.value)


def test_the_admin_door_passes_the_tenancy_check(runner):
    result = runner.invoke(args=["tenancy", "check"])
    assert result.exit_code == 0, result.output
