"""Settings and white-label branding: enterprise only, validated, on that organization alone."""

from __future__ import annotations

import io
import re
import struct
import zlib

import pytest
from sqlalchemy import text

from tests.conftest import csrf_token


def png(width: int = 4, height: int = 2, padding: int = 0) -> bytes:
    """A small valid PNG (optionally padded with an ancillary chunk to grow it)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + b"\x80\x20\x40" * width for _ in range(height))
    extra = chunk(b"tEXt", b"c\x00" + b"x" * padding) if padding else b""
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + extra
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def set_plan(owner_engine, org_id, plan: str) -> None:
    with owner_engine.begin() as conn:
        conn.execute(
            text("UPDATE organizations SET plan_id = :p WHERE id = :o"), {"p": plan, "o": org_id}
        )


def save(client, **fields):
    token = csrf_token(client, "/settings")
    data = {"csrf_token": token, "display_name": fields.pop("display_name", None)}
    if data["display_name"] is None:
        page = client.get("/settings").get_data(as_text=True)
        data["display_name"] = re.search(r'id="display_name"[^>]*value="([^"]*)"', page).group(1)
    logo = fields.pop("logo", None)
    if logo is not None:
        data["logo"] = (io.BytesIO(logo[0]), logo[1])
    data.update(fields)
    return client.post("/settings", data=data, content_type="multipart/form-data")


@pytest.fixture
def enterprise(make_org, login_as, owner_engine):
    org = make_org()
    set_plan(owner_engine, org.org_id, "enterprise")
    return org, login_as(org)


def test_branding_is_refused_below_enterprise(make_org, login_as, owner_engine):
    org = make_org()
    client = login_as(org)
    assert "Enterprise plan" in client.get("/settings").get_data(as_text=True)
    response = save(client, primary="#ff0000")
    assert response.status_code == 400
    assert "Enterprise plan" in response.get_data(as_text=True)
    assert "--primary: #ff0000" not in client.get("/documents").get_data(as_text=True)
    # The display name is for every plan.
    assert save(client, display_name="Renamed Co").status_code == 302
    assert "Renamed Co" in client.get("/documents").get_data(as_text=True)


def test_colour_applies_to_that_organizations_pages_only(enterprise, make_org, login_as):
    org, client = enterprise
    other = login_as(make_org())
    assert save(client, primary="#A1B2C3").status_code == 302
    for path in ("/documents", "/dashboard", "/settings/usage", "/settings"):
        assert "--primary: #a1b2c3" in client.get(path).get_data(as_text=True), path
    assert "--primary: #a1b2c3" not in other.get("/documents").get_data(as_text=True)


@pytest.mark.parametrize(
    "colour",
    ["red", "#fff", "#12345g", "#123456;} body{display:none", "</style><script>x()</script>"],
)
def test_a_bad_colour_is_refused(enterprise, colour, owner_engine):
    org, client = enterprise
    response = save(client, primary=colour)
    assert response.status_code == 400
    assert "#1a2b3c" in response.get_data(as_text=True)
    with owner_engine.connect() as conn:
        settings = conn.scalar(
            text("SELECT settings FROM organizations WHERE id = :o"), {"o": org.org_id}
        )
    assert "primary" not in (settings.get("branding") or {})
    assert "<script>x()" not in client.get("/documents").get_data(as_text=True)


def test_a_png_logo_is_served_to_its_organization_only(enterprise, make_org, login_as):
    org, client = enterprise
    other_org = make_org()
    other = login_as(other_org)
    assert save(client, logo=(png(), "logo.png")).status_code == 302
    page = client.get("/documents").get_data(as_text=True)
    (url,) = set(re.findall(r'src="(/branding/logo/[0-9a-f]{16})"', page))
    response = client.get(url)
    assert response.status_code == 200
    assert response.mimetype == "image/png"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.get_data() == png()
    assert other.get(url).status_code == 404
    assert "/branding/logo/" not in other.get("/documents").get_data(as_text=True)
    # Removing it stops the page from showing it, and the old URL is gone.
    assert save(client, remove_logo="y").status_code == 302
    assert "/branding/logo/" not in client.get("/documents").get_data(as_text=True)
    assert client.get(url).status_code == 404


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "SVG"),
        (b'<?xml version="1.0"?><svg></svg>', "SVG"),
        (b"GIF89a" + b"\x00" * 40, "must be a PNG"),
        (png(padding=210 * 1024), "at most 200 KB"),
        (png(width=5000, height=10), "1024"),
    ],
)
def test_a_bad_logo_is_refused(enterprise, content, message):
    org, client = enterprise
    response = save(client, logo=(content, "logo.png"))
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert "/branding/logo/" not in client.get("/documents").get_data(as_text=True)


def test_settings_changes_are_audited(enterprise, owner_engine):
    org, client = enterprise
    assert save(client, primary="#102030").status_code == 302
    with owner_engine.connect() as conn:
        details = conn.scalar(
            text(
                "SELECT details FROM audit_events WHERE organization_id = :o "
                "AND action = 'settings.changed'"
            ),
            {"o": org.org_id},
        )
    assert details["primary"]["new"] == "#102030"


def test_ocr_language_is_a_setting_of_every_plan_validated_and_used_by_the_pipeline(
    make_org, login_as, owner_engine, app
):
    """Does the settings page store a well-formed OCR language that the worker then reads?"""
    from webapp.tenancy import tenant_context
    from workers.pipeline import ocr_language

    org = make_org()
    client = login_as(org)
    assert 'value="eng"' in client.get("/settings").get_data(as_text=True)
    refused = save(client, ocr_language="eng; rm -rf /")
    assert refused.status_code == 400
    assert "Tesseract language codes" in refused.get_data(as_text=True)
    assert save(client, ocr_language="deu+eng").status_code == 302
    with owner_engine.connect() as conn:
        settings = conn.scalar(
            text("SELECT settings FROM organizations WHERE id = :o"), {"o": org.org_id}
        )
        audited = conn.scalar(
            text(
                "SELECT details FROM audit_events WHERE organization_id = :o "
                "AND action = 'settings.changed'"
            ),
            {"o": org.org_id},
        )
    assert settings["ocr_language"] == "deu+eng"
    assert audited["ocr_language"] == {"old": "eng", "new": "deu+eng"}
    with app.app_context(), tenant_context(org.org_id):
        assert ocr_language() == "deu+eng"
    with app.app_context(), tenant_context(make_org().org_id):
        assert ocr_language() == "eng"
