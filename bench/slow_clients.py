"""Slow clients: how long does a normal page take while clients trickle their headers?

    python bench/slow_clients.py [--slow 4 20] [--database-url URL] [--redis-url URL]

1. creates and migrates its own database (``pmdi_bench_slow``, bench/memory.py's helpers);
2. for each server — gunicorn as it used to run (``--workers 2``, sync) and as it runs now
   (``-c python:webapp.gunicorn_conf``: threads and a deadline on headers) — and for each
   number of slow clients: starts it on a free port, opens the slow clients (a request line,
   then one header line every 2 s, as in issue 11), waits 2.5 s, then times five
   ``GET /login`` one after the other (30 s timeout each) and prints the median and the
   slowest, and how many slow clients the server had cut off by then.

Figures only; tests/test_slow_clients.py holds the bound the issue demands.
"""

from __future__ import annotations

import argparse
import os
import select
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import memory  # noqa: E402 - after the path is set

DATABASE = "pmdi_bench_slow"
SERVERS = {
    "before: 2 sync workers": ["--workers", "2"],
    "now: webapp/gunicorn_conf.py": ["--config", "python:webapp.gunicorn_conf"],
}


def start(args: list[str], app_url: str, redis_url: str, port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": app_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": "bench-secret",
        "PYTHONPATH": str(ROOT),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", *args, "--bind", f"127.0.0.1:{port}", "wsgi:app"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2):
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("server did not start")


def slow_client(port: int, index: int, stop: threading.Event, cut: list[int]) -> None:
    sock = socket.create_connection(("127.0.0.1", port))
    try:
        sock.sendall(b"GET /login HTTP/1.1\r\nHost: bench\r\n")
        line = 0
        while not stop.wait(2.0):
            line += 1
            try:
                sock.sendall(f"X-Slow-{index}-{line}: typing\r\n".encode())
                closed = select.select([sock], [], [], 0)[0] and not sock.recv(1, socket.MSG_PEEK)
            except OSError:
                closed = True
            if closed:  # the server shut the connection (or answered it)
                cut.append(index)
                return
    finally:
        sock.close()


def timed_login(port: int) -> float:
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=30) as response:
            response.read()
    except OSError:
        return float("inf")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slow", type=int, nargs="+", default=[4, 20])
    parser.add_argument("--database-url", default=memory.DEFAULT_ADMIN_URL)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    options = parser.parse_args()
    memory.DATABASE = DATABASE
    _, app_url = memory.prepare_database(options.database_url)
    try:
        for label, args in SERVERS.items():
            for count in options.slow:
                port = memory.free_port()
                process = start(args, app_url, options.redis_url, port)
                try:
                    timed_login(port)  # warm
                    stop, cut = threading.Event(), []
                    threads = [
                        threading.Thread(target=slow_client, args=(port, i, stop, cut))
                        for i in range(count)
                    ]
                    for thread in threads:
                        thread.start()
                    time.sleep(2.5)
                    times = [timed_login(port) for _ in range(5)]
                    stop.set()
                    for thread in threads:
                        thread.join()
                finally:
                    process.terminate()
                    process.wait(timeout=30)
                print(
                    f"{label:32} {count:3} slow clients: GET /login median "
                    f"{statistics.median(times) * 1000:8.1f} ms, slowest "
                    f"{max(times) * 1000:8.1f} ms (inf = no answer in 30 s); "
                    f"{len(cut)} slow clients cut off",
                    flush=True,
                )
    finally:
        memory.DATABASE = DATABASE
        memory.drop_database(options.database_url)


if __name__ == "__main__":
    main()
