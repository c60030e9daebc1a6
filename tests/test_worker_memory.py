"""Memory of the workers (issue 11 §6, the ceiling): a child that grew too large is replaced
after its task, and no child may allocate past a hard ceiling — a greedy document fails
instead of taking the machine down."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil
import pytest

from tests.conftest import ROOT, WORKER_NAME
from webapp import config as app_config


def _celery_settings(environ: dict[str, str]) -> dict:
    settings = dict(app_config.DEFAULTS)
    settings.update(app_config.from_environment(environ))
    settings.update({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "postgresql://app@db/pmdi"})
    app_config.finalise(settings)
    return settings["CELERY"]


def test_the_per_child_ceiling_is_on_by_default_and_configurable():
    assert _celery_settings({})["worker_max_memory_per_child"] == 512 * 1024
    settings = _celery_settings({"WORKER_MAX_MEMORY_PER_CHILD": "300000"})
    assert settings["worker_max_memory_per_child"] == 300000
    assert (
        _celery_settings({"WORKER_MAX_MEMORY_PER_CHILD": "0"})["worker_max_memory_per_child"]
        is None
    )


def test_past_the_hard_ceiling_an_allocation_fails_and_the_process_lives_on():
    script = (
        "from workers.setup import apply_memory_limit\n"
        "apply_memory_limit(200)\n"
        "try:\n"
        "    hog = bytearray(400 * 1024 * 1024)\n"
        "except MemoryError:\n"
        "    print('refused')\n"
        "small = bytearray(10 * 1024 * 1024)\n"
        "print('alive', len(small))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["refused", "alive", str(10 * 1024 * 1024)]


@pytest.mark.slow
def test_the_running_worker_has_both_ceilings(app, worker):
    celery = app.extensions["celery"]
    conf = celery.control.inspect(destination=[WORKER_NAME], timeout=5).conf()
    assert conf[WORKER_NAME]["worker_max_memory_per_child"] == 512 * 1024
    deadline = time.monotonic() + 30
    children = psutil.Process(worker.pid).children()
    while not children and time.monotonic() < deadline:
        time.sleep(0.2)
        children = psutil.Process(worker.pid).children()
    assert children, "the worker has no pool child"
    for child in children:
        limits = psutil.Process(child.pid).rlimit(psutil.RLIMIT_DATA)
        assert limits[0] == 1536 * 1024 * 1024, limits
