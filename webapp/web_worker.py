"""The gunicorn worker of the one-command run: threads, and a deadline on request headers.

gunicorn's threaded worker (``gthread``) keeps idle connections out of its threads, but once
a client has sent its first byte a thread reads the request line and headers in blocking
mode, for as long as the client cares to take: a few sockets sending one header line every
couple of seconds hold a thread each, indefinitely, and enough of them freeze the server.
gunicorn has no setting for it, so this worker adds one: a request whose headers are not
complete within ``HEADER_TIMEOUT_SECONDS`` (10 by default) of the thread taking it has its
socket shut down, which ends the blocked read and frees the thread. Bodies are not bounded
here (a large upload on a slow line is legitimate); behind nginx (docker-compose.yml) the
proxy buffers requests whole, with its own client timeouts, before gunicorn sees them.

Configured in ``webapp/gunicorn_conf.py``, used by ``webapp/serve.py`` and the Dockerfile.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Mapping
from typing import Any

from gunicorn.workers.gthread import ThreadWorker

DEFAULT_HEADER_TIMEOUT = 10.0


def header_timeout(environ: Mapping[str, str] = os.environ) -> float:
    """Seconds a client gets to send a request's line and headers (``HEADER_TIMEOUT_SECONDS``)."""
    return float(environ.get("HEADER_TIMEOUT_SECONDS") or DEFAULT_HEADER_TIMEOUT)


class HeaderDeadlineWorker(ThreadWorker):
    """``gthread`` with a deadline on reading each request's headers."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout = header_timeout()
        self._reading: dict[int, tuple[float, Any]] = {}  # id(conn) -> (deadline, conn)
        self._reading_lock = threading.Lock()

    def handle(self, conn: Any) -> Any:
        """Read and answer one request on a worker thread, its headers under the deadline."""
        with self._reading_lock:
            self._reading[id(conn)] = (time.monotonic() + self.header_timeout, conn)
        try:
            return super().handle(conn)
        finally:
            # Before the connection can be closed or reused (that happens on the main thread
            # once this returns), so the watch below never touches another connection's socket.
            with self._reading_lock:
                self._reading.pop(id(conn), None)

    def handle_request(self, req: Any, conn: Any) -> Any:
        """The headers are in: the application's time is not the client's to bound."""
        with self._reading_lock:
            self._reading.pop(id(conn), None)
        return super().handle_request(req, conn)

    def murder_pending(self) -> None:
        """Runs on the main loop at least once a second: also cut overdue header reads."""
        super().murder_pending()
        self.cut_slow_headers()

    def cut_slow_headers(self) -> int:
        """Shut down the sockets of requests whose headers are overdue; returns how many."""
        now = time.monotonic()
        cut = 0
        with self._reading_lock:
            for key, (deadline, conn) in list(self._reading.items()):
                if deadline > now:
                    continue
                del self._reading[key]
                try:
                    conn.sock.shutdown(socket.SHUT_RDWR)  # the blocked read returns at once
                except OSError:
                    pass  # already gone
                cut += 1
        if cut:
            self.log.info("closed %d connection(s) too slow to send their headers", cut)
        return cut
