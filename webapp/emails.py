"""Which e-mail addresses the forms accept (sign-up, invitations, the profile's new address).

``email_validator`` checks the syntax (one ``@``, a domain with a dot, no spaces or quotes
where they cannot be delivered); deliverability is not asked of DNS (no network call on a form
post). Its ``test_environment`` lets the ``.test`` domain through, so ``maria@acme.test`` works
in development and trials, while the other special-use names (``.local``, ``.localhost``,
``.invalid``, ``.onion``) stay refused: mail to them cannot arrive.
"""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email
from wtforms import Field, ValidationError
from wtforms.form import BaseForm

MAX_EMAIL_LENGTH = 254


def email_problem(address: str) -> str | None:
    """Why ``address`` cannot be used for mail, in words a person understands; None if it can."""
    try:
        validate_email(address, check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        return f"Enter an e-mail address such as maria@example.com. {exc}"
    return None


class EmailAddress:
    """WTForms validator over :func:`email_problem` (an empty field is DataRequired's job)."""

    def __call__(self, form: BaseForm, field: Field) -> None:
        if not field.data:
            return
        problem = email_problem(field.data)
        if problem is not None:
            raise ValidationError(problem)
