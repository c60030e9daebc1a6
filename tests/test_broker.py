"""The broker transport reuses its Redis client (workers/broker.py), on the real Redis."""

from __future__ import annotations

import uuid

import pytest
import redis

from tests.conftest import TEST_QUEUE
from webapp import config as app_config
from webapp.documents import services
from webapp.tenancy import tenant_context
from workers import broker


@pytest.fixture
def redis_clients_built(monkeypatch):
    """How many ``redis.Redis`` objects get built (kombu builds them per call by default)."""
    built: list[int] = []
    original = redis.Redis.__init__

    def counting(self, *args, **kwargs):
        built.append(1)
        original(self, *args, **kwargs)

    monkeypatch.setattr(redis.Redis, "__init__", counting)
    return built


@pytest.fixture
def org(make_org):
    return make_org()


@pytest.fixture
def queue(app):
    name = f"{TEST_QUEUE}-broker-{uuid.uuid4().hex[:8]}"
    yield name
    redis.Redis.from_url(app.config["REDIS_URL"]).delete(name)


def test_the_app_uses_the_transport_for_tcp_and_socket_urls(app):
    with app.extensions["celery"].connection_for_write() as connection:
        assert isinstance(connection.default_channel, broker.Channel)
    for url, broker_url, transport in [
        ("redis://127.0.0.1:6379/3", "redis://127.0.0.1:6379/3", "workers.broker:Transport"),
        (  # the embedded Redis
            "unix:///tmp/pmdi-redis.sock?db=0",
            "socket:///tmp/pmdi-redis.sock?db=0",
            "workers.broker:SocketTransport",
        ),
        ("rediss://redis.example:6380/0", "rediss://redis.example:6380/0", None),  # kombu's
    ]:
        config = {"SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": "postgresql://u@h/d"}
        config.update(REDIS_URL=url, DOCUMENT_TIME_LIMIT=120, BROKER_VISIBILITY_TIMEOUT=60)
        config.update(PURGE_INTERVAL=3600, OVERDUE_DIGEST_INTERVAL=3600)
        app_config.finalise(config)
        assert config["CELERY"]["broker_url"] == broker_url
        assert config["CELERY"].get("broker_transport") == transport


def test_publishing_builds_no_redis_client_after_the_first(
    app, org, queue, monkeypatch, redis_clients_built
):
    monkeypatch.setattr(services, "queue_for", lambda plan_id: queue)
    with app.app_context(), tenant_context(org.org_id):
        services.publish(services.PROCESS_TASK, org.org_id, "free", str(uuid.uuid4()))
        redis_clients_built.clear()
        for _ in range(5):
            services.publish(services.PROCESS_TASK, org.org_id, "free", str(uuid.uuid4()))
    assert redis_clients_built == [], "kombu's stock transport builds one per publish"
    assert redis.Redis.from_url(app.config["REDIS_URL"]).llen(queue) == 6


def test_messages_round_trip_and_a_replaced_pool_gets_a_new_client(app, queue):
    """Publish, consume and acknowledge through the transport; after kombu drops its pool
    (as it does on a connection error) the channel builds a client on the new pool."""
    with app.extensions["celery"].connection_for_write() as connection:
        channel = connection.default_channel
        with connection.SimpleQueue(queue) as simple:
            simple.put({"n": 1})
            first = channel._create_client()  # noqa: SLF001 - the method under test
            assert channel._create_client() is first  # noqa: SLF001
            channel._disconnect_pools()  # noqa: SLF001 - what kombu does on errors
            second = channel._create_client()  # noqa: SLF001
            assert second is not first and second.connection_pool is channel.pool
            simple.put({"n": 2})
            received = [simple.get(timeout=2) for _ in range(2)]
            for message in received:
                message.ack()
    assert [m.payload for m in received] == [{"n": 1}, {"n": 2}]
    assert redis.Redis.from_url(app.config["REDIS_URL"]).llen(queue) == 0
