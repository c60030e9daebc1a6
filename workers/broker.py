"""The Celery broker transport: kombu's Redis transport, with one Redis client per channel.

kombu builds a new ``redis.Redis`` for every message it publishes, every delivery it records
and every acknowledgement. Building one copies redis-py's table of some 170 response
callbacks (redis/redis-py#3624): about 0.14 ms of CPU on this project's 2-core machine, three
times per processed document (the publish, the worker's record of the delivery, its
acknowledgement). A ``redis.Redis`` borrows a connection from its pool for each command and
gives it back, so one client per channel can serve all those calls.

``celery_settings`` (used by ``webapp.config``) selects it for TCP (``redis://``) and unix
socket (``redis+socket://``, the embedded Redis) broker URLs; TLS (``rediss://``) keeps kombu's
own transport, which behaves the same, only with the per-call clients.
"""

from __future__ import annotations

from typing import Any

import redis.exceptions
from kombu.transport import redis as kombu_redis


class Channel(kombu_redis.Channel):
    """kombu's Redis channel, reusing its synchronous client while the pool stays the same."""

    _sync_client: Any = None

    def _create_client(self, asynchronous: bool = False) -> Any:
        if self.connection.client is None:
            # The broker went away and the consumer is closing this channel: kombu would
            # rebuild the pool from a connection that is gone and raise AttributeError, an
            # "unrecoverable error" that ends the worker. A connection error instead is one
            # the consumer ignores while closing, before it reconnects.
            raise redis.exceptions.ConnectionError("the broker connection is closed")
        if asynchronous:  # kombu caches this one itself (``client``), for BRPOP and pub/sub
            return super()._create_client(asynchronous=True)
        client = self._sync_client
        if client is None or client.connection_pool is not self.pool:
            # First use, or kombu replaced the pool after a connection error.
            client = self._sync_client = super()._create_client()
        return client


class Transport(kombu_redis.Transport):
    """kombu's Redis transport with :class:`Channel`."""

    Channel = Channel


class SocketTransport(Transport):
    """:class:`Transport` for ``socket:///path`` URLs, which kombu's channel reads itself.

    kombu's own ``redis+socket://`` form always means kombu's transport, so a unix socket is
    named without the prefix, and kombu is told not to parse it as a host (as it does not
    for ``redis+socket://``).
    """

    can_parse_url = True


def celery_settings(broker_url: str) -> dict[str, str]:
    """Celery's ``broker_url`` and ``broker_transport`` for this transport, where it applies."""
    if broker_url.startswith("redis://"):
        return {"broker_transport": f"{__name__}:Transport"}
    if broker_url.startswith("redis+socket://"):
        return {
            "broker_url": broker_url.removeprefix("redis+"),
            "broker_transport": f"{__name__}:SocketTransport",
        }
    return {}
