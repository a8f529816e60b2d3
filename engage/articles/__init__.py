from flask import Flask


def init_app(app: Flask) -> None:
    from engage.articles import pages, views
    from engage.articles.cli import demo_cli

    app.register_blueprint(views.bp)
    app.register_blueprint(pages.bp)
    app.cli.add_command(demo_cli)
