"""Newsletters: composing, scheduling and sending, and the public archive."""

from flask import Flask


def init_app(app: Flask) -> None:
    from engage.newsletters import public, views

    app.register_blueprint(views.bp)
    app.register_blueprint(public.bp)
