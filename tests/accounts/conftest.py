import pytest

from engage.accounts import service

PASSWORD = "correct horse battery staple"


@pytest.fixture
def editor(ctx, db):
    user = service.create_user(db.session, "Editor@Example.org", PASSWORD, "editor", "Eda")
    db.session.commit()
    return user
