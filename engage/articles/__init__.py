from flask import Flask


def init_app(app: Flask) -> None:
    from engage.articles import views

    app.register_blueprint(views.bp)
