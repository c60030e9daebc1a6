"""The permission matrix: role × action → allowed, or 403, through the pages and the API."""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from tests.conftest import csrf_token, login, upload
from webapp.api import tokens
from webapp.auth.services import hasher
from webapp.documents import services as document_services
from webapp.extensions import db
from webapp.models import User
from webapp.permissions import PERMISSIONS, RANK
from webapp.tenancy import tenant_context

PASSWORD = "a-long-enough-password"


def add_member(app: Flask, org_id: uuid.UUID, role: str, name: str | None = None) -> User:
    """A member with ``role`` added directly (trusted code: no request, no check)."""
    tag = uuid.uuid4().hex[:8]
    with app.app_context(), tenant_context(org_id):
        user = User(
            email=f"{role}-{tag}@example.com",
            name=name or f"{role.title()} {tag}",
            password_hash=hasher.hash(PASSWORD),
            role=role,
        )
        db.session.add(user)
        db.session.commit()
        db.session.refresh(user)
        db.session.expunge(user)
        db.session.remove()
    return user


def set_plan(owner_engine, org_id: uuid.UUID, plan: str) -> None:
    """Move an organization to another plan (arranged as the owner role)."""
    with owner_engine.begin() as conn:
        conn.execute(
            text("UPDATE organizations SET plan_id = :p WHERE id = :o"), {"p": plan, "o": org_id}
        )


def make_document(app: Flask, org_id: uuid.UUID, uploader_id: uuid.UUID) -> str:
    """A document uploaded by ``uploader_id`` (through the service, outside any request)."""
    content = f"Minutes {uuid.uuid4().hex}\nAction: Ann to send the plan by Friday.\n".encode()
    with app.app_context(), tenant_context(org_id):
        document = document_services.upload_document(io.BytesIO(content), "notes.txt", uploader_id)
        document_id = str(document.id)
        db.session.remove()
    return document_id


@dataclass
class Team:
    """An organization on the enterprise plan with one person per role and a spare member."""

    org_id: uuid.UUID
    users: dict[str, User]
    target: User
    owner_document: str
    admin_document: str


def _client(app, team: Team, role: str, make_org_password: str | None = None) -> FlaskClient:
    user = team.users[role]
    client = app.test_client()
    password = make_org_password if role == "owner" else PASSWORD
    assert login(client, user.email, password).status_code == 302
    return client


def _post(client: FlaskClient, path: str, **data: str):  # type: ignore[no-untyped-def]
    token = csrf_token(client, "/settings/api-tokens")
    return client.post(path, data={"csrf_token": token, **data})


def _act(app, team: Team, role: str, action: str, client: FlaskClient) -> int:
    """Do ``action`` as ``role`` through the pages; the status code."""
    me = team.users[role]
    own = make_document(app, team.org_id, me.id)
    another = team.admin_document if role != "admin" else team.owner_document
    target = team.target.id
    if action == "upload":
        return upload(client, (f"new {uuid.uuid4().hex}".encode(), "new.txt")).status_code
    if action == "delete own":
        return _post(client, f"/documents/{own}/delete").status_code
    if action == "delete another's":
        return _post(client, f"/documents/{another}/delete").status_code
    if action == "reprocess":
        return _post(client, f"/documents/{own}/reprocess").status_code
    if action == "rename own":  # document.edit: the workspace's digest editing
        return _post(client, f"/documents/{own}/rename", title="Renamed").status_code
    if action == "rename another's":
        return _post(client, f"/documents/{another}/rename", title="Renamed").status_code
    if action == "invite":
        email = f"new-{uuid.uuid4().hex[:8]}@example.com"
        return _post(client, "/settings/members/invite", email=email, role="viewer").status_code
    if action == "change role":
        return _post(client, f"/settings/members/{target}/role", role="viewer").status_code
    if action == "remove member":
        return _post(client, f"/settings/members/{target}/remove").status_code
    if action == "create API token":
        return _post(client, "/settings/api-tokens", name="script").status_code
    if action == "transfer ownership":
        return _post(client, f"/settings/members/{target}/transfer").status_code
    if action == "view/download":
        detail = client.get(f"/documents/{another}").status_code
        download = client.get(f"/documents/{another}/download").status_code
        return detail if detail != 200 else download
    raise AssertionError(action)


