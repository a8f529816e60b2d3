import pytest

from engage.accounts import service
from engage.extensions import limiter

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _fresh_rate_limits(app):
    with app.app_context():
        limiter.reset()
    yield


@pytest.fixture
def editor(ctx, db):
    user = service.create_user(db.session, "Editor@Example.org", PASSWORD, "editor", "Eda")
    db.session.commit()
    return user
