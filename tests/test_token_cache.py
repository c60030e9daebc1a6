"""API tokens answered from a per-process cache (webapp/api/tokens.py, ``TokenCache``).

What the cache may skip is the token lookup, nothing else: the request's transaction still
enters the verified tenant context. What it must never do is serve a token longer than a
second after a change that revokes or alters its identity (revoked, deleted, its member
disabled, removed or given another role, its organization suspended or deleted, its limits
changed), in any process: every such change is announced on ``pmdi_limits`` (migrations 0009
and 0020). Without a working listener, or with ``API_TOKEN_CACHE_SECONDS=0``, every request
is looked up.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import text
from sqlalchemy.engine import Engine

from tests.conftest import OrgFixture, Services, make_app, round_trips
from tests.test_ratelimit import Server, api_get, api_token, gunicorn_server, set_overrides
from tests.test_round_trips import insert_documents

LOOKUP = "FROM api_tokens JOIN users"  # the token lookup's statement (tokens.AUTHENTICATE)


@pytest.fixture(scope="module")
def cached_app(services: Services) -> Flask:
    """The app with the token cache on (the suite's default app has it off)."""
    return make_app(services, API_TOKEN_CACHE_SECONDS=30)


def silently(owner_engine: Engine, sql: str, **params: object) -> None:
    """Run ``sql`` as the owner with triggers off: a change nobody announces (which no real
    change can be: only a superuser may turn triggers off), to see what the cache serves."""
    with owner_engine.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text(sql), params)


def announced(owner_engine: Engine, sql: str, **params: object) -> float:
    """Run ``sql`` as the owner (its triggers announce it); when it committed."""
    with owner_engine.begin() as conn:
        conn.execute(text(sql), params)
    return time.monotonic()


def token_id(token: str) -> uuid.UUID:
    return uuid.UUID(hex=token.split("_")[2])


# --- in one process -----------------------------------------------------------------------


def test_a_kept_token_skips_only_its_lookup(cached_app: Flask, make_org, owner_engine) -> None:
    """One round trip, the list's: BEGIN, the verified context and the list, in one write."""
    org = make_org()
    insert_documents(owner_engine, org.org_id, 3)
    token = api_token(cached_app, org)
    headers = {"Authorization": f"Bearer {token}"}
    client = cached_app.test_client()
    assert client.get("/api/v1/documents", headers=headers).status_code == 200
    with round_trips() as seen:
        response = client.get("/api/v1/documents", headers=headers)
    assert response.status_code == 200
    assert len(response.get_json()["documents"]) == 3
    assert seen.count == 1, seen.statements
    assert not any(LOOKUP in s for s in seen.statements), seen.statements
    assert any("app_enter_org" in s for s in seen.statements), seen.statements


def test_a_kept_token_is_served_until_it_expires(services: Services, make_org, owner_engine):
    """Without an announcement (impossible but for a superuser) the cache serves the token for
    its seconds, then looks it up again: proof that it is used, and that it ends."""
    app = make_app(services, API_TOKEN_CACHE_SECONDS=1)
    org = make_org()
    token = api_token(app, org)
    headers = {"Authorization": f"Bearer {token}"}
    client = app.test_client()
    assert client.get("/api/v1/documents", headers=headers).status_code == 200
    silently(
        owner_engine, "UPDATE api_tokens SET revoked_at = now() WHERE id = :id", id=token_id(token)
    )
    assert client.get("/api/v1/documents", headers=headers).status_code == 200
    time.sleep(1.1)
    assert client.get("/api/v1/documents", headers=headers).status_code == 401


@pytest.mark.parametrize(
    "settings",
    [
        {"API_TOKEN_CACHE_SECONDS": 0},
        # A listener that cannot connect: nothing is kept, every request is looked up.
        {"API_TOKEN_CACHE_SECONDS": 30, "LISTEN_DATABASE_URL": "postgresql://x@127.0.0.1:1/x"},
    ],
    ids=["cache-off", "no-listener"],
)
def test_without_the_cache_every_request_is_looked_up(
    services: Services, make_org, owner_engine, settings
) -> None:
    app = make_app(services, **settings)
    org = make_org()
    insert_documents(owner_engine, org.org_id, 2)
    token = api_token(app, org)
    headers = {"Authorization": f"Bearer {token}"}
    client = app.test_client()
    assert client.get("/api/v1/documents", headers=headers).status_code == 200
    for _ in range(2):
        with round_trips() as seen:
            response = client.get("/api/v1/documents", headers=headers)
        assert response.status_code == 200
        assert len(response.get_json()["documents"]) == 2
        assert seen.count == 2, seen.statements
        assert sum(LOOKUP in s for s in seen.statements) == 1, seen.statements
    # Even a change nobody announced applies at once.
    silently(
        owner_engine, "UPDATE api_tokens SET revoked_at = now() WHERE id = :id", id=token_id(token)
    )
    assert client.get("/api/v1/documents", headers=headers).status_code == 401


