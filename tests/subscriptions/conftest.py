import pytest

from engage.extensions import limiter
from engage.subscriptions.models import Topic


@pytest.fixture(autouse=True)
def _fresh_rate_limits(app):
    with app.app_context():
        limiter.reset()
    yield


@pytest.fixture
def topics(ctx, db):
    """The default topic `newsletter` and one more, as a fresh site has them."""
    newsletter = Topic(slug="newsletter", name="The newsletter", is_default=True)
    groups = Topic(slug="groups-news", name="News about support groups")
    db.session.add_all([newsletter, groups])
    db.session.commit()
    return {"newsletter": newsletter, "groups-news": groups}
