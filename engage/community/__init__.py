"""Support groups and events: the public directory, organiser submissions, the editor's review,
the API, and (for the digests) the models they announce."""

from flask import Flask


def init_app(app: Flask) -> None:
    from engage.community import admin, views

    app.register_blueprint(views.bp)
    app.register_blueprint(admin.bp)
