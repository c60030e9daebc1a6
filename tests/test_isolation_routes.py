"""The isolation suite over every route in app.url_map (DESIGN.md §8).

Organization B walks every route with organization A's ids in it: each answers 404 and A's
object is unchanged. Routes without an id are fetched as B and must not carry A's content.
A new route joins automatically; one with an unknown URL argument fails until this file
learns how to fill it in.
"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from tests.conftest import csrf_token

SKIP_METHODS = {"HEAD", "OPTIONS"}
# Routes with no tenant object in the URL that only accept a form post of new data; they are
# exercised by their own tests (sign-up, log-in, upload, token creation, bulk, log-out).
POST_WITHOUT_ID = {
    "auth.signup",
    "auth.login",
    "auth.logout",
    "documents.upload",
    "documents.bulk",
    "org.create_api_token",
    "org.invite_member",
    "api.upload_documents",
    # One's own profile: they act on the signed-in user only (tests/test_accounts.py).
    "auth.change_name",
    "auth.change_email",
    # The workspace: a "this is …" link names a member by id, checked in the organization
    # (tests/test_workspace.py: another organization's member is refused); one's own
    # notifications and preferences.
    "workspace.link_owner",
    "workspace.read_all",
    "workspace.preferences",
}
# The platform admin log-in page is public; every other admin route is 404 to organizations.
ADMIN_PUBLIC = {"admin.login"}


@pytest.fixture
def orgs(populate_org):
    """A with everything in every table; B likewise, to walk A's routes with."""
    return populate_org(), populate_org()


def _token_id(plaintext: str) -> str:
    return str(uuid.UUID(hex=plaintext.split("_")[2]))


def _arguments(a, owner_engine) -> dict[str, str]:
    org_hex, invitation_hex, _secret = a.invitation_link.rsplit("/", 1)[1].split("_", 2)
    with owner_engine.connect() as conn:
        item_id, notification_id = (
            conn.execute(
                text(f"SELECT id FROM {table} WHERE organization_id = :o LIMIT 1"),
                {"o": a.org.org_id},
            ).scalar_one()
            for table in ("digest_items", "notifications")
        )
    feed_org, feed_id, _feed_secret = a.feed_token.split("_", 2)
    return {
        # The workspace: A's digest item, notification, and feed (its secret guessed).
        "item_id": str(item_id),
        "notification_id": str(notification_id),
        "feed_token": f"{feed_org}_{feed_id}_guessed-secret",
        # A's real ids; the invitation link's secret is guessed, as another organization would.
        "user_id": str(a.org.user_id),
        "invitation_id": str(uuid.UUID(hex=invitation_hex)),
        "token": f"{org_hex}_{invitation_hex}_guessed-secret",
        "document_id": a.document_id,
        "token_id": _token_id(a.api_token),
        # The platform admin area: an organization's session gets 404 on every route.
        "org_id": str(a.org.org_id),
        "plan_id": "free",
        # Export download and branding logo (webapp/org/settings_views.py).
        "export_id": a.export_id,
        "logo_version": "0123456789abcdef",
    }


def _fingerprint(owner_engine, a) -> dict:
    """Everything of A's that an attempt from B might change."""
    with owner_engine.connect() as conn:
        return {
            table: conn.execute(
                text(
                    f"SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM {table} t "
                    "WHERE organization_id = :o"
                ),
                {"o": a.org.org_id},
            ).scalar()
            for table in (
                "documents",
                "document_blobs",
                "document_analyses",
                "api_tokens",
                "users",
                "invitations",
                "digest_items",
                "owner_links",
                "notifications",
                "notification_preferences",
                "calendar_feeds",
            )
        }


