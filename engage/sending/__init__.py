"""Sending: the outbox (work for the workers, written with the change that causes it), delivery
rows, claims and leases, and the SMTP batch loop.

Newsletters, digests and transactional mail are producers that feed it; it imports none of
them. See outbox.py (the seam) and pipeline.py (bulk sends).
"""


def init_app(app) -> None:
    from engage.sending.cli import bounces_cli

    app.cli.add_command(bounces_cli)
