"""A Redis client for ``REDIS_URL``: one Redis, or a Redis Cluster (docs/scaling.md).

``REDIS_URL=redis+cluster://[user:password@]host:port,host:port,...`` (the form `limits`'
cluster storage reads, so the log-in throttle uses the same URL) puts the rate limits, the
worker slots and parked documents, and the heartbeats on a cluster. Every multi-key script keys
one organization only, with the organization's id as the hash tag (``{<org id>}``), so its
keys share a hash slot and the script runs on one node. The Celery broker cannot be a cluster:
with one, CELERY_BROKER_URL must name a single Redis or RabbitMQ (webapp/config.py).
"""

from __future__ import annotations

from typing import Any

import redis
from redis.cluster import ClusterNode, RedisCluster

CLUSTER_SCHEME = "redis+cluster://"


def is_cluster(url: str) -> bool:
    """Whether ``url`` names a Redis Cluster."""
    return url.startswith(CLUSTER_SCHEME)


def cluster_nodes(url: str) -> tuple[list[ClusterNode], dict[str, str]]:
    """The startup nodes of a ``redis+cluster://`` URL, and its credentials."""
    rest = url.removeprefix(CLUSTER_SCHEME).split("/", 1)[0]
    auth: dict[str, str] = {}
    if "@" in rest:
        credentials, rest = rest.rsplit("@", 1)
        username, _, password = credentials.partition(":")
        if username:
            auth["username"] = username
        if password:
            auth["password"] = password
    nodes = []
    for location in rest.split(","):
        host, _, port = location.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"REDIS_URL: {location!r} is not host:port")
        nodes.append(ClusterNode(host, int(port)))
    return nodes, auth


def redis_from_url(url: str, **options: Any) -> redis.Redis | RedisCluster:
    """``redis.Redis.from_url``, or a ``RedisCluster`` for a ``redis+cluster://`` URL."""
    if not is_cluster(url):
        return redis.Redis.from_url(url, **options)
    nodes, auth = cluster_nodes(url)
    return RedisCluster(startup_nodes=nodes, **auth, **options)
