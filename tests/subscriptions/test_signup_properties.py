"""Whatever arrives in the sign-up form, the reader gets a page, never a 500."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engage.extensions import limiter
from tests.conftest import csrf_token

anything = st.text(max_size=400)
emailish = st.one_of(
    anything,
    st.emails().map(str),
    st.builds(lambda a, b: f"{a}@{b}", st.text(max_size=80), st.text(max_size=80)),
    st.sampled_from(
        ["a@example.org\r\nBcc: x@example.org", "ü@exämple.org", "@", "a@b", "\x00@x.org"]
    ),
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    email=emailish,
    chosen=st.lists(st.one_of(anything, st.just("newsletter")), max_size=5),
    digest=st.one_of(anything, st.sampled_from(["off", "weekly", "daily"])),
    source=anything,
    website=st.one_of(st.just(""), anything),
)
def test_sign_up_never_answers_500(app, client, topics, email, chosen, digest, source, website):
    with app.app_context():
        limiter.reset()
    token = csrf_token(client, "/subscribe")
    response = client.post(
        "/subscribe",
        data={
            "csrf_token": token,
            "email": email,
            "topics": chosen,
            "digest": digest,
            "source": source,
            "website": website,
        },
    )
    assert response.status_code in (303, 400), response.status_code
    if any("\x00" in value for value in (email, digest, source, website, *chosen)):
        # No keyboard types a NUL: the edge refuses it before the form (tests/core/test_nul.py).
        assert response.status_code == 400
    elif response.status_code == 400:
        page = response.get_data(as_text=True)
        assert 'class="field-error"' in page  # the reader is told what to fix