def test_last_used_is_still_written(cached_app: Flask, make_org, owner_engine, monkeypatch) -> None:
    """A kept token is looked up again when its ``last_used_at`` is due to be written."""
    from webapp.api import tokens

    monkeypatch.setattr(tokens, "LAST_USED_RESOLUTION", timedelta(seconds=1))
    org = make_org()
    token = api_token(cached_app, org)
    headers = {"Authorization": f"Bearer {token}"}
    client = cached_app.test_client()

    def last_used():  # type: ignore[no-untyped-def]
        with owner_engine.connect() as conn:
            return conn.scalar(
                text("SELECT last_used_at FROM api_tokens WHERE id = :id"), {"id": token_id(token)}
            )

    assert client.get("/api/v1/documents", headers=headers).status_code == 200
    first = last_used()
    assert first is not None
    assert client.get("/api/v1/documents", headers=headers).status_code == 200
    assert last_used() == first  # kept: not written again within the resolution
    time.sleep(1.1)
    assert client.get("/api/v1/documents", headers=headers).status_code == 200
    assert last_used() > first


# --- in every process of a real server ----------------------------------------------------


@pytest.fixture(scope="module")
def cached_server(services: Services) -> Iterator[Server]:
    """gunicorn, 2 processes of 8 threads each, as deployed: token cache and limits on."""
    with gunicorn_server(services, "token-cache", {"API_TOKEN_CACHE_SECONDS": "30"}) as server:
        yield server


WARM = 20  # requests before a change: enough for both processes to keep the token


def warmed(server: Server, cached_app: Flask, org: OrgFixture, owner_engine: Engine) -> str:
    """A token of ``org``'s owner, served (and so kept) by the server a few times."""
    set_overrides(owner_engine, org, requests_per_minute=100_000)
    token = api_token(cached_app, org)
    assert [api_get(server, token)[0] for _ in range(WARM)] == [200] * WARM
    return token


def applies_within_a_second(
    server: Server,
    changed_at: float,
    check: Callable[[], bool],
) -> None:
    """From some moment less than a second after the change on, ``check()`` holds for 20
    requests in a row (whichever process serves them). A process may serve one more request
    the old way until its listener has read the notification (the 1 s bound is for that)."""
    held_since, in_a_row = None, 0
    while in_a_row < 20:
        started = time.monotonic()
        assert started - changed_at < 5.0, f"never applied: {check}"
        if check():
            held_since = started if in_a_row == 0 else held_since
            in_a_row += 1
        else:
            in_a_row = 0
    assert held_since is not None and held_since - changed_at < 1.0, f"too late: {check}"


class StatusIs:
    """A check: the token's next request answers ``expected``; every status seen is kept."""

    def __init__(self, server: Server, token: str, expected: int) -> None:
        self.server, self.token, self.expected = server, token, expected
        self.seen: list[int] = []

    def __call__(self) -> bool:
        self.seen.append(api_get(self.server, self.token)[0])
        return self.seen[-1] == self.expected

    def __repr__(self) -> str:
        return f"statuses {self.seen}, expected {self.expected}"


status_is = StatusIs


def test_the_server_serves_kept_tokens(cached_server, cached_app, make_org, owner_engine):
    """A revocation nobody announced is not seen at once (the lookup is skipped), and the
    next announced change, of anything, makes every process look the token up again."""
    org = make_org()
    token = warmed(cached_server, cached_app, org, owner_engine)
    silently(
        owner_engine, "UPDATE api_tokens SET revoked_at = now() WHERE id = :id", id=token_id(token)
    )
    served = [api_get(cached_server, token)[0] for _ in range(10)]
    assert 200 in served, served
    changed = announced(
        owner_engine, "UPDATE organizations SET name = name || '.' WHERE id = :id", id=org.org_id
    )
    applies_within_a_second(cached_server, changed, status_is(cached_server, token, 401))


REVOKING_CHANGES = {
    "token revoked": ("UPDATE api_tokens SET revoked_at = now() WHERE id = :token", 401),
    "token deleted": ("DELETE FROM api_tokens WHERE id = :token", 401),
    "member disabled": ("UPDATE users SET status = 'disabled' WHERE id = :user", 401),
    "member removed": ("DELETE FROM users WHERE id = :user", 401),
    "organization suspended": (
        "UPDATE organizations SET status = 'suspended' WHERE id = :org",
        403,
    ),
    "organization deleted": ("DELETE FROM organizations WHERE id = :org", 401),
}


