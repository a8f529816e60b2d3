"""Flask-WTF forms for replies and moderation: CSRF on every one, and the plain fields.
The rules (what a valid reply is) live in the service, which words the messages."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, StringField, TextAreaField
from wtforms.validators import Length, Optional


class ReplyForm(FlaskForm):
    name = StringField("Name (shown with your reply)", validators=[Length(max=200)])
    email = StringField("Email (never published)", validators=[Length(max=320)])
    body = TextAreaField("Your reply", validators=[Length(max=20000)])
    notify = BooleanField("Email me when someone replies to me")
    parent_id = HiddenField(validators=[Optional()])
    # Honeypot: hidden from people by CSS and aria-hidden; bots fill every field.
    website = StringField("Leave this field empty", validators=[Optional(), Length(max=200)])


class EditForm(FlaskForm):
    body = TextAreaField("Your reply", validators=[Length(max=20000)])


class ReportForm(FlaskForm):
    # One of REPORT_REASONS; the service checks it and words the message.
    reason = StringField("Why are you reporting this reply?", validators=[Length(max=16)])


class ButtonForm(FlaskForm):
    """A form whose only field is its CSRF token: a button that POSTs."""


class ModerateForm(FlaskForm):
    action = StringField(validators=[Length(max=16)])
    reason = StringField(validators=[Optional(), Length(max=500)])
    next_id = HiddenField(validators=[Optional()])


class SanctionForm(FlaskForm):
    address = StringField("Email address", validators=[Optional(), Length(max=320)])
    kind = StringField("Sanction", validators=[Length(max=16)])  # "ban" or "premoderate"


class DomainRuleForm(FlaskForm):
    domain = StringField("Domain", validators=[Length(max=253)])
    kind = StringField("Rule", validators=[Length(max=16)])  # "ban" or "premoderate"
