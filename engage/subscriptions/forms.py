"""Flask-WTF forms: CSRF and the plain text fields. Topic and digest choices are read from the
request and checked by the service, which knows which topics exist and words the errors."""

from flask import request
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, StringField
from wtforms.validators import Length, Optional

DIGEST_CHOICES = [
    ("off", "No digest"),
    ("weekly", "Weekly"),
    ("daily", "Daily"),
]


class ChoicesMixin:
    """Topic slugs and digest frequency as submitted, plus errors the service reported."""

    def chosen_topics(self) -> list[str]:
        return [t[:64] for t in request.form.getlist("topics")][:20]

    def chosen_digest(self) -> str:
        return (request.form.get("digest") or "off")[:16]

    def chosen_interests(self) -> dict | None:
        """Digest interests, or None when the form had no interest fields (kept as they are)."""
        if "interests" not in request.form:
            return None
        purposes = [p[:64] for p in request.form.getlist("purposes")][:40]
        regions = [r[:120] for r in request.form.getlist("regions")][:40]
        extra = (request.form.get("region_other") or "")[:120].strip()
        return {"purposes": purposes, "regions": regions + ([extra] if extra else [])}


class SignUpForm(ChoicesMixin, FlaskForm):
    # The address is checked by the service (email-validator), which words the message.
    email = StringField("Email address", validators=[Length(max=320)])
    source = HiddenField(validators=[Optional(), Length(max=300)])
    # Honeypot: hidden from people by CSS and aria-hidden; bots fill every field.
    website = StringField("Leave this field empty", validators=[Optional(), Length(max=200)])


class PreferencesForm(ChoicesMixin, FlaskForm):
    pass


class ConfirmActionForm(FlaskForm):
    """A form whose only field is its CSRF token: a button that POSTs."""


class EraseForm(FlaskForm):
    sure = BooleanField("I understand this removes my subscription and data for good.")
