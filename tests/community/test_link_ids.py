"""An organiser's link names a listing and carries its key: a link to a deleted listing never
opens the listing that got its id, even one of the same organiser's."""

from __future__ import annotations

from engage.community import service
from engage.urls import external_url
from tests.community.conftest import build_event, build_group


def path(purpose: str, listing) -> str:
    endpoint = "community.edit" if purpose == "organiser-edit" else "community.confirm"
    url = external_url(endpoint, token=service.listing_token(purpose, listing))
    return url.removeprefix("http://engage.test")


def test_an_edit_link_never_opens_the_listing_that_got_its_id(client, db, make_group):
    old = make_group(organiser_email="organiser@example.org", name="Old circle")
    old_id, edit, confirm = old.id, path("organiser-edit", old), path("organiser-verify", old)
    assert client.get(edit).status_code == 200
    db.session.delete(old)
    db.session.commit()
    # The same organiser lists another group, which gets the old id.
    new = build_group(
        db.session, id=old_id, organiser_email="organiser@example.org", name="New circle"
    )
    db.session.commit()

    for link in (edit, confirm):
        page = client.get(link)
        assert page.status_code == 400, link
        assert "New circle" not in page.get_data(as_text=True)
    assert client.get(path("organiser-edit", new)).status_code == 200


def test_an_event_link_is_bound_to_its_row_too(client, db):
    old = build_event(db.session, organiser_email="organiser@example.org", title="Old walk")
    db.session.commit()
    old_id, edit = old.id, path("organiser-edit", old)
    db.session.delete(old)
    db.session.commit()
    build_event(db.session, id=old_id, organiser_email="organiser@example.org", title="New walk")
    db.session.commit()
    page = client.get(edit)
    assert page.status_code == 400 and "New walk" not in page.get_data(as_text=True)


def test_a_new_link_key_revokes_a_listings_links(client, db, make_group):
    from engage.tokens import rotate_link_key

    group = make_group()
    edit = path("organiser-edit", group)
    assert client.get(edit).status_code == 200
    rotate_link_key(group)
    db.session.commit()
    assert client.get(edit).status_code == 400
