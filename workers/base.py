"""Task bases: every task runs in the Flask app context; tenant tasks also in a tenant context."""

from __future__ import annotations

import uuid
from typing import Any

from celery import Task

from webapp import tenancy
from webapp.tenancy import TenantContextMissing


class FlaskTask(Task):
    """Runs the task body inside the Flask app's context (flask docs' Celery pattern)."""

    abstract = True

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with self.app.flask_app.app_context():  # type: ignore[attr-defined]
            return self.run(*args, **kwargs)


def _org_from(args: tuple[Any, ...] | list[Any] | None, kwargs: dict[str, Any] | None) -> uuid.UUID:
    if args:
        candidate = args[0]
    elif kwargs and "org_id" in kwargs:
        candidate = kwargs["org_id"]
    else:
        raise TenantContextMissing("tenant task without an org_id")
    return tenancy.as_org_id(candidate)


class TenantTask(FlaskTask):
    """A task of one organization: ``org_id`` is its first argument.

    The context is set before the body and cleared after it, so nothing carries over to the
    next task in the same worker process. A message without an organization fails before any
    database work; enqueueing one raises in the caller.
    """

    abstract = True

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        org_id = _org_from(args, kwargs)
        with self.app.flask_app.app_context():  # type: ignore[attr-defined]
            with tenancy.tenant_context(org_id):
                return self.run(*args, **kwargs)

    def apply_async(self, args: Any = None, kwargs: Any = None, **options: Any) -> Any:
        """Refuse to enqueue without an organization; org ids travel as strings (JSON)."""
        org_id = _org_from(args, kwargs)
        if args:
            args = (str(org_id), *tuple(args)[1:])
        else:
            kwargs = {**(kwargs or {}), "org_id": str(org_id)}
        return super().apply_async(args, kwargs, **options)