ROLES = ("owner", "admin", "member", "viewer")
# action: the roles allowed (every other role gets 403).
MATRIX = {
    "upload": {"owner", "admin", "member"},
    "delete own": {"owner", "admin", "member"},
    "delete another's": {"owner", "admin"},
    "reprocess": {"owner", "admin", "member"},
    "rename own": {"owner", "admin", "member"},
    "rename another's": {"owner", "admin"},
    "invite": {"owner", "admin"},
    "change role": {"owner", "admin"},
    "remove member": {"owner", "admin"},
    "create API token": {"owner", "admin", "member", "viewer"},
    "transfer ownership": {"owner"},
    "view/download": {"owner", "admin", "member", "viewer"},
}
CASES = [(role, action, role in allowed) for action, allowed in MATRIX.items() for role in ROLES]


@pytest.mark.parametrize(("role", "action", "allowed"), CASES)
def test_permission_matrix_through_the_pages(app, make_org, owner_engine, role, action, allowed):
    org = make_org()
    set_plan(owner_engine, org.org_id, "enterprise")
    team = _team(app, org)
    client = _client(app, team, role, org.password)
    status = _act(app, team, role, action, client)
    if allowed:
        assert status in (200, 302), f"{role} {action}: {status}"
    else:
        assert status == 403, f"{role} {action}: {status}"


def _team(app, org) -> Team:
    with app.app_context(), tenant_context(org.org_id):
        owner = db.session.get(User, (org.org_id, org.user_id))
        db.session.expunge(owner)
        db.session.remove()
    users = {"owner": owner}
    for role in ("admin", "member", "viewer"):
        users[role] = add_member(app, org.org_id, role)
    target = add_member(app, org.org_id, "member", name="Target person")
    return Team(
        org.org_id,
        users,
        target,
        make_document(app, org.org_id, owner.id),
        make_document(app, org.org_id, users["admin"].id),
    )


def _token(app, team: Team, role: str) -> str:
    user = team.users[role]
    with app.app_context(), tenant_context(team.org_id):
        issued = tokens.create_token(db.session.get(User, (team.org_id, user.id)), "t")
        db.session.remove()
    return issued.plaintext


@pytest.mark.parametrize("role", ROLES)
def test_permission_matrix_through_the_api(app, make_org, owner_engine, role):
    """Upload, delete own and delete another's agree with the pages, with code ``forbidden``."""
    org = make_org()
    set_plan(owner_engine, org.org_id, "enterprise")
    team = _team(app, org)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {_token(app, team, role)}"}
    content = f"api {uuid.uuid4().hex}".encode()
    responses = {
        "upload": client.post(
            "/api/v1/documents",
            data={"file": (io.BytesIO(content), "api.txt")},
            headers=headers,
        ),
        "delete own": client.delete(
            f"/api/v1/documents/{make_document(app, org.org_id, team.users[role].id)}",
            headers=headers,
        ),
        "delete another's": client.delete(
            f"/api/v1/documents/{team.admin_document if role != 'admin' else team.owner_document}",
            headers=headers,
        ),
    }
    for action, response in responses.items():
        if role in MATRIX[action]:
            assert response.status_code in (202, 204), (action, response.get_json())
        else:
            assert response.status_code == 403, (action, response.status_code)
            error = response.get_json()["error"]
            assert error["code"] == "forbidden"
            assert role in error["message"]


def test_a_forbidden_page_says_why(app, make_org):
    org = make_org()
    team = _team(app, org)
    client = _client(app, team, "viewer")
    response = upload(client, (b"some words", "x.txt"))
    assert response.status_code == 403
    assert "Your role (viewer) does not allow uploading documents" in response.get_data(
        as_text=True
    )


def test_the_table_covers_every_role_and_ranks_owner_highest():
    assert max(RANK, key=RANK.get) == "owner" and min(RANK, key=RANK.get) == "viewer"
    assert all(set(row) <= set(ROLES) for row in PERMISSIONS.values())


def test_pages_show_only_the_document_controls_a_role_may_use(app, make_org):
    """No button the server would answer with 403: upload, bulk actions, reprocess, delete."""
    org = make_org()
    team = _team(app, org)
    members_own = make_document(app, team.org_id, team.users["member"].id)
    controls = (">Reprocess</button>", ">Delete</button>")
    for role, may_upload, may_bulk in (
        ("admin", True, True),
        ("member", True, True),  # on their own documents
        ("viewer", False, False),
    ):
        client = _client(app, team, role)
        listing = client.get("/documents").get_data(as_text=True)
        assert (">Upload</a>" in listing) is may_upload, role
        assert ("Upload documents</a>" in listing) is may_upload, role
        assert ('name="ids"' in listing and "With selected" in listing) is may_bulk, role
        others = client.get(f"/documents/{team.owner_document}").get_data(as_text=True)
        assert all((c in others) is (role == "admin") for c in controls), role
        own = client.get(f"/documents/{members_own}").get_data(as_text=True)
        assert all((c in own) is (role in ("admin", "member")) for c in controls), role
