"""Document pages: thin views over webapp.documents.services."""

from __future__ import annotations

from flask import (
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from webapp import audit, observe
from webapp.documents import bp, services, trash
from webapp.documents.downloads import send_document
from webapp.documents.forms import ActionForm, BulkForm, UploadForm
from webapp.models import STATUSES, TYPES


def _document_or_404(document_id: str):  # type: ignore[no-untyped-def]
    try:
        return services.get_document(document_id)
    except services.DocumentNotFound:
        abort(404)


def _filters() -> services.DocumentFilter:
    status = request.args.get("status") or None
    doc_type = request.args.get("type") or None
    sort = request.args.get("sort", "newest")
    return services.DocumentFilter(
        status=status if status in STATUSES else None,
        doc_type=doc_type if doc_type in TYPES else None,
        sort=sort if sort in services.SORTS else "newest",
    )


def processing_message(document) -> str:  # type: ignore[no-untyped-def]
    """What an upload result says beside the status badge, true at every stage (the page's
    script keeps it in step with the badge as processing moves on)."""
    if document.status == "done":
        return "Uploaded and processed: the digest is ready."
    if document.status == "failed":
        return f"Uploaded, but processing failed: {document.error or 'no reason was recorded.'}"
    return "Uploaded; processing has started."


@bp.app_template_filter("processing_message")
def _processing_message_filter(document) -> str:  # type: ignore[no-untyped-def]
    return processing_message(document)


@bp.get("/documents")
@login_required
def index() -> ResponseReturnValue:
    """The organization's documents: newest first, filterable, sortable, paginated."""
    filters = _filters()
    page = services.list_documents(filters, page=request.args.get("page", 1, type=int))
    return render_template(
        "documents/list.html",
        page=page,
        filters=filters,
        statuses=STATUSES,
        types=TYPES,
        type_labels=services.TYPE_LABELS,
        bulk_form=BulkForm(),
        sorts=services.SORTS,
    )


@bp.route("/documents/upload", methods=["GET", "POST"])
@login_required
def upload() -> ResponseReturnValue:
    """Upload several files at once; one result per file."""
    form = UploadForm()
    results: list[dict] = []
    status = 200
    if form.validate_on_submit():
        files = [
            f for f in request.files.getlist("files") if f and (f.filename or f.content_length)
        ]
        if not files:
            form.files.errors = ["Choose at least one file to upload."]
            status = 400
        for storage in files:
            try:
                document = services.upload_document(
                    storage.stream, storage.filename, current_user.id
                )
            except services.DuplicateDocument as exc:
                observe.count_upload(exc)
                results.append(
                    {
                        "filename": storage.filename,
                        "ok": False,
                        "message": exc.message,
                        "document": exc.existing,
                    }
                )
            except services.DocumentError as exc:
                observe.count_upload(exc)
                results.append(
                    {
                        "filename": storage.filename,
                        "ok": False,
                        "message": exc.message,
                        "document": None,
                    }
                )
            else:
                observe.count_upload(None)
                results.append(
                    {
                        "filename": document.filename,
                        "ok": True,
                        "message": processing_message(document),
                        "document": document,
                    }
                )
        if files and not any(r["ok"] for r in results):
            status = 400
    elif request.method == "POST":
        status = 400
    return render_template("documents/upload.html", form=form, results=results), status


@bp.get("/documents/<document_id>")
@login_required
def detail(document_id: str) -> ResponseReturnValue:
    """A document: its status, its digest, a preview of its text."""
    document = _document_or_404(document_id)
    audit.record_now(
        "document.viewed", actor_id=current_user.id, target_type="document", target_id=document.id
    )
    analysis = services.get_analysis(document)
    from webapp.workspace.items import document_items  # the workspace imports this package

    return render_template(
        "documents/detail.html",
        document=document,
        digest=analysis.digest if analysis else None,
        found=document_items(document),
        preview=services.text_preview(document),
        action_form=ActionForm(),
        type_labels=services.TYPE_LABELS,
    )


@bp.get("/documents/<document_id>/download")
@login_required
def download(document_id: str) -> ResponseReturnValue:
    """The original file, streamed chunk by chunk, always as an attachment."""
    document = _document_or_404(document_id)
    audit.record_now(
        "document.downloaded",
        actor_id=current_user.id,
        target_type="document",
        target_id=document.id,
    )
    return send_document(document)


@bp.post("/documents/<document_id>/delete")
@login_required
def delete(document_id: str) -> ResponseReturnValue:
    """Delete one document."""
    document = _document_or_404(document_id)
    if ActionForm().validate_on_submit():
        services.delete_documents([document.id], current_user.id)
        flash(f"Moved “{document.title}” to the trash. You can restore it from there.", "success")
    return redirect(url_for("documents.index"))


@bp.post("/documents/<document_id>/reprocess")
@login_required
def reprocess(document_id: str) -> ResponseReturnValue:
    """Queue one document for processing again."""
    document = _document_or_404(document_id)
    if ActionForm().validate_on_submit():
        if services.reprocess_documents([document.id], current_user.id):
            flash("Processing again.", "success")
        else:
            flash("This document is already being processed.", "info")
    return redirect(url_for("documents.detail", document_id=document.id))


@bp.post("/documents/bulk")
@login_required
def bulk() -> ResponseReturnValue:
    """Delete or reprocess the ticked documents."""
    form = BulkForm()
    ids = request.form.getlist("ids")
    if not form.validate_on_submit() or not ids:
        flash("Tick at least one document, then choose an action.", "error")
        return redirect(url_for("documents.index"))
    try:
        if form.action.data == "delete":
            if request.form.get("confirmed") != "yes":
                # Ask first, naming what would go (a page, so it works without scripts too).
                documents = [services.get_document(i) for i in ids]
                return render_template(
                    "documents/confirm_delete.html",
                    documents=documents,
                    form=form,
                    grace_days=trash.grace().days,
                )
            count = services.delete_documents(ids, current_user.id)
            flash(
                f"Moved {count} document(s) to the trash. You can restore them from the trash "
                f"for {trash.grace().days} days.",
                "success",
            )
        else:
            count = services.reprocess_documents(ids, current_user.id)
            flash(f"Queued {count} document(s) for processing.", "success")
    except services.DocumentNotFound:
        abort(404)
    return redirect(url_for("documents.index"))


@bp.get("/documents/trash")
@login_required
def trash_page() -> ResponseReturnValue:
    """Deleted documents, restorable until the grace period ends."""
    return render_template(
        "documents/trash.html",
        documents=trash.list_trash(),
        summary=trash.summary(),
        grace=trash.grace(),
        action_form=ActionForm(),
        type_labels=services.TYPE_LABELS,
    )


@bp.post("/documents/trash/<document_id>/restore")
@login_required
def restore(document_id: str) -> ResponseReturnValue:
    """Take one document out of the trash."""
    if ActionForm().validate_on_submit():
        try:
            trash.restore([document_id], current_user.id)
        except services.DocumentNotFound:
            abort(404)
        else:
            flash("Restored: the document is back in the list.", "success")
    return redirect(url_for("documents.trash_page"))


@bp.post("/documents/trash/<document_id>/purge")
@login_required
def purge(document_id: str) -> ResponseReturnValue:
    """Delete one trashed document for good, freeing its storage now."""
    if ActionForm().validate_on_submit():
        try:
            trash.purge([document_id], current_user.id)
        except services.DocumentNotFound:
            abort(404)
        else:
            flash("Deleted for good; its storage is free.", "success")
    return redirect(url_for("documents.trash_page"))


@bp.get("/documents/progress")
@login_required
def progress() -> ResponseReturnValue:
    """Status and progress of the given documents (polled by the progress bars)."""
    return jsonify(documents=services.progress_of(request.args.getlist("id")))


@bp.get("/search")
@login_required
def search() -> ResponseReturnValue:
    """Full-text search over the organization's documents."""
    q = request.args.get("q", "").strip()
    filters = _filters()
    hits = services.search_documents(q, filters) if q else []
    return render_template(
        "documents/search.html",
        q=q,
        hits=hits,
        filters=filters,
        statuses=STATUSES,
        types=TYPES,
        type_labels=services.TYPE_LABELS,
    )
