"""Workspace pages: Actions, digest editing, exports, the calendar feed, notifications."""

from __future__ import annotations

import datetime as dt
import uuid
from urllib.parse import urlsplit

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from webapp import audit
from webapp.documents import services as documents
from webapp.documents.forms import ActionForm
from webapp.extensions import db
from webapp.links import public_base
from webapp.org.services import list_members
from webapp.workspace import bp, exports, items, notify


def today() -> dt.date:
    """Today in UTC (due dates are calendar dates)."""
    return dt.datetime.now(dt.UTC).date()


def _uuid_arg(name: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(request.args.get(name, ""))
    except ValueError:
        return None


def _back(default: str) -> str:
    """Where a form asked to return: a path on this site only."""
    target = request.form.get("next") or ""
    parts = urlsplit(target)
    if target.startswith("/") and not target.startswith("//") and not parts.netloc:
        return target
    return default


def _document_or_404(document_id: str):  # type: ignore[no-untyped-def]
    try:
        return documents.get_document(document_id)
    except documents.DocumentNotFound:
        abort(404)


@bp.get("/actions")
@login_required
def actions() -> ResponseReturnValue:
    """Every action of the organization: filter by member, owner, document, due; sort; page."""
    member = request.args.get("member", "")
    member_id = current_user.id if member == "me" else _uuid_arg("member")
    view = request.args.get("view", "open")
    sort = request.args.get("sort", "due")
    filters = items.ActionFilter(
        view=view if view in items.VIEWS else "open",
        member_id=member_id,
        owner=None if member_id else (request.args.get("owner") or None),
        document_id=_uuid_arg("document"),
        sort=sort if sort in items.SORTS else "due",
    )
    rows, total, page, pages = items.list_actions(
        filters, today(), page=request.args.get("page", 1, type=int)
    )
    document = None
    if filters.document_id is not None:
        try:
            document = documents.get_document(filters.document_id)
        except documents.DocumentNotFound:
            document = None
    # Only the filters are carried into links and forms (never other query parameters).
    args = {
        k: request.args[k]
        for k in ("view", "member", "owner", "document", "sort")
        if request.args.get(k)
    }
    return render_template(
        "workspace/actions.html",
        rows=rows,
        total=total,
        page=page,
        pages=pages,
        filters=filters,
        member=member,
        members=list_members(),
        unmatched=items.unmatched_owners(),
        document=document,
        views=items.VIEWS,
        sorts=items.SORTS,
        today=today(),
        args=args,
        form=ActionForm(),
        may_complete=items.may_complete,
    )


@bp.post("/actions/owners")
@login_required
def link_owner() -> ResponseReturnValue:
    """ "This is …": link an owner as written in documents to a member (remembered)."""
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        link, newly = items.link_owner(request.form.get("name"), request.form.get("user_id"))
    except items.ItemError as exc:
        flash(exc.message, "error")
        return redirect(url_for("workspace.actions")), 400
    titles: dict[uuid.UUID, str] = {}
    for item in newly:
        if item.document_id not in titles:
            titles[item.document_id] = documents.get_document(item.document_id).title
        notify.assigned(item, link.user_id, titles[item.document_id])
    db.session.commit()
    if newly:
        notify.request_delivery()
    flash(f"Linked “{link.name_key}”; {len(newly)} open action(s) now assigned.", "success")
    return redirect(url_for("workspace.actions"))


def _assign_notice(item, member_id) -> None:  # type: ignore[no-untyped-def]
    """Tell a member an action was given to them (not when they gave it to themselves)."""
    if member_id is None or member_id == current_user.id:
        return
    title = documents.get_document(item.document_id).title
    notify.assigned(item, member_id, title)
    db.session.commit()
    notify.request_delivery()


@bp.post("/items/<item_id>")
@login_required
def update_item(item_id: str) -> ResponseReturnValue:
    """Correct an item: text, owner, due date (a risk's severity)."""
    item, back = _item_form(item_id)
    try:
        item, assigned = items.update_item(
            item_id,
            text=request.form.get("text"),
            owner=request.form.get("owner"),
            due=request.form.get("due"),
            severity=request.form.get("severity"),
        )
    except items.ItemError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(back), 303
    _assign_notice(item, assigned)
    flash("Saved.", "success")
    return redirect(back)


@bp.post("/items/<item_id>/done")
@login_required
def toggle_done(item_id: str) -> ResponseReturnValue:
    """Mark an action done, or open again."""
    _, back = _item_form(item_id)
    done = request.form.get("done", "1") == "1"
    try:
        items.set_done(item_id, done)
    except items.ItemError as exc:
        flash(exc.message, "error")
        return redirect(back), 303
    flash("Marked done." if done else "Open again.", "success")
    return redirect(back)


@bp.post("/items/<item_id>/remove")
@login_required
def remove_item(item_id: str) -> ResponseReturnValue:
    """Remove an item from the digest (it stays removed when reprocessed)."""
    _, back = _item_form(item_id)
    items.remove_item(item_id)
    flash("Removed.", "success")
    return redirect(back)


def _item_form(item_id: str):  # type: ignore[no-untyped-def]
    """The item a form acts on (404 if not ours) and the page to return to; 400 without a
    valid CSRF token."""
    try:
        item = items.get_item(item_id)
    except items.ItemNotFound:
        abort(404)
    back = _back(url_for("workspace.edit_digest", document_id=item.document_id))
    if not ActionForm().validate_on_submit():
        abort(400)
    return item, back


@bp.get("/documents/<document_id>/digest/edit")
@login_required
def edit_digest(document_id: str) -> ResponseReturnValue:
    """Correct a digest: actions, decisions, risks, the title."""
    document = _document_or_404(document_id)
    return render_template(
        "workspace/edit_digest.html",
        document=document,
        found=items.document_items(document),
        members=list_members(),
        form=ActionForm(),
        severities=items.SEVERITIES,
    )


@bp.post("/documents/<document_id>/digest/items")
@login_required
def add_item(document_id: str) -> ResponseReturnValue:
    """Add an action, decision or risk by hand."""
    document = _document_or_404(document_id)
    back = url_for("workspace.edit_digest", document_id=document.id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        item, member_id = items.add_item(
            document.id,
            kind=request.form.get("kind", ""),
            text=request.form.get("text"),
            owner=request.form.get("owner"),
            due=request.form.get("due"),
            severity=request.form.get("severity"),
        )
    except items.ItemError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(back), 303
    _assign_notice(item, member_id)
    flash(f"Added the {item.kind}.", "success")
    return redirect(back)


@bp.post("/documents/<document_id>/rename")
@login_required
def rename(document_id: str) -> ResponseReturnValue:
    """Give the document another title."""
    document = _document_or_404(document_id)
    back = url_for("workspace.edit_digest", document_id=document.id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        items.rename_document(document.id, request.form.get("title"))
    except items.ItemError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(back), 303
    flash("Renamed.", "success")
    return redirect(back)


def _download(body: str | bytes, mimetype: str, filename: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/documents/<document_id>/digest.md")
@login_required
def digest_markdown(document_id: str) -> ResponseReturnValue:
    """The digest as Markdown."""
    document = _document_or_404(document_id)
    analysis = documents.get_analysis(document)
    body = exports.digest_markdown(document, analysis.digest if analysis else None)
    audit.record_now(
        "digest.exported", actor_id=current_user.id, target_type="document", target_id=document.id
    )
    return _download(body, "text/markdown", f"digest-{document.id}.md")


@bp.get("/documents/<document_id>/actions.csv")
@login_required
def actions_csv(document_id: str) -> ResponseReturnValue:
    """The document's actions as CSV."""
    document = _document_or_404(document_id)
    body = exports.actions_csv(document)
    audit.record_now(
        "actions.exported", actor_id=current_user.id, target_type="document", target_id=document.id
    )
    return _download(body, "text/csv", f"actions-{document.id}.csv")


@bp.route("/calendar", methods=["GET", "POST"])
@login_required
def calendar() -> ResponseReturnValue:
    """My calendar feed: create (or replace) it, revoke it."""
    form = ActionForm()
    link = None
    if form.validate_on_submit():
        if request.form.get("act") == "revoke":
            exports.revoke_feeds(current_user.id)
            flash("Your calendar feed is revoked; its address no longer works.", "success")
        else:
            token = exports.create_feed(current_user.id)
            link = public_base() + url_for("workspace.feed", feed_token=token)
    elif request.method == "POST":
        abort(400)
    feed = exports.active_feed(current_user.id)
    headers = {"Cache-Control": "no-store"}
    return render_template("workspace/calendar.html", feed=feed, link=link, form=form), headers


@bp.get("/calendar/<feed_token>.ics")
def feed(feed_token: str) -> ResponseReturnValue:
    """A member's actions as ICS, for calendar applications (the secret URL is the key)."""
    try:
        body = exports.feed_calendar(feed_token, public_base())
    except exports.FeedNotFound:
        abort(404)
    response = Response(body, mimetype="text/calendar")
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.get("/notifications")
@login_required
def notifications() -> ResponseReturnValue:
    """My notifications, newest first; my mail preferences."""
    return render_template(
        "workspace/notifications.html",
        notes=notify.recent(current_user.id),
        prefs=notify.preferences(current_user.id),
        form=ActionForm(),
    )


@bp.post("/notifications/<notification_id>/read")
@login_required
def read_notification(notification_id: str) -> ResponseReturnValue:
    """Mark one of my notifications read and follow its link."""
    note = notify.get_own(notification_id, current_user.id)
    if note is None or not ActionForm().validate_on_submit():
        abort(404)
    link = note.link or url_for("workspace.notifications")
    notify.mark_read(current_user.id, note.id)
    return redirect(link if link.startswith("/") else url_for("workspace.notifications"))


@bp.post("/notifications/read")
@login_required
def read_all() -> ResponseReturnValue:
    """Mark all my notifications read."""
    if not ActionForm().validate_on_submit():
        abort(400)
    notify.mark_read(current_user.id)
    return redirect(url_for("workspace.notifications"))


@bp.post("/notifications/preferences")
@login_required
def preferences() -> ResponseReturnValue:
    """Mail me notifications or not; send me the daily overdue digest or not."""
    if not ActionForm().validate_on_submit():
        abort(400)
    notify.save_preferences(
        current_user.id,
        mail_on=request.form.get("mail") == "1",
        overdue_digest=request.form.get("overdue_digest") == "1",
    )
    flash("Preferences saved.", "success")
    return redirect(url_for("workspace.notifications"))


SOURCE_WINDOW = 400


@bp.get("/documents/<document_id>/text")
@login_required
def source(document_id: str) -> ResponseReturnValue:
    """The document's extracted text with numbered lines, opened at the line an item came from."""
    document = _document_or_404(document_id)
    analysis = documents.get_analysis(document, with_text=True)
    line = request.args.get("line", type=int)
    page = request.args.get("page", type=int)
    lines = (analysis.text if analysis else "").split("\n")
    start = max(1, (line or 1) - 40)
    shown = list(enumerate(lines[start - 1 : start - 1 + SOURCE_WINDOW], start=start))
    return render_template(
        "workspace/source.html",
        document=document,
        shown=shown,
        line=line,
        page=page,
        total=len(lines),
    )
