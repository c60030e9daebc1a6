"""Forms of the auth pages (CSRF through Flask-WTF)."""

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from webapp.emails import MAX_EMAIL_LENGTH, EmailAddress
from webapp.names import clean_name

MIN_PASSWORD = 10


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


def _name(value: str | None) -> str | None:
    """A display name as stored: no invisible characters (webapp/names.py)."""
    return clean_name(value) if isinstance(value, str) else value


class SignupForm(FlaskForm):
    """A new organization and its owner."""

    organization = StringField(
        "Organization name", filters=[_name], validators=[DataRequired(), Length(2, 120)]
    )
    name = StringField("Your name", filters=[_name], validators=[DataRequired(), Length(1, 120)])
    email = EmailField(
        "Work e-mail",
        filters=[_strip],
        validators=[DataRequired(), Length(max=MAX_EMAIL_LENGTH), EmailAddress()],
    )
    password = PasswordField(
        "Password",
        validators=[
            DataRequired(),
            Length(MIN_PASSWORD, 256, message=f"Use at least {MIN_PASSWORD} characters."),
        ],
    )
    confirm = PasswordField(
        "Repeat password", validators=[DataRequired(), EqualTo("password", "Passwords differ.")]
    )


class LoginForm(FlaskForm):
    """E-mail and password."""

    email = EmailField("E-mail", filters=[_strip], validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=256)])


class LogoutForm(FlaskForm):
    """Log-out is a POST, so it carries a CSRF token."""


class PasswordForm(FlaskForm):
    """Changing one's own password: the current one, then the new one twice."""

    current = PasswordField("Current password", validators=[DataRequired(), Length(max=256)])
    password = PasswordField(
        "New password",
        validators=[
            DataRequired(),
            Length(MIN_PASSWORD, 256, message=f"Use at least {MIN_PASSWORD} characters."),
        ],
    )
    confirm = PasswordField(
        "Repeat the new password",
        validators=[DataRequired(), EqualTo("password", "Passwords differ.")],
    )


class ForgotPasswordForm(FlaskForm):
    """The address to send a reset link to."""

    email = EmailField(
        "E-mail", filters=[_strip], validators=[DataRequired(), Length(max=MAX_EMAIL_LENGTH)]
    )


class ResetPasswordForm(FlaskForm):
    """A new password, twice, from a reset link."""

    password = PasswordField(
        "New password",
        validators=[
            DataRequired(),
            Length(MIN_PASSWORD, 256, message=f"Use at least {MIN_PASSWORD} characters."),
        ],
    )
    confirm = PasswordField(
        "Repeat the new password",
        validators=[DataRequired(), EqualTo("password", "Passwords differ.")],
    )


class NameForm(FlaskForm):
    """One's own display name."""

    name = StringField("Name", filters=[_name], validators=[DataRequired(), Length(1, 120)])


class EmailChangeForm(FlaskForm):
    """A new e-mail address, confirmed by a link sent there; the current password first."""

    new_email = EmailField(
        "New e-mail address",
        filters=[_strip],
        validators=[DataRequired(), Length(max=MAX_EMAIL_LENGTH), EmailAddress()],
    )
    email_password = PasswordField("Current password", validators=[DataRequired(), Length(max=256)])
