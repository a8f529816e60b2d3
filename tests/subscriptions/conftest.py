import pytest

from engage.subscriptions.models import Topic


@pytest.fixture
def topics(ctx, db):
    """The default topic `newsletter` and one more, as a fresh site has them."""
    newsletter = Topic(slug="newsletter", name="The newsletter", is_default=True)
    groups = Topic(slug="groups-news", name="News about support groups")
    db.session.add_all([newsletter, groups])
    db.session.commit()
    return {"newsletter": newsletter, "groups-news": groups}
