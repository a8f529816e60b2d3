from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Length, Optional


class LoginForm(FlaskForm):
    email = EmailField("Email address", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


class ApiKeyForm(FlaskForm):
    """Plain fields: `service.create_api_key` holds the rules and words the messages."""

    name = StringField("Name (what uses the key)", validators=[Length(max=1000)])
    role = StringField("Role", validators=[Length(max=16)])
    expires_in = StringField("Expires after (days)", validators=[Optional(), Length(max=16)])


class ButtonForm(FlaskForm):
    """A form whose only field is its CSRF token: a button that POSTs."""


class InviteForm(FlaskForm):
    """Plain fields: `staff.invite` holds the rules and words the messages."""

    email = EmailField("Email address", validators=[Length(max=1000)])
    name = StringField("Name", validators=[Length(max=1000)])
    role = StringField("Role", validators=[Length(max=16)])


class RoleForm(FlaskForm):
    role = StringField("Role", validators=[Length(max=16)])


class NewPasswordForm(FlaskForm):
    password = PasswordField("New password", validators=[Length(max=1024)])
    confirm = PasswordField("The same password again", validators=[Length(max=1024)])


class CodeForm(FlaskForm):
    code = StringField("Code", validators=[Length(max=64)])
