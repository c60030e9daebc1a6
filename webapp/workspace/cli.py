"""``flask workspace backfill``: digest items for documents processed before migration 0014."""

from __future__ import annotations

import uuid

import click
from flask.cli import AppGroup
from sqlalchemy import exists, select

from webapp import tenancy
from webapp.admin import services as admin_services
from webapp.extensions import db
from webapp.models import DigestItem, Document, DocumentAnalysis
from webapp.workspace.items import sync_digest

workspace_cli = AppGroup("workspace", help="The workspace across documents.")
PAGE = 200  # the most the platform door gives at once


def backfill_organization(org_id: uuid.UUID) -> int:
    """Materialise the items of every analysed document that has none; how many documents.

    No notification: these actions were found long ago. One transaction per document.
    """
    done = 0
    with tenancy.tenant_context(org_id):
        missing = list(
            db.session.scalars(
                select(Document.id).where(
                    Document.status == "done",
                    exists().where(DocumentAnalysis.document_id == Document.id),
                    ~exists().where(DigestItem.document_id == Document.id),
                )
            )
        )
        for document_id in missing:
            document = db.session.get(Document, (org_id, document_id))
            analysis = db.session.scalar(
                select(DocumentAnalysis).where(DocumentAnalysis.document_id == document_id)
            )
            if document is not None and analysis is not None:
                sync_digest(document, analysis.digest or {})
                db.session.commit()
                done += 1
        db.session.remove()
    return done


@workspace_cli.command("backfill")
@click.option("--org", "org_id", help="Only this organization (its id).")
def backfill_command(org_id: str | None) -> None:
    """Fill the Actions page from digests stored before it existed (idempotent)."""
    if org_id:
        ids = [tenancy.as_org_id(org_id)]
    else:
        ids, offset = [], 0
        while True:
            page, total = tenancy.admin_list_organizations(None, PAGE, offset)
            ids += [record.id for record in page]
            offset += PAGE
            if offset >= total or not page:
                break
        db.session.rollback()
    admin_services._platform_event(  # noqa: SLF001 - the platform audit of this operator run
        admin_services.Actor.cli(), "workspace.backfill", "organization", org_id, new=len(ids)
    )
    db.session.commit()
    total_documents = sum(backfill_organization(i) for i in ids)
    click.echo(f"{total_documents} document(s) in {len(ids)} organization(s) backfilled.")
