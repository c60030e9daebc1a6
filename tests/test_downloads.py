"""Downloads of files named in any script (issue 11 §3), and names without invisible tricks."""

from __future__ import annotations

import re
import uuid
from urllib.parse import unquote

import pytest

from tests.conftest import upload, uploaded_ids
from webapp.documents.downloads import ascii_fallback, content_disposition
from webapp.documents.filenames import sanitize_filename
from webapp.names import clean_name

NAMES = {
    "cyrillic": ("Отчёт по проекту.txt", "download.txt"),
    "japanese": ("議事録 第3回.md", "3.md"),
    "emoji": ("🚀 launch plan ✅.txt", "launch plan.txt"),
    "accents": ("Réunion équipe.txt", "Reunion equipe.txt"),
}
PARAM_RE = re.compile(r"""filename\*=UTF-8''([^;\s]+)""")
FALLBACK_RE = re.compile(r'filename=(?:"([^"]*)"|([^;\s]+))')


@pytest.mark.parametrize("kind", sorted(NAMES))
def test_a_non_latin_name_downloads_with_its_name(app, make_org, login_as, kind):
    name, fallback = NAMES[kind]
    client = login_as(make_org())
    body = f"Minutes {uuid.uuid4()}\n\nActions: ship it.\n".encode()
    response = upload(client, (body, name))
    assert response.status_code == 200, response.get_data(as_text=True)
    (document_id,) = set(uploaded_ids(response))
    download = client.get(f"/documents/{document_id}/download")
    assert download.status_code == 200
    assert download.get_data() == body
    header = download.headers["Content-Disposition"]
    header.encode("latin-1")  # a header can hold nothing else
    assert header.startswith("attachment;")
    assert unquote(PARAM_RE.search(header).group(1)) == name
    quoted, bare = FALLBACK_RE.search(header).groups()
    assert (quoted or bare) == fallback


def test_the_api_download_sends_the_same_header(app, make_org, login_as):
    org = make_org()
    client = login_as(org)
    name = "План-график 🚀.txt"
    response = upload(client, (f"Plan {uuid.uuid4()}\n".encode(), name))
    (document_id,) = set(uploaded_ids(response))
    from webapp.api import tokens
    from webapp.extensions import db
    from webapp.models import User
    from webapp.tenancy import tenant_context

    with app.app_context(), tenant_context(org.org_id):
        issued = tokens.create_token(db.session.get(User, (org.org_id, org.user_id)), "dl")
        db.session.remove()
    download = app.test_client().get(
        f"/api/v1/documents/{document_id}/download",
        headers={"Authorization": f"Bearer {issued.plaintext}"},
    )
    assert download.status_code == 200
    header = download.headers["Content-Disposition"]
    assert unquote(PARAM_RE.search(header).group(1)) == name


def test_plain_ascii_names_keep_the_plain_form():
    assert content_disposition("report-2026.pdf") == {"filename": "report-2026.pdf"}
    assert ascii_fallback("🚀.txt") == "download.txt"
    assert ascii_fallback("議事録") == "download"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("invoice\u202etxt.exe", "invoicetxt.exe"),  # right-to-left override
        ("a\u2066b\u2069.txt", "ab.txt"),  # isolates
        ("zero\u200bwidth\ufeff.md", "zerowidth.md"),
        ("🚀 launch.txt", "🚀 launch.txt"),
    ],
)
def test_format_controls_are_stripped_from_stored_filenames(raw, expected):
    assert sanitize_filename(raw) == expected


def test_format_controls_are_stripped_from_display_names():
    assert clean_name("  Acme\u202e Corp \u200b ") == "Acme Corp"
    assert clean_name("Ünïcode 名前 😀") == "Ünïcode 名前 😀"


def test_a_bidi_override_never_reaches_a_stored_filename(app, make_org, login_as, owner_engine):
    from sqlalchemy import text

    org = make_org()
    client = login_as(org)
    response = upload(client, (f"Notes {uuid.uuid4()}\n".encode(), "report\u202etxt.exe.txt"))
    (document_id,) = set(uploaded_ids(response))
    with owner_engine.connect() as conn:
        filename, title = conn.execute(
            text("SELECT filename, title FROM documents WHERE id = :d"), {"d": document_id}
        ).one()
    assert filename == "reporttxt.exe.txt"
    assert "\u202e" not in title
