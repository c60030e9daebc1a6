"""Rate limits, log-in throttles, worker slots and heartbeats on a Redis Cluster.

The module starts a 3-node cluster of its own on loopback (``redis-server --cluster-enabled
yes`` on three free ports, ``redis-cli --cluster create``) and runs the app with
``REDIS_URL=redis+cluster://...``; the Celery broker stays on the suite's single Redis.
A script whose keys crossed hash slots would fail with CROSSSLOT, which the limiter turns
into a fail-open: so each test also asserts that nothing failed open.
"""

from __future__ import annotations

import io
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from flask import Flask
from limits.storage import RedisClusterStorage
from redis.cluster import RedisCluster

from tests.conftest import FIXTURES, Services, close_app, login, make_app
from tests.test_ratelimit import api_token, set_overrides
from webapp.extensions import db
from webapp.redis_client import cluster_nodes, redis_from_url
from webapp.tenancy import tenant_context
from workers import heartbeat
from workers.fairness import Fairness

pytestmark = pytest.mark.slow


def _free_ports(count: int) -> list[int]:
    """Ports free with their cluster bus port (port + 10000) too, below the ephemeral range."""
    import random

    found: list[int] = []
    while len(found) < count:
        port = random.randrange(20000, 30000)
        if port in found or not all(_bindable(p) for p in (port, port + 10000)):
            continue
        found.append(port)
    return found


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.fixture(scope="module")
def cluster_url() -> Iterator[str]:
    """A 3-node Redis Cluster (three primaries, no replicas, no persistence) on loopback."""
    if not shutil.which("redis-server") or not shutil.which("redis-cli"):
        pytest.fail("the Redis Cluster tests need Debian's redis-server and redis-cli")
    root = Path(tempfile.mkdtemp(prefix="pmdi-cluster-"))
    ports = _free_ports(3)
    nodes = []
    try:
        for port in ports:
            directory = root / str(port)
            directory.mkdir()
            nodes.append(
                subprocess.Popen(
                    ["redis-server", "--port", str(port), "--bind", "127.0.0.1"]
                    + ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"]
                    + ["--cluster-node-timeout", "2000", "--save", "", "--appendonly", "no"]
                    + ["--dir", str(directory)],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        for port in ports:
            _wait(lambda port=port: _pings(port), 10, f"redis-server on {port}")
        subprocess.run(
            ["redis-cli", "--cluster", "create", *(f"127.0.0.1:{p}" for p in ports)]
            + ["--cluster-replicas", "0", "--cluster-yes"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        for port in ports:
            _wait(lambda port=port: _cluster_ok(port), 30, f"cluster state ok on {port}")
        yield "redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in ports)
    finally:
        for node in nodes:
            node.terminate()
        for node in nodes:
            node.wait(timeout=10)
        shutil.rmtree(root, ignore_errors=True)


def _pings(port: int) -> bool:
    try:
        return bool(redis.Redis(port=port, socket_timeout=1).ping())
    except redis.RedisError:
        return False


def _cluster_ok(port: int) -> bool:
    info = redis.Redis(port=port, socket_timeout=1).cluster("INFO")
    if isinstance(info, dict):
        return info.get("cluster_state") == "ok"
    text = info.decode() if isinstance(info, bytes) else str(info)
    return "cluster_state:ok" in text


def _wait(condition, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def cluster(cluster_url: str) -> Iterator[RedisCluster]:
    client = redis_from_url(cluster_url)
    assert isinstance(client, RedisCluster)
    yield client
    client.close()


@pytest.fixture(scope="module")
def cluster_app(services: Services, cluster_url: str) -> Iterator[Flask]:
    """The app with REDIS_URL on the cluster, its broker on the suite's single Redis."""
    built = make_app(
        services,
        REDIS_URL=cluster_url,
        CELERY_BROKER_URL=services.redis_url,
        RATELIMIT_ENABLED=True,
        RATELIMIT_BURST_SECONDS=0,
        LOGIN_LIMIT_PER_ACCOUNT="3/minute",
        # Queues no worker of the suite consumes: the tests run the pipeline themselves.
        DOCUMENT_QUEUE_PREFIX=f"cluster-{uuid.uuid4().hex[:8]}",
    )
    yield built
    close_app(built)


def _keys_on_nodes(cluster: RedisCluster, pattern: str) -> dict[str, list[str]]:
    """Keys matching ``pattern``, by the node (host:port) that holds them."""
    found = {}
    for node in cluster.get_primaries():
        client = cluster.get_redis_connection(node)
        keys = sorted(k.decode() for k in client.scan_iter(match=pattern))
        if keys:
            found[node.name] = keys
    return found


def test_cluster_url_is_parsed_and_needs_a_broker_of_its_own(services, cluster_url):
    nodes, auth = cluster_nodes("redis+cluster://u:secret@10.0.0.1:7000,10.0.0.2:7001/0")
    assert [(n.host, n.port) for n in nodes] == [("10.0.0.1", 7000), ("10.0.0.2", 7001)]
    assert auth == {"username": "u", "password": "secret"}
    with pytest.raises(RuntimeError, match="cannot be the Celery broker"):
        make_app(services, REDIS_URL=cluster_url)


def test_an_organizations_rate_limit_windows_run_in_one_slot(
    cluster_app, cluster, make_org, owner_engine
):
    """Requests and uploads: one script over two windows of one organization, on the node of
    its hash slot; refused past the limit; nothing failed open."""
    limiter = cluster_app.extensions["ratelimits"]
    assert isinstance(limiter.storage, RedisClusterStorage)
    failures = limiter.failures
    org = make_org()
    set_overrides(owner_engine, org, requests_per_minute=4, uploads_per_hour=5)
    client = cluster_app.test_client()
    auth = {"Authorization": f"Bearer {api_token(cluster_app, org)}"}
    body = (FIXTURES / "meeting_minutes.txt").read_bytes() + uuid.uuid4().hex.encode()
    sent = client.post(
        "/api/v1/documents", headers=auth, data={"file": (io.BytesIO(body), "minutes.txt")}
    )
    assert sent.status_code == 202, sent.json
    statuses = [client.get("/api/v1/documents", headers=auth).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert limiter.failures == failures, "a check failed open (CROSSSLOT?)"
    tag = f"{{{org.org_id}}}"
    placed = _keys_on_nodes(cluster, f"*{tag}*")
    assert len(placed) == 1, placed  # one node holds all of them, the load counters too
    (keys,) = placed.values()
    limits = [key for key in keys if key.startswith("LIMITS:")]
    assert limits == sorted([f"LIMITS:pmdi:{tag}:api", f"LIMITS:pmdi:{tag}:uploads"])
    assert any(key.startswith(f"pmdi:{tag}:load:") for key in keys), keys
    assert cluster.llen(f"LIMITS:pmdi:{tag}:api") == 4
    assert cluster.llen(f"LIMITS:pmdi:{tag}:uploads") == 1


def test_login_throttle_uses_limits_cluster_storage(cluster_app, cluster, make_org):
    """Three wrong passwords a minute per account, counted by `limits` on the cluster."""
    org = make_org()
    client = cluster_app.test_client()
    for _ in range(3):
        assert login(client, org.email, "wrong password!!").status_code == 401
    refused = login(client, org.email, org.password)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    assert _keys_on_nodes(cluster, f"LIMITS:*{org.email}*"), "the throttle counted on the cluster"


def test_worker_slots_and_parked_documents_on_the_cluster(cluster):
    """Two organizations whose keys live on different nodes: admit, park, hand over, wake,
    rebuild, each a script over one organization's slot set and parked list."""
    slots = Fairness(cluster, queued_seconds=30, running_seconds=30)
    by_node: dict[str, str] = {}
    while len(by_node) < 2:
        org_id = str(uuid.uuid4())
        node = cluster.get_node_from_key(Fairness.keys(org_id)[0]).name
        by_node.setdefault(node, org_id)
    for org_id in by_node.values():
        slot_key, parked_key = Fairness.keys(org_id)
        assert cluster.keyslot(slot_key) == cluster.keyslot(parked_key)
        assert slots.admit(org_id, 1, "d1") is True
        assert slots.admit(org_id, 1, "d2") is False  # parked
        assert slots.admit(org_id, 1, "d1") is False  # already holds a slot: not again
        assert (slots.holders(org_id), slots.parked(org_id)) == (1, 1)
        slots.started(org_id, "d1")
        assert slots.finish(org_id, "d1") == "d2"  # handed straight to the parked one
        slots.unpublished(org_id, "d2")  # could not be published: first in line again
        assert slots.wake(org_id, 1) == (["d2"], 1)
        slots.release(org_id, "d2")
        assert slots.rebuild(org_id, 1, running=["r1"], queued=["q1", "q2"]) == []
        assert (slots.holders(org_id), slots.parked(org_id)) == (1, 2)
        cluster.delete(slot_key)
        cluster.delete(parked_key)


def test_upload_dispatch_and_processing_with_slots_on_the_cluster(cluster_app, cluster, make_org):
    """A page upload takes a worker slot on the cluster (fair dispatch), the task's run
    frees it: the document is done and the organization holds no slot."""
    from tests.conftest import upload, uploaded_ids
    from workers.fair_run import fair_process
    from workers.fairness import fairness

    org = make_org()
    client = cluster_app.test_client()
    assert login(client, org.email, org.password).status_code == 302
    text_ = (FIXTURES / "meeting_minutes.txt").read_bytes() + uuid.uuid4().hex.encode()
    (document_id,) = set(uploaded_ids(upload(client, (text_, "minutes.txt"))))
    with cluster_app.app_context():
        assert fairness().holds(str(org.org_id), document_id)
        assert cluster.exists(f"fair:{{{org.org_id}}}:slots")
    with cluster_app.app_context(), tenant_context(org.org_id):
        assert fair_process(str(org.org_id), document_id) == "done"
        db.session.remove()
    with cluster_app.app_context():
        assert fairness().holders(str(org.org_id)) == 0
        with tenant_context(org.org_id):
            from webapp.models import Document

            document = db.session.get(Document, (org.org_id, uuid.UUID(document_id)))
            assert document is not None and document.status == "done"
            db.session.remove()


def test_readiness_and_heartbeats_on_the_cluster(cluster_app, cluster_url):
    probe = cluster_app.extensions["readiness"]
    assert probe.redis_answers()
    key = f"hb-{uuid.uuid4().hex[:8]}"
    beat = heartbeat.start(cluster_url, "worker", key, 3.0)
    try:
        _wait(lambda: heartbeat.alive_here(cluster_url, "worker", key, 3.0), 10, "a heartbeat")
    finally:
        beat.stop()
