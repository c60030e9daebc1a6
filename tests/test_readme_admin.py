"""The README's admin line works against the README's own run (issue 12).

``python -m webapp.serve`` (what ``./scripts/run`` runs after installing) starts with no
``DATABASE_URL`` / ``REDIS_URL`` / ``SECRET_KEY``: an embedded PostgreSQL and Redis under an
instance directory of its own. Then the line from the README's "Platform administration"
section runs exactly as written, through bash, the password typed twice on its input.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow

PASSWORD = "ops-password-long-enough"
# Variables that would point the run (or the command) at other services than its own.
FOREIGN = (
    "DATABASE_URL",
    "PLATFORM_DATABASE_URL",
    "MIGRATION_DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "SECRET_KEY",
    "PUBLIC_URL",
)


def readme_admin_line() -> str:
    """The create-admin line of the README, as a reader would copy it (comment dropped)."""
    readme = (ROOT / "README.md").read_text()
    lines = [
        line
        for line in readme.splitlines()
        if re.match(r"\./scripts/flask admin create-admin", line)
    ]
    assert len(lines) == 1, lines
    return lines[0].split("#", 1)[0].strip()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_readme_admin_line_works_against_the_embedded_run(tmp_path):
    instance = tmp_path / "instance"
    env = {k: v for k, v in os.environ.items() if k not in FOREIGN}
    env.update(
        {
            "PMDI_INSTANCE_DIR": str(instance),
            "PYTHONPATH": str(ROOT),
            "PORT": str(_free_port()),
            "WORKER_CONCURRENCY": "1",
        }
    )
    line = readme_admin_line()
    assert line == './scripts/flask admin create-admin --email ops@example.com --name "Ops"'

    # Before the run: a clear message, not a stack trace.
    before = subprocess.run(
        ["bash", "-c", line], cwd=ROOT, env=env, input="", capture_output=True, text=True
    )
    assert before.returncode == 2 and "./scripts/run" in before.stderr, before.stderr

    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log_file:
        run = subprocess.Popen(
            [sys.executable, "-m", "webapp.serve"],
            cwd=ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 180
        url = f"http://127.0.0.1:{env['PORT']}/login"
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        break
            except (OSError, urllib.error.URLError):
                pass
            assert run.poll() is None and time.monotonic() < deadline, log_path.read_text()[-3000:]
            time.sleep(0.5)
        run_env = instance / "run.env"
        assert run_env.stat().st_mode & 0o077 == 0  # it holds the secret key: owner only

        created = subprocess.run(
            ["bash", "-c", line],
            cwd=ROOT,
            env=env,
            input=f"{PASSWORD}\n{PASSWORD}\n",
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert created.returncode == 0, created.stdout + created.stderr
        assert "Created platform admin ops@example.com" in created.stdout

        # It went into the running application's database: the same address again is refused.
        again = subprocess.run(
            ["bash", "-c", line],
            cwd=ROOT,
            env=env,
            input=f"{PASSWORD}\n{PASSWORD}\n",
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert again.returncode == 1 and "already" in (again.stdout + again.stderr).lower()
    finally:
        run.send_signal(signal.SIGINT)
        try:
            run.wait(timeout=60)
        except subprocess.TimeoutExpired:
            run.kill()
            run.wait(timeout=10)
    assert not (instance / "run.env").exists()  # its addresses died with the run
