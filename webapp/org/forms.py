"""Forms of the organization settings pages (each carries a CSRF token)."""

from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from webapp.names import clean_name


def _strip(value: str | None) -> str | None:
    """A token's name as stored: no invisible characters (webapp/names.py), trimmed."""
    return clean_name(value) if isinstance(value, str) else value


class CreateTokenForm(FlaskForm):
    """A new API token, named so its owner knows later what uses it."""

    name = StringField(
        "Token name",
        filters=[_strip],
        validators=[DataRequired(message="Name the token (e.g. “CI uploads”)."), Length(1, 80)],
        render_kw={"placeholder": "e.g. CI uploads", "maxlength": 80},
    )


class RevokeTokenForm(FlaskForm):
    """The POST button that revokes one token."""
