"""Scratch PostgreSQL databases for the test suite and the benchmarks (never the app itself).

`create_scratch_database(url, label)` makes an empty database beside the one `url` names and
returns its URL; `drop_scratch_database(url)` removes it, even with connections still open.
"""

from __future__ import annotations

import os

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


def create_scratch_database(url: str, label: str) -> str:
    target = make_url(url).set(drivername="postgresql+psycopg")
    name = f"{target.database}_{label}_{os.getpid()}"
    admin = create_engine(target, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return target.set(database=name).render_as_string(hide_password=False)


def drop_scratch_database(url: str) -> None:
    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
    admin.dispose()
