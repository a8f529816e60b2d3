from flask import Flask

from engage.extensions import db, login_manager


def init_app(app: Flask) -> None:
    from engage.accounts import views
    from engage.accounts.cli import api_keys_cli, users_cli
    from engage.accounts.models import User

    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = "Please sign in to continue."

    @login_manager.user_loader
    def _load(user_id: str):
        return db.session.get(User, int(user_id)) if user_id.isdigit() else None

    app.register_blueprint(views.bp)
    app.cli.add_command(users_cli)
    app.cli.add_command(api_keys_cli)
