"""Forms of the document pages (each carries a CSRF token)."""

from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import HiddenField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, DataRequired


class UploadForm(FlaskForm):
    """One or more files."""

    files = MultipleFileField("Files")


class ActionForm(FlaskForm):
    """A POST button on one document (delete, reprocess)."""


class BulkForm(FlaskForm):
    """An action on the documents ticked in the list."""

    action = SelectField(
        "Action",
        choices=[SelectChoice("reprocess", "Reprocess"), SelectChoice("delete", "Delete")],
        validators=[DataRequired(), AnyOf(["reprocess", "delete"])],
    )
    next = HiddenField()
