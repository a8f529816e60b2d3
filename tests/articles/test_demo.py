from datetime import UTC

from sqlalchemy import func, select

from engage import create_app
from engage.accounts.models import User
from engage.articles.models import Article
from engage.community.models import Event, SupportGroup
from engage.extensions import db as _db
from engage.subscriptions.models import Topic
from engage.types import utcnow

MODELS = (Article, Topic, SupportGroup, Event, User)


def snapshot(app) -> dict:
    with app.app_context():
        counts = {
            m.__name__: _db.session.scalar(select(func.count()).select_from(m)) for m in MODELS
        }
        rows = {
            "articles": _db.session.execute(
                select(Article.id, Article.slug, Article.published_at, Article.updated_at)
            ).all(),
            "events": _db.session.execute(select(Event.id, Event.slug, Event.starts_at)).all(),
            "users": _db.session.execute(select(User.id, User.email, User.password_hash)).all(),
        }
        _db.session.remove()
    return {"counts": counts, **rows}


def test_demo_load_is_idempotent(app, committed, monkeypatch):
    monkeypatch.delenv("ENGAGE_DEMO_PASSWORD", raising=False)
    runner = app.test_cli_runner()

    first = runner.invoke(args=["demo", "load"])
    assert first.exit_code == 0, first.output
    after_first = snapshot(app)
    second = runner.invoke(args=["demo", "load"])
    assert second.exit_code == 0, second.output

    assert snapshot(app) == after_first
    counts = after_first["counts"]
    assert counts["Article"] >= 3
    assert counts["User"] == 3
    assert counts["SupportGroup"] >= 3
    assert counts["Event"] >= 3
    logins = [line.split() for line in first.output.splitlines()]
    for role in ("admin", "editor", "moderator"):
        assert [role, f"{role}@example.org", "engage-demo-2026"] in logins

    with app.app_context():
        now = utcnow()
        topics = _db.session.scalars(select(Topic)).all()
        assert [t.slug for t in topics if t.is_default] == ["newsletter"]
        events = _db.session.scalars(select(Event)).all()
        assert all(e.status == "approved" and e.starts_at > now for e in events)
        assert all(e.starts_at.tzinfo is UTC for e in events)
        groups = _db.session.scalars(select(SupportGroup)).all()
        assert all(g.status == "approved" and g.approved_at for g in groups)
        assert all(g.contact.endswith("@example.org") for g in groups)
        assert len({g.format for g in groups}) >= 2
        articles = _db.session.scalars(select(Article)).all()
        assert all(a.published_at and a.published_at < now for a in articles)
        _db.session.remove()

    client = app.test_client()
    home = client.get("/").get_data(as_text=True)
    assert "complement professional care" in home
    for article in articles:
        assert client.get(f"/articles/{article.slug}").status_code == 200


def test_demo_password_comes_from_the_environment(app, committed, monkeypatch):
    monkeypatch.setenv("ENGAGE_DEMO_PASSWORD", "another-long-demo-password")
    result = app.test_cli_runner().invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output
    logins = [line.split() for line in result.output.splitlines()]
    assert ["editor", "editor@example.org", "another-long-demo-password"] in logins


def test_demo_load_refuses_production(test_settings, committed):
    production = create_app(
        {
            **test_settings,
            "ENGAGE_ENV": "production",
            "SECRET_KEY": "p" * 48,
            "BASE_URL": "https://engage.test",
        }
    )
    try:
        result = production.test_cli_runner().invoke(args=["demo", "load"])
        assert result.exit_code != 0
        assert "ENGAGE_ENV is production" in result.output
        with production.app_context():
            assert _db.session.scalar(select(func.count()).select_from(User)) == 0
            assert _db.session.scalar(select(func.count()).select_from(Article)) == 0
            _db.session.remove()
    finally:
        with production.app_context():
            _db.engine.dispose()
