import re
from datetime import timedelta

from engage.types import utcnow

SIGNUP_SENTENCE = "We respect your privacy. Unsubscribe at any time."


def text_of(response) -> str:
    return response.get_data(as_text=True)


def assert_site_frame(page: str) -> None:
    """The footer's crisis box (no country asked for: the international entry), the sign-up
    box and the skip link."""
    assert "Need help now?" in page
    assert 'class="crisis-link" href="https://findahelpline.com"' in page
    assert SIGNUP_SENTENCE in page
    assert 'href="#main"' in page


def test_home_lists_published_articles_newest_first(client, make_article):
    now = utcnow()
    make_article(slug="older", title="An older piece", published_at=now - timedelta(days=9))
    make_article(slug="newer", title="A newer piece", published_at=now - timedelta(days=1))
    make_article(slug="draft", title="A draft piece", published_at=None)
    make_article(slug="later", title="A scheduled piece", published_at=now + timedelta(days=2))

    page = text_of(client.get("/"))

    assert page.index("A newer piece") < page.index("An older piece")
    assert 'href="/articles/newer"' in page
    assert "A draft piece" not in page
    assert "A scheduled piece" not in page
    assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT[^"]+">', page)


def test_article_page(app, client, make_article):
    published = utcnow() - timedelta(days=3)
    make_article(
        slug="on-groups",
        title="On groups & company",
        summary="Why company helps.",
        body_markdown="## Why\n\nBeing **heard** matters.",
        published_at=published,
    )

    response = client.get("/articles/on-groups")
    page = text_of(response)

    assert response.status_code == 200
    assert '<h1 id="article-title">On groups &amp; company</h1>' in page
    assert "<h2>Why</h2>" in page
    assert "<strong>heard</strong>" in page
    assert f'<time datetime="{published.isoformat()}">' in page
    assert "Leave a reply" in page
    assert "Your email address will not be published." in page
    assert 'id="reply-form"' in page  # the comments area replaced the placeholder
    assert_site_frame(page)


def test_unknown_slug_is_a_404_page_with_the_crisis_footer(app, client, ctx):
    response = client.get("/articles/no-such-article")
    page = text_of(response)
    assert response.status_code == 404
    assert "Page not found" in page
    assert_site_frame(page)


def test_unpublished_and_scheduled_articles_are_404(client, make_article):
    make_article(slug="draft", published_at=None)
    make_article(slug="scheduled", published_at=utcnow() + timedelta(hours=1))
    assert client.get("/articles/draft").status_code == 404
    assert client.get("/articles/scheduled").status_code == 404


def test_article_body_is_sanitised_on_the_page(client, make_article):
    make_article(
        slug="hostile",
        body_markdown=(
            "<script>alert(1)</script>\n\n[x](javascript:alert(1))\n\n<img src=x onerror=alert(1)>"
        ),
    )
    page = text_of(client.get("/articles/hostile"))
    assert "<script" not in page
    assert 'href="javascript:' not in page
    assert "<img" not in page


def test_every_page_has_a_working_signup_box(client, ctx):
    page = text_of(client.get("/"))
    footer = page[page.index('class="site-footer"') :]
    assert 'action="/subscribe"' in footer
    assert 'name="csrf_token"' in footer
    assert '<label for="footer-signup-email">Email address</label>' in footer


def test_privacy_and_about_pages(app, client, ctx):
    privacy = client.get("/privacy")
    assert privacy.status_code == 200
    text = text_of(privacy)
    assert "IP address" in text
    assert "erase" in text
    assert "tracking" in text
    about = client.get("/about")
    assert about.status_code == 200
    assert "complement professional care" in text_of(about)
    assert_site_frame(text)


def test_pages_load_only_our_own_assets(client, make_article):
    make_article(slug="assets")
    for url in ("/", "/articles/assets", "/privacy", "/about", "/login"):
        page = text_of(client.get(url))
        # Nothing loaded from elsewhere; the one link out is the crisis helpline directory.
        assert not re.search(r'(src|<link[^>]*href)="(https?:)?//', page), url
        links_out = set(re.findall(r'<a [^>]*href="((?:https?:)?//[^"]*)"', page))
        assert links_out <= {"https://findahelpline.com"}, url
        assert "style=" not in page, url
        assert "<script" not in page, url
