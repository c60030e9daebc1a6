"""Leases: which worker processes a document, and until when (DESIGN.md §6).

A worker takes a document's lease in the statement that marks it ``extracting``; nobody else
takes it while the lease runs. A thread renews the lease (and the organization's worker slot)
every ``LEASE_RENEW_SECONDS`` while the work goes on, so the lease can be short: when a worker
dies, its document's lease and slot expire within ``LEASE_SECONDS`` and the reconciler sends
the document again. The pipeline's final write checks the lease is still its own, so a worker
that lost its lease (paused longer than the lease) cannot overwrite the work of the next one.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import func, update
from sqlalchemy.engine import Engine

from webapp.extensions import db
from webapp.models import Document
from webapp.tenancy import context_key, enter_org

log = logging.getLogger(__name__)


def new_owner(task_id: str | None = None, retries: int = 0) -> str:
    """A lease owner: the task, which of its runs (Celery's retry count), and where it runs.

    Without a task (in-process runs) the owner is unique.
    """
    where = f"{socket.gethostname()}:{os.getpid()}"
    return f"{task_id or uuid.uuid4().hex}/{retries}@{where}"[:200]


def supersedes(owner: str, holder: str | None) -> bool:
    """Whether ``owner`` is a later run of the task that holds the lease as ``holder``.

    Celery sends a retry only once the run that asked for it has ended, so that run's lease
    is abandoned and the retry takes it at once, in whichever process it lands. A message
    the broker redelivered carries the same retry count as the run that may still be alive:
    it waits for the lease to expire.
    """
    if not holder:
        return False
    try:
        task, _, rest = owner.partition("/")
        held_task, _, held_rest = holder.partition("/")
        return task == held_task and int(rest.split("@")[0]) > int(held_rest.split("@")[0])
    except ValueError:
        return False


def lease_until() -> object:
    """The SQL expression for a lease taken or renewed now."""
    return func.now() + func.make_interval(0, 0, 0, 0, 0, 0, current_app.config["LEASE_SECONDS"])


@dataclass
class Renewer:
    """Renews one document's lease and slot from a thread until stopped."""

    engine: Engine
    org_id: uuid.UUID
    document_id: uuid.UUID
    owner: str
    seconds: float
    every: float
    slots: object | None = None  # a workers.fairness.Fairness
    # The key that signs the verified tenant context (webapp.tenancy, migration 0010): the
    # renewing thread has no app context, so it is read once, before the thread starts.
    key: bytes = b""

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self.lost = threading.Event()  # set when the lease turned out to be someone else's
        self._thread = threading.Thread(target=self._run, name="lease-renewer", daemon=True)

    def start(self) -> None:
        """Hold the slot for as long as the lease (not the queued time), then keep both alive."""
        self._hold_slot()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.every + 5)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.renew_once()

    def renew_once(self) -> bool:
        """Extend the lease and the slot; False if the lease is no longer this worker's."""
        try:
            with self.engine.begin() as conn:
                enter_org(conn, self.org_id, self.key)
                renewed = conn.execute(
                    update(Document)
                    .where(
                        Document.organization_id == self.org_id,
                        Document.id == self.document_id,
                        Document.lease_owner == self.owner,
                    )
                    .values(
                        lease_expires_at=func.now()
                        + func.make_interval(0, 0, 0, 0, 0, 0, self.seconds)
                    )
                ).rowcount
        except Exception:  # noqa: BLE001 - try again next time; the lease outlives a few misses
            log.warning("could not renew the lease of %s", self.document_id, exc_info=True)
            renewed = -1
        if renewed == 0:
            self.lost.set()
            log.warning("document %s: the lease passed to another worker", self.document_id)
            return False
        self._hold_slot()
        return True

    def _hold_slot(self) -> None:
        if self.slots is None:
            return
        try:
            self.slots.hold(str(self.org_id), str(self.document_id), self.seconds)  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 - the slot is a courtesy; it expires by itself
            log.warning("could not renew the slot of %s", self.document_id, exc_info=True)


@contextmanager
def renewing(org_id: uuid.UUID, document_id: uuid.UUID, owner: str) -> Iterator[Renewer]:
    """Keep the lease (and slot) of a document alive for the duration of the block."""
    config = current_app.config
    renewer = Renewer(
        engine=db.engine,
        org_id=org_id,
        document_id=document_id,
        owner=owner,
        seconds=float(config["LEASE_SECONDS"]),
        every=float(config["LEASE_RENEW_SECONDS"]),
        slots=current_app.extensions.get("fairness"),
        key=context_key(),
    )
    renewer.start()
    try:
        yield renewer
    finally:
        renewer.stop()
