import hmac

from flask import Flask

from engage.extensions import db, login_manager


def init_app(app: Flask) -> None:
    from engage.accounts import staff_views, views
    from engage.accounts.cli import api_keys_cli, users_cli
    from engage.accounts.models import User

    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = "Please sign in to continue."

    @login_manager.user_loader
    def _load(session_id: str):
        # "<id>.<session key>" (User.get_id): a session the user ended, or one from before a
        # password change or deactivation, carries an old key and opens nothing.
        user_id, _, key = session_id.partition(".")
        if not user_id.isdigit() or len(user_id) > 10 or not key:
            return None
        user = db.session.get(User, int(user_id))
        if user is None or not hmac.compare_digest(key.encode(), user.session_key.encode()):
            return None
        return user

    app.register_blueprint(views.bp)  # staff_views adds its routes to it
    app.before_request(staff_views.require_two_factor)
    app.cli.add_command(users_cli)
    app.cli.add_command(api_keys_cli)
