"""Staff statistics: a daily aggregate of subscriber and bounce counts, the dashboard's figures,
its charts, and `GET /api/v1/stats`.

Only counts: nothing here records or shows what one reader opened, clicked or did.
"""


def init_app(app) -> None:
    from engage.stats.cli import stats_cli

    app.cli.add_command(stats_cli)
