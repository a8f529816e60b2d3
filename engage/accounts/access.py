"""Who may see a staff screen: signed in (else the login page), and a role (else 403)."""

from __future__ import annotations

from functools import wraps

from flask import abort
from flask_login import current_user, login_required

from engage.extensions import login_manager


def require_role(role: str):
    """For `Blueprint.before_request`: None when the signed-in user has `role`."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not current_user.can(role):
        abort(403)
    return None


def role_required(role: str):
    """View decorator: sign-in required, then `role` (admin ⊇ editor ⊇ moderator)."""

    def decorate(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if not current_user.can(role):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorate
