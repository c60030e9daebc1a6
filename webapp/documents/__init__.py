"""Documents: upload, list, detail, download, delete, reprocess, search."""

from flask import Blueprint

bp = Blueprint("documents", __name__)

from webapp.documents import views  # noqa: E402,F401 - registers the routes on bp


@bp.app_template_filter("filesize")
def filesize(count: int | None) -> str:
    """Bytes as people read them."""
    from webapp.plans import human_bytes

    return human_bytes(count)


@bp.app_template_filter("max_file_label")
def max_file_label(org) -> str:  # type: ignore[no-untyped-def]
    """The organization's per-file upload limit, readable."""
    from webapp.plans import effective_limit, human_bytes

    return human_bytes(effective_limit(org, "max_file_bytes"))
