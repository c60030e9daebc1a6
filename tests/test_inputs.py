"""NUL bytes and line breaks in input (issue 11 §4): refused with 400 in one place
(``webapp/inputs.py``) before any view, for paths, query strings, forms and JSON alike.

The walk goes over every route of ``app.url_map``, every method, with a NUL and a CR/LF put in
each path parameter, each query parameter the application reads and each form field it
defines, as anonymous and as a signed-in member (with an API token under ``/api/v1``): every
answer is the guard's 400, so none is a 5xx.
"""

from __future__ import annotations

import uuid

import pytest
from flask_wtf import FlaskForm
from wtforms.fields.core import UnboundField

from tests.conftest import csrf_token
from webapp import inputs

PAYLOADS = {"nul": "x\x00y", "crlf": "x\r\nSet-Cookie: evil=1"}
SKIP_METHODS = {"HEAD", "OPTIONS"}
# Every query parameter a view reads (request.args in webapp/).
QUERY_NAMES = (
    "q", "page", "status", "type", "sort", "id", "next", "limit", "cursor",
    "action", "actor", "from", "to",
)  # fmt: skip


def _form_field_names() -> set[str]:
    """The name of every field of every form the application defines, and the CSRF field."""
    names = {"csrf_token", "files", "file", "ids"}
    pending = list(FlaskForm.__subclasses__())
    while pending:
        form = pending.pop()
        pending.extend(form.__subclasses__())
        if not form.__module__.startswith("webapp."):
            continue
        for name in dir(form):
            if isinstance(getattr(form, name, None), UnboundField):
                names.add(name)
    return names


def _arguments(org) -> dict[str, str]:
    org_hex, invitation_hex, _secret = org.invitation_link.rsplit("/", 1)[1].split("_", 2)
    return {
        "user_id": str(org.org.user_id),
        "invitation_id": str(uuid.UUID(hex=invitation_hex)),
        "token": org.invitation_link.rsplit("/", 1)[1],
        "document_id": org.document_id,
        "token_id": str(uuid.UUID(hex=org.api_token.split("_")[2])),
        "org_id": str(org.org.org_id),
        "plan_id": "free",
        "export_id": org.export_id,
        "feed_token": org.feed_token,
        # The workspace's digest items and notifications: any well-formed id (tainting one is
        # what the walk checks; an unknown id is a 404 anyway).
        "item_id": str(uuid.uuid4()),
        "notification_id": str(uuid.uuid4()),
        "logo_version": "0123456789abcdef",
        "filename": "app.css",
    }


def _requests(app, values: dict[str, str]):  # type: ignore[no-untyped-def]
    """(method, path, query, form, what) for every route, method and tainted parameter."""
    form_names = sorted(_form_field_names())
    for rule in app.url_map.iter_rules():
        unknown = rule.arguments - values.keys()
        assert not unknown, f"{rule.endpoint}: teach this walk to fill {unknown}"
        for method in sorted((rule.methods or set()) - SKIP_METHODS):
            for kind, payload in PAYLOADS.items():
                for argument in sorted(rule.arguments):
                    tainted = {**values, argument: payload}
                    path = rule.build(tainted, append_unknown=False)[1]
                    yield method, path, {}, {}, f"{kind} in <{argument}>"
                path = rule.build(values, append_unknown=False)[1]
                for name in QUERY_NAMES:
                    yield method, path, {name: payload}, {}, f"{kind} in ?{name}"
                if method != "GET":
                    for name in form_names:
                        yield method, path, {}, {name: payload}, f"{kind} in form {name}"


@pytest.fixture
def member(populate_org):
    return populate_org()


@pytest.mark.slow
@pytest.mark.parametrize("who", ["anonymous", "member"])
def test_every_route_refuses_nul_and_line_breaks_in_every_parameter(app, member, who):
    client = app.test_client() if who == "anonymous" else member.client
    token = csrf_token(member.client, "/documents")
    walked = 0
    for method, path, query, form, what in _requests(app, _arguments(member)):
        headers = {}
        if who == "member" and path.startswith("/api/"):
            headers["Authorization"] = f"Bearer {member.api_token}"
        data = None if method == "GET" else {"csrf_token": token, **form}
        response = client.open(path, method=method, query_string=query, data=data, headers=headers)
        assert response.status_code < 500, f"{method} {path} ({what}): {response.status_code}"
        assert response.status_code == 400, f"{method} {path} ({what}): {response.status_code}"
        walked += 1
    assert walked > 1000
    # The member is still signed in and nothing above broke the session or the data.
    assert member.client.get(f"/documents/{member.document_id}").status_code == 200


def test_the_cases_the_issue_found_answer_400(app, member):
    client = member.client
    assert client.get("/search?q=x%00y").status_code == 400
    assert client.get("/settings/audit?action=a%00b").status_code == 400
    assert client.get("/settings/audit.csv?actor=%00").status_code == 400
    token = csrf_token(client, "/settings/api-tokens")
    response = client.post("/settings/api-tokens", data={"csrf_token": token, "name": "a\x00b"})
    assert response.status_code == 400
    assert "not allowed" in response.get_data(as_text=True)
    anonymous = app.test_client()
    assert anonymous.get("/login?next=/documents%0d%0aX-Evil:%201").status_code == 400
    restore = anonymous.post("/organization/restore", data={"email": "a\x00@b.c", "password": "x"})
    assert restore.status_code == 400


def test_the_api_answers_json(app, member):
    headers = {"Authorization": f"Bearer {member.api_token}"}
    response = member.client.get("/api/v1/search?q=%00", headers=headers)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bad_request"
    response = member.client.post("/api/v1/documents", json={"title": "a\x00"}, headers=headers)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bad_request"


def test_ordinary_input_passes(app, member):
    client = member.client
    assert client.get("/search?q=r%C3%A9union+%E2%80%94+plan").status_code == 200
    headers = {"Authorization": f"Bearer {member.api_token}"}
    # Line breaks inside a JSON string pass the guard (no JSON endpoint reads one today: the
    # upload itself answers that the file is missing).
    response = member.client.post("/api/v1/documents", json={"a": "b\nc"}, headers=headers)
    assert response.get_json()["error"]["code"] == "no_file"


def test_a_declared_multi_line_field_keeps_line_breaks_but_not_nul(app, monkeypatch):
    monkeypatch.setattr(inputs, "MULTILINE_FORM_FIELDS", frozenset({"notes"}))
    with app.test_request_context("/x", method="POST", data={"notes": "one\r\ntwo"}):
        assert inputs.refused_part() is None
    with app.test_request_context("/x", method="POST", data={"notes": "one\x00two"}):
        assert inputs.refused_part() == "the form field 'notes'"
    with app.test_request_context("/x", method="POST", data={"title": "one\ntwo"}):
        assert inputs.refused_part() == "the form field 'title'"


def test_next_never_leaves_the_site(app, make_org):
    from tests.conftest import login

    org = make_org()
    for target in ("//evil.example/", "/\\evil.example/", "https://evil.example/"):
        client = app.test_client()
        response = login(client, org.email, org.password, query_string={"next": target})
        assert response.status_code == 302
        assert response.headers["Location"] == "/dashboard", target


def test_the_api_checks_its_token_before_any_multipart_body_is_unpacked(app):
    import io

    body = {"note": "a\x00b", "file": (io.BytesIO(b"minutes"), "minutes.txt")}
    response = app.test_client().post(
        "/api/v1/documents", data=body, content_type="multipart/form-data"
    )
    assert response.status_code == 401  # not the guard's 400: the body was never parsed
