"""The migrations are the schema: one head, they match the models, and they run both ways."""

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade

from engage import create_app
from engage.extensions import db
from tests.conftest import _drop_postgres, _fresh_postgres

MIGRATIONS = Path(__file__).parent.parent / "engage" / "migrations"


def test_there_is_exactly_one_head(app):
    with app.app_context():
        config = app.extensions["migrate"].migrate.get_config(str(MIGRATIONS))
        assert len(ScriptDirectory.from_config(config).get_heads()) == 1


def test_migrated_schema_matches_the_models(app):
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, db.metadata) == []


def test_migrations_downgrade_and_upgrade_again(test_settings, tmp_path):
    url = test_settings["DATABASE_URL"]
    fresh = (
        _fresh_postgres(url) if url.startswith("postgresql") else f"sqlite:///{tmp_path / 'm.db'}"
    )
    app = create_app({**test_settings, "DATABASE_URL": fresh})
    try:
        with app.app_context():
            upgrade()
            downgrade(revision="base")
            upgrade()
            assert "subscribers" in db.inspect(db.engine).get_table_names()
            db.engine.dispose()
    finally:
        if fresh.startswith("postgresql"):
            _drop_postgres(fresh)
