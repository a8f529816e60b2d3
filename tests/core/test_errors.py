"""Bad requests get a clear page or JSON error: never a 500, never a stack trace."""


def test_unknown_page_is_a_friendly_404_with_the_crisis_footer(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert "There is no page at this address." in page
    assert "Need help now?" in page


def test_wrong_method_is_405_with_allow(client):
    response = client.delete("/login")
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]
    assert "does not accept" in response.get_data(as_text=True)


def test_oversized_body_is_413(client, app):
    limit = app.config["MAX_CONTENT_LENGTH"]
    response = client.post("/login", data={"email": "a" * (limit + 10), "password": "x"})
    assert response.status_code == 413
    assert "larger than we accept" in response.get_data(as_text=True)


def test_form_without_csrf_token_is_refused_clearly(client):
    response = client.post("/login", data={"email": "a@example.org", "password": "x"})
    assert response.status_code == 400
    assert "Nothing was saved" in response.get_data(as_text=True)


def test_unexpected_errors_show_no_trace_in_production(make_app):
    app = make_app(ENGAGE_ENV="production", SECRET_KEY="p" * 40, BASE_URL="https://engage.test")

    @app.get("/explode")
    def explode():
        raise RuntimeError("secret internals /srv/engage/thing.py")

    response = app.test_client().get("/explode")
    assert response.status_code == 500
    page = response.get_data(as_text=True)
    assert "Something went wrong on our side" in page
    assert "Traceback" not in page and "secret internals" not in page


def test_pages_forbid_third_party_content(client):
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
