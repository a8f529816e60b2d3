"""Flask-WTF forms for the editor's newsletter screens (each one carries the CSRF token)."""

from __future__ import annotations

from functools import cache
from importlib import resources
from zoneinfo import available_timezones

from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from engage.newsletters.blocks import BLOCK_CHOICES
from engage.newsletters.service import MAX_SUBJECT

BODY_FORMATS = [("markdown", "Markdown"), ("mjml", "MJML")]


def choices(pairs) -> list[SelectChoice]:
    """(value, label) pairs as WTForms choices (tuples are deprecated in WTForms 3.3)."""
    return [SelectChoice(value, label) for value, label in pairs]


MAX_BODY = 200_000


@cache
def canonical_timezones() -> tuple[str, ...]:
    """The canonical Area/Location zone names, one per place, without the backward-compatible
    aliases (Asia/Calcutta, US/Eastern, GB…): the tz database's own zone.tab, as shipped by
    the tzdata package, limited to the zones this system can load."""
    known = available_timezones()
    try:
        table = resources.files("tzdata.zoneinfo").joinpath("zone.tab").read_text("utf-8")
    except (ModuleNotFoundError, FileNotFoundError):  # pragma: no cover (tzdata is required)
        return tuple(sorted(n for n in known if n.split("/")[0] in AREAS))
    names = {
        line.split("\t")[2]
        for line in table.splitlines()
        if line and not line.startswith("#") and line.count("\t") >= 2
    }
    return tuple(sorted(names & known))


# The continents and oceans of canonical zone names (the fallback's filter).
AREAS = {
    "Africa", "America", "Antarctica", "Arctic", "Asia", "Atlantic", "Australia", "Europe",
    "Indian", "Pacific",
}  # fmt: skip


def timezone_choices() -> list[tuple[str, str]]:
    """The canonical zone names as (value, label), UTC first."""
    return [("UTC", "UTC")] + [(name, name.replace("_", " ")) for name in canonical_timezones()]


class CheckboxesField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ComposeForm(FlaskForm):
    subject = StringField(
        "Subject",
        validators=[
            DataRequired(),
            Length(
                max=MAX_SUBJECT,
                message=f"The subject can be at most {MAX_SUBJECT} characters: mail programs "
                "cut long subjects short. Move the rest into the preview text or the body.",
            ),
        ],
    )
    preheader = StringField(
        "Preheader",
        validators=[Optional(), Length(max=200)],
        description="The line mail programs show after the subject. Optional.",
    )
    body_format = RadioField("Body format", choices=choices(BODY_FORMATS), default="markdown")
    body = TextAreaField("Body", validators=[Length(max=MAX_BODY)])
    topics = CheckboxesField("Audience", validate_choice=False)
    block = SelectField("Block", choices=choices(BLOCK_CHOICES), validate_choice=False)

    def chosen_topics(self) -> list[str]:
        return [slug[:64] for slug in (self.topics.data or [])][:50]


class ScheduleForm(FlaskForm):
    date = DateField("Date", validators=[DataRequired(message="Choose a date.")])
    time = TimeField("Time", validators=[DataRequired(message="Choose a time.")])
    timezone = SelectField("Time zone", default="UTC", validate_choice=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.timezone.choices = choices(timezone_choices())


class ActionForm(FlaskForm):
    """A form whose only field is its CSRF token: a button that POSTs."""
