"""The editor's test copy is the message a reader gets (list headers, links, structure), and
its acting links lead to a page that changes nothing and says it was a test."""

from __future__ import annotations

from sqlalchemy import select

from engage.newsletters import service
from engage.subscriptions.models import Subscriber
from tests.newsletters.conftest import add_newsletter, add_readers, add_topic
from tests.support.dkim import unfolded_headers

TEST_PAGE = "http://engage.test/newsletters/test-copy"


def test_the_test_copy_has_what_a_reader_gets(client, db, tasks, smtp_server):
    topic = add_topic(db.session)
    [reader] = add_readers(db.session, 1, [topic])
    newsletter = add_newsletter(db.session, [topic], subject="Monday news")
    service.send_test(newsletter, "editor@example.org")
    service.send_now(db.session, newsletter)
    db.session.commit()
    tasks.run()

    by_rcpt = {m.rcpt_tos[0]: m for m in smtp_server.wait_for(2)}
    copy, real = by_rcpt["editor@example.org"], by_rcpt[reader]
    # Without BOUNCE_ADDRESS, the envelope sender is MAIL_FROM's address, as before.
    assert copy.mail_from == real.mail_from == "news@engage.test"
    names = [name for name, _ in unfolded_headers(copy.raw)]
    assert names == [name for name, _ in unfolded_headers(real.raw)]
    fields, real_fields = dict(unfolded_headers(copy.raw)), dict(unfolded_headers(real.raw))
    assert fields["Subject"] == "[Test] Monday news" and real_fields["Subject"] == "Monday news"
    assert fields["List-Id"] == real_fields["List-Id"] == "Engage <news.engage.test>"
    assert fields["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert fields["List-Unsubscribe"] == f"<{TEST_PAGE}/unsubscribe>"
    assert "Auto-Submitted" not in fields  # list mail, like the reader's
    text = copy.message.get_body(("plain",)).get_content()
    html = copy.message.get_body(("html",)).get_content()
    assert f"Unsubscribe ({TEST_PAGE}/unsubscribe)" in text
    assert f'href="{TEST_PAGE}/preferences"' in html
    assert 'href="https://example.org/groups/1"' in html  # the newsletter's own links as sent
    assert "/u/" not in text + html and "/preferences/" not in text + html


def test_the_test_links_change_nothing_and_say_so(client, db):
    topic = add_topic(db.session)
    [address] = add_readers(db.session, 1, [topic])
    db.session.commit()

    for kind in ("unsubscribe", "preferences"):
        page = client.get(f"/newsletters/test-copy/{kind}")
        assert page.status_code == 200
        text = page.get_data(as_text=True)
        assert "This link came from a test copy" in text and "Nothing has changed" in text
        assert page.headers["Cache-Control"].startswith("no-store")
    # A mail program's one-click unsubscribe (RFC 8058) on a test copy.
    one_click = client.post(
        "/newsletters/test-copy/unsubscribe", data={"List-Unsubscribe": "One-Click"}
    )
    assert one_click.status_code == 200
    assert "test copy" in one_click.get_data(as_text=True)
    assert "nothing was changed" in one_click.get_data(as_text=True)
    reader = db.session.scalar(select(Subscriber).where(Subscriber.email == address))
    assert reader.status == "confirmed"
    assert client.get("/newsletters/test-copy/anything-else").status_code == 404
