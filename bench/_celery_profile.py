"""The Celery app of celery_app.py, with a CPU-time cProfile of each process (bench only).

``bench/pipeline.py --profile DIR`` starts its worker with ``-A bench._celery_profile`` and
``PMDI_BENCH_PROFILE_DIR=DIR``: each pool child profiles from its start to its shutdown
(``child-<pid>.prof``), the main process (the consumer: fetching messages from Redis and
handing them to the pool) from ready to shutdown (``main-<pid>.prof``). CPU time, not wall
time, so waiting for work does not count. Read with ``python -m pstats FILE``.
"""

from __future__ import annotations

import cProfile
import os
import time
from pathlib import Path

from celery import signals

from celery_app import celery  # noqa: F401 - the app Celery's -A finds here

_profiles: list[tuple[str, cProfile.Profile]] = []


def _start(kind: str) -> None:
    profile = cProfile.Profile(time.process_time)
    profile.enable()
    _profiles.append((kind, profile))


def _dump() -> None:
    directory = Path(os.environ["PMDI_BENCH_PROFILE_DIR"])
    while _profiles:
        kind, profile = _profiles.pop()
        profile.disable()
        profile.dump_stats(directory / f"{kind}-{os.getpid()}.prof")


@signals.worker_process_init.connect
def _child_started(**_: object) -> None:
    _profiles.clear()  # a fork copies the parent's list
    _start("child")


@signals.worker_process_shutdown.connect
def _child_stopping(**_: object) -> None:
    _dump()


@signals.worker_ready.connect
def _main_ready(**_: object) -> None:
    _start("main")


@signals.worker_shutdown.connect
def _main_stopping(**_: object) -> None:
    _dump()