def test_every_route_with_an_id_is_404_for_another_organization(app, orgs, owner_engine):
    a, b = orgs
    values = _arguments(a, owner_engine)
    before = _fingerprint(owner_engine, a)
    token = csrf_token(b.client, "/documents")
    walked = []
    for rule in app.url_map.iter_rules():
        if not rule.arguments or rule.endpoint == "static":
            continue
        unknown = rule.arguments - values.keys()
        assert not unknown, f"{rule.endpoint}: teach the isolation suite to fill {unknown}"
        path = rule.build(values, append_unknown=False)[1]
        for method in sorted((rule.methods or set()) - SKIP_METHODS):
            if rule.endpoint.startswith("api."):
                response = b.client.open(
                    path, method=method, headers={"Authorization": f"Bearer {b.api_token}"}
                )
                assert response.is_json, f"{method} {path}"
                assert response.get_json()["error"]["code"] == "not_found"
            else:
                response = b.client.open(path, method=method, data={"csrf_token": token})
            assert response.status_code == 404, f"{method} {path} -> {response.status_code}"
            body = response.get_data(as_text=True)
            assert a.secret_word not in body
            walked.append((method, rule.endpoint))
    assert _fingerprint(owner_engine, a) == before, "B changed A's data"
    # The walk really covered the document and token routes of pages and API.
    endpoints = {endpoint for _, endpoint in walked}
    assert {
        "documents.detail",
        "documents.download",
        "documents.delete",
        "documents.reprocess",
        "org.revoke_api_token",
        "org.change_member_role",
        "org.remove_member",
        "org.transfer_ownership",
        "org.revoke_invitation",
        "org.accept_invitation",
        # Mailed account links: A's organization in the link, a guessed secret.
        "auth.reset_password",
        "auth.confirm_email",
        "api.get_document",
        "api.download_document",
        "api.delete_document",
        "admin.organization",
        "admin.update_plan",
        "workspace.update_item",
        "workspace.toggle_done",
        "workspace.remove_item",
        "workspace.edit_digest",
        "workspace.add_item",
        "workspace.rename",
        "workspace.digest_markdown",
        "workspace.actions_csv",
        "workspace.source",
        "workspace.feed",
        "workspace.read_notification",
    } <= endpoints
    # A's real feed answers (so the 404 above is the other organization's, not a broken route).
    assert a.client.get(f"/calendar/{a.feed_token}.ics").status_code == 200
    # A still reaches all of it.
    assert a.client.get(f"/documents/{a.document_id}").status_code == 200


def test_routes_without_an_id_never_show_another_organizations_content(app, orgs):
    a, b = orgs
    secrets = [a.secret_word, a.document_id, a.org.email, a.org.name]
    checked = []
    token = csrf_token(b.client, "/documents")
    for rule in app.url_map.iter_rules():
        if rule.arguments or rule.endpoint == "static":
            continue
        methods = (rule.methods or set()) - SKIP_METHODS
        if rule.endpoint.startswith("admin.") and rule.endpoint not in ADMIN_PUBLIC:
            for method in sorted(methods):
                response = b.client.open(rule.rule, method=method, data={"csrf_token": token})
                assert response.status_code == 404, f"{method} {rule.rule} as an organization"
            checked.append(rule.endpoint)
            continue
        if "GET" not in methods:
            assert rule.endpoint in POST_WITHOUT_ID, (
                f"{rule.endpoint}: a new write route; add an isolation check for it"
            )
            continue
        query = {"q": a.secret_word, "id": a.document_id}
        if rule.endpoint.startswith("api."):
            response = b.client.get(
                rule.rule, query_string=query, headers={"Authorization": f"Bearer {b.api_token}"}
            )
        else:
            response = b.client.get(rule.rule, query_string=query, follow_redirects=True)
        assert response.status_code in (200, 400), f"{rule.rule}: {response.status_code}"
        body = response.get_data(as_text=True)
        # The query string itself is echoed in search boxes; strip our own input.
        for echo in (
            f'value="{a.secret_word}"',
            f"“{a.secret_word}”",
            f'"query":"{a.secret_word}"',
        ):
            body = body.replace(echo, "")
        for secret in secrets:
            assert secret not in body, f"{rule.rule} shows A's {secret!r} to B"
        checked.append(rule.endpoint)
    assert {
        "documents.index",
        "documents.search",
        "documents.progress",
        "dashboard.index",
        "org.api_tokens",
        "org.members_page",
        "auth.profile",
        "auth.forgot_password",
        "workspace.actions",
        "workspace.notifications",
        "workspace.calendar",
        "api.list_documents",
        "api.search",
        "admin.index",
        "admin.plans",
        "admin.logout",
    } <= set(checked)
    # Sanity: the same searches as A do find A's document, so the check above can fail.
    assert a.document_id in a.client.get(f"/search?q={a.secret_word}").get_data(as_text=True)
    api = a.client.get(
        f"/api/v1/search?q={a.secret_word}", headers={"Authorization": f"Bearer {a.api_token}"}
    ).get_json()
    assert [r["id"] for r in api["results"]] == [a.document_id]