@pytest.mark.parametrize("change", list(REVOKING_CHANGES))
def test_a_revoking_change_applies_within_a_second_in_every_process(
    cached_server, cached_app, make_org, owner_engine, change
) -> None:
    org = make_org()
    token = warmed(cached_server, cached_app, org, owner_engine)
    sql, status = REVOKING_CHANGES[change]
    changed = announced(owner_engine, sql, token=token_id(token), user=org.user_id, org=org.org_id)
    applies_within_a_second(cached_server, changed, status_is(cached_server, token, status))


def test_a_revocation_on_the_settings_page_applies_within_a_second(
    cached_server, cached_app, make_org, owner_engine
) -> None:
    """Revoked by the app's own service (another process than the server's)."""
    from webapp.api import tokens
    from webapp.tenancy import tenant_context

    org = make_org()
    token = warmed(cached_server, cached_app, org, owner_engine)
    with cached_app.app_context(), tenant_context(org.org_id):
        tokens.revoke_token(token_id(token), org.user_id)
    changed = time.monotonic()
    applies_within_a_second(cached_server, changed, status_is(cached_server, token, 401))


def test_a_changed_role_applies_within_a_second(
    cached_server, cached_app, make_org, owner_engine
) -> None:
    """The owner's token made a viewer's: deleting a document is refused (403)."""
    org = make_org()
    insert_documents(owner_engine, org.org_id, 60)
    with owner_engine.connect() as conn:
        documents = list(
            conn.scalars(
                text("SELECT id FROM documents WHERE organization_id = :o"), {"o": org.org_id}
            )
        )
    token = warmed(cached_server, cached_app, org, owner_engine)
    changed = announced(
        owner_engine, "UPDATE users SET role = 'viewer' WHERE id = :u", u=org.user_id
    )

    def refused() -> bool:  # each try on a document of its own: a 204 trashes it
        status = delete(cached_server, token, f"/api/v1/documents/{documents.pop()}")
        assert status in (403, 204), status
        return status == 403

    applies_within_a_second(cached_server, changed, refused)


def delete(server: Server, token: str, path: str) -> int:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        server.url + path, method="DELETE", headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_changed_limits_apply_within_a_second(
    cached_server, cached_app, make_org, owner_engine
) -> None:
    """The limits kept with the token (its organization's plan and overrides) follow a change."""
    org = make_org()
    token = warmed(cached_server, cached_app, org, owner_engine)
    assert api_get(cached_server, token)[1]["X-RateLimit-Limit"] == "100000"
    set_overrides(owner_engine, org, requests_per_minute=54_321)
    changed = time.monotonic()

    def limit_is_new() -> bool:
        return api_get(cached_server, token)[1]["X-RateLimit-Limit"] == "54321"

    applies_within_a_second(cached_server, changed, limit_is_new)


class Changes:
    """A stand-in listener: ``generation`` moves when a change is announced; None: broken."""

    def __init__(self) -> None:
        self.generation: int | None = 1

    def poll(self) -> int | None:
        return self.generation


def test_the_cache_forgets_on_a_change_on_expiry_and_when_full(monkeypatch) -> None:
    from webapp.api.tokens import TokenCache

    changes = Changes()
    cache = TokenCache(30, changes)
    user = object()
    generation = cache.generation()
    cache.remember(b"a", user, generation, 60)  # type: ignore[arg-type]
    assert cache.recall(b"a", cache.generation()) is user
    changes.generation = 2  # announced: kept entries no longer hold
    assert cache.recall(b"a", cache.generation()) is None
    changes.generation = None  # no listener: nothing to recall by
    assert cache.generation() is None
    changes.generation = 3
    cache.remember(b"b", user, 3, 0.05)  # type: ignore[arg-type]  # due for last_used_at
    cache.remember(b"c", user, 3, 0)  # type: ignore[arg-type]  # due now: not kept
    assert cache.recall(b"c", 3) is None
    time.sleep(0.06)
    assert cache.recall(b"b", 3) is None
    monkeypatch.setattr(TokenCache, "MAX_ENTRIES", 2)
    for key in (b"d", b"e", b"f"):
        cache.remember(key, user, 3, 60)  # type: ignore[arg-type]
    assert len(cache._entries) <= 2  # noqa: SLF001
    assert cache.recall(b"f", 3) is user
