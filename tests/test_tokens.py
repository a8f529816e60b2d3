from datetime import timedelta

import pytest
from itsdangerous import URLSafeTimedSerializer

from engage import tokens
from engage.tokens import TokenError, make_token, read_token


def test_a_token_round_trips_for_its_purpose(ctx):
    token = make_token("confirm", {"subscriber": 7})
    assert read_token("confirm", token) == {"subscriber": 7}


def test_a_token_for_one_purpose_is_refused_for_another(ctx):
    token = make_token("confirm", {"subscriber": 7})
    with pytest.raises(TokenError) as err:
        read_token("preferences", token)
    assert not err.value.expired


def test_tampered_tokens_are_refused(ctx):
    token = make_token("confirm", {"subscriber": 7})
    forged = token.replace(token[5], "A" if token[5] != "A" else "B", 1)
    with pytest.raises(TokenError, match="not valid"):
        read_token("confirm", forged)
    with pytest.raises(TokenError):
        read_token("confirm", "")


def test_expired_tokens_say_so(ctx, app):
    signer = URLSafeTimedSerializer(app.config["ENGAGE"].secret_keys, salt="engage.confirm")
    old = signer.dumps({"subscriber": 7})
    with pytest.raises(TokenError) as err:
        read_token("confirm", old, max_age=timedelta(seconds=-1))
    assert err.value.expired


def test_tokens_survive_key_rotation(make_app):
    old_app = make_app(SECRET_KEYS="first-key-" + "a" * 30)
    with old_app.app_context():
        token = make_token("preferences", {"subscriber": 3})
    rotated = make_app(SECRET_KEYS="first-key-" + "a" * 30 + ",second-key-" + "b" * 30)
    with rotated.app_context():
        assert read_token("preferences", token) == {"subscriber": 3}
        assert make_token("preferences", {"subscriber": 3}) != token  # the new key signs
    retired = make_app(SECRET_KEYS="second-key-" + "b" * 30)
    with retired.app_context(), pytest.raises(TokenError):
        read_token("preferences", token)


def test_every_purpose_has_its_own_salt_and_lifetime():
    salts = [p.salt for p in tokens.PURPOSES.values()]
    assert len(set(salts)) == len(salts)
    assert tokens.PURPOSES["confirm"].max_age == timedelta(hours=48)
