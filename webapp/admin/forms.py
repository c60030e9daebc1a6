"""Forms of the admin area (CSRF through Flask-WTF); limits are parsed by the services."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import EmailField, Field, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from webapp.admin import services
from webapp.plans import LIMIT_NAMES


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


class LimitValue:
    """A limit field: a non-negative integer, ``unlimited`` where allowed, blank = inherit."""

    def __init__(self, name: str, *, allow_inherit: bool) -> None:
        self.name = name
        self.allow_inherit = allow_inherit

    def __call__(self, form: FlaskForm, field: Field) -> None:
        try:
            services.parse_limit(self.name, field.data, allow_inherit=self.allow_inherit)
        except services.InvalidChange as exc:
            raise ValidationError(exc.message) from exc


def _limit_field(name: str, *, allow_inherit: bool) -> StringField:
    hint = "a whole number ≥ 0"
    if services.may_be_unlimited(name):
        hint += ", or unlimited"
    if allow_inherit:
        hint = "blank = the plan's value; " + hint
    return StringField(
        services.LIMIT_LABELS[name],
        filters=[_strip],
        validators=[LimitValue(name, allow_inherit=allow_inherit)],
        description=hint,
        render_kw={"inputmode": "text", "autocomplete": "off", "placeholder": hint},
    )


class LoginForm(FlaskForm):
    """An admin's e-mail and password."""

    email = EmailField("E-mail", filters=[_strip], validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=256)])


class LogoutForm(FlaskForm):
    """Log-out is a POST, so it carries a CSRF token."""


class _LimitsMixin:
    def limit_values(self) -> dict[str, Any]:
        """The limit fields as typed (the services parse them)."""
        return {name: getattr(self, name).data for name in LIMIT_NAMES}


class PlanForm(_LimitsMixin, FlaskForm):
    """Every limit of one plan (each form on the page is prefixed with the plan's id)."""


class OrganizationForm(_LimitsMixin, FlaskForm):
    """One organization's plan, status and quota overrides."""

    plan_id = SelectField("Plan", validators=[DataRequired()])
    status = SelectField(
        "Status",
        choices=[
            SelectChoice("active", "Active"),
            SelectChoice("suspended", "Suspended (nobody can log in)"),
        ],
        validators=[DataRequired()],
    )
    note = StringField(
        "Note for the audit log",
        filters=[_strip],
        validators=[Optional(), Length(max=500)],
        render_kw={"placeholder": "optional: why (e.g. ticket number)"},
    )


for _name in LIMIT_NAMES:
    setattr(PlanForm, _name, _limit_field(_name, allow_inherit=False))
    setattr(OrganizationForm, _name, _limit_field(_name, allow_inherit=True))
