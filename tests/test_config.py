import pytest

from engage import create_app
from engage.config import DEV_SECRET, ConfigError, Settings, SmtpSettings

STRONG = "x" * 48


def test_production_refuses_a_missing_secret():
    with pytest.raises(ConfigError) as err:
        Settings.from_env({"ENGAGE_ENV": "production"})
    assert "SECRET_KEY" in str(err.value)
    assert "secrets.token_urlsafe" in str(err.value)  # says how to make one


@pytest.mark.parametrize("secret", [DEV_SECRET, "short"])
def test_production_refuses_a_development_or_weak_secret(secret):
    with pytest.raises(ConfigError):
        Settings.from_env({"ENGAGE_ENV": "production", "SECRET_KEY": secret})


def test_production_refuses_a_development_key_anywhere_in_the_rotation():
    with pytest.raises(ConfigError):
        Settings.from_env({"ENGAGE_ENV": "production", "SECRET_KEYS": f"{DEV_SECRET},{STRONG}"})


def test_create_app_in_production_refuses_to_start_without_a_secret(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("SECRET_KEYS", raising=False)
    with pytest.raises(ConfigError):
        create_app({"ENGAGE_ENV": "production", "ENGAGE_INSTANCE_PATH": str(tmp_path)})


def test_key_rotation_signs_with_the_last_key_and_keeps_the_older_ones():
    settings = Settings.from_env({"SECRET_KEYS": "old-key, new-key"})
    config = settings.flask_config()
    assert config["SECRET_KEY"] == "new-key"
    assert config["SECRET_KEY_FALLBACKS"] == ["old-key"]


def test_unknown_environment_is_refused():
    with pytest.raises(ConfigError, match="ENGAGE_ENV"):
        Settings.from_env({"ENGAGE_ENV": "staging"})


def test_defaults_are_safe_for_development(tmp_path):
    settings = Settings.from_env({}, instance_path=str(tmp_path))
    assert settings.env == "development"
    assert settings.database_url == f"sqlite:///{tmp_path / 'engage.db'}"
    assert settings.broker_url == "filesystem://"
    assert settings.smtp_url is None
    assert settings.base_url == "http://127.0.0.1:5000"


def test_redis_url_is_the_broker_when_no_broker_is_named():
    settings = Settings.from_env({"REDIS_URL": "redis://cache:6379/2"})
    assert settings.broker_url == "redis://cache:6379/2"
    assert settings.rate_limit_storage == "redis://cache:6379/2"
    named = Settings.from_env({"REDIS_URL": "redis://a/1", "CELERY_BROKER_URL": "redis://b/2"})
    assert named.broker_url == "redis://b/2"


def test_postgres_urls_use_psycopg_3():
    settings = Settings.from_env({"DATABASE_URL": "postgres://u:p@db:5432/engage"})
    assert settings.database_url == "postgresql+psycopg://u:p@db:5432/engage"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://localhost:1025", SmtpSettings("localhost", 1025)),
        ("smtp://mail.example.org", SmtpSettings("mail.example.org", 25)),
        (
            "smtps://u%40x:p%3Aw@mail.example.org",
            SmtpSettings("mail.example.org", 465, "u@x", "p:w", ssl=True),
        ),
        (
            "smtp://user:pass@mail.example.org:587?starttls=1&timeout=5",
            SmtpSettings("mail.example.org", 587, "user", "pass", starttls=True, timeout=5.0),
        ),
    ],
)
def test_smtp_url_forms(url, expected):
    assert SmtpSettings.from_url(url) == expected


@pytest.mark.parametrize("url", ["http://mail.example.org", "smtp://", "mail.example.org:25"])
def test_bad_smtp_urls_fail_at_start(url):
    with pytest.raises(ConfigError):
        Settings.from_env({"SMTP_URL": url})


def test_bounce_address_must_be_plain():
    assert Settings.from_env({"BOUNCE_ADDRESS": "bounces@example.org"}).bounce_address == (
        "bounces@example.org"
    )
    assert Settings.from_env({}).bounce_address == ""
    for bad in ("bounces+x@example.org", "bounces", "bounces@localhost", "bö@example.org"):
        with pytest.raises(ConfigError, match="BOUNCE_ADDRESS"):
            Settings.from_env({"BOUNCE_ADDRESS": bad})


PRODUCTION = {
    "ENGAGE_ENV": "production",
    "SECRET_KEY": STRONG,
    "BASE_URL": "https://news.example.org",
    "MAIL_FROM": "News <news@example.org>",
}


def test_production_starts_with_good_sender_settings():
    settings = Settings.from_env(PRODUCTION)
    assert settings.base_url == "https://news.example.org"
    assert settings.mail_from == "News <news@example.org>"


@pytest.mark.parametrize(
    ("base_url", "says"),
    [
        (None, "Production needs BASE_URL"),
        ("", "Production needs BASE_URL"),
        ("http://news.example.org", "must be an https address"),
        ("news.example.org", "must be an https address"),
        ("https://localhost:8443", "points at this machine"),
        ("https://127.0.0.1", "points at this machine"),
        ("https://[::1]:5000", "points at this machine"),
        ("https://engage.localhost", "points at this machine"),
    ],
)
def test_production_refuses_a_base_url_readers_cannot_reach(base_url, says):
    env = {**PRODUCTION, "BASE_URL": base_url}
    if base_url is None:
        del env["BASE_URL"]
    with pytest.raises(ConfigError, match=says) as err:
        Settings.from_env(env)
    assert "https://news.example.org" in str(err.value)  # says what to set


@pytest.mark.parametrize(
    "mail_from",
    [None, "Engage <newsletter@localhost>", "news@mailhost", "news@127.0.0.1", "news@x.localhost"],
)
def test_production_refuses_a_sender_without_a_real_domain(mail_from):
    env = {**PRODUCTION, "MAIL_FROM": mail_from}
    if mail_from is None:
        del env["MAIL_FROM"]
    with pytest.raises(ConfigError, match="MAIL_FROM") as err:
        Settings.from_env(env)
    assert "news@example.org" in str(err.value)


def test_development_keeps_its_local_defaults():
    settings = Settings.from_env({})
    assert settings.base_url.startswith("http://127.0.0.1")
    assert settings.mail_from == "Engage <newsletter@localhost>"


@pytest.mark.parametrize(
    ("dkim_domain", "aligned"),
    [
        ("example.org", True),  # the From domain's parent: relaxed alignment
        ("news.example.org", True),
        ("mail.news.example.org", True),
        ("example.net", False),
        ("ample.org", False),
    ],
)
def test_a_dkim_domain_out_of_line_with_the_sender_is_logged_at_start(
    make_app, caplog, dkim_domain, aligned
):
    from tests.support.dkim import KeyPair

    keys = KeyPair.generate(domain=dkim_domain)
    with caplog.at_level("WARNING", logger="engage.config"):
        make_app(MAIL_FROM="News <news@news.example.org>", **keys.settings)
    warnings = [r.getMessage() for r in caplog.records if r.name == "engage.config"]
    if aligned:
        assert warnings == []
    else:
        [warning] = warnings
        assert f"DKIM_DOMAIN {dkim_domain} does not align" in warning
        assert "news.example.org" in warning


def test_a_dkim_key_that_is_not_one_fails_at_start():
    with pytest.raises(ConfigError, match="openssl genrsa"):
        Settings.from_env(
            {
                "DKIM_PRIVATE_KEY": "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END "
                "PRIVATE KEY-----\n",
                "DKIM_SELECTOR": "s",
                "DKIM_DOMAIN": "example.org",
            }
        )


def test_staff_2fa_is_optional_unless_required_and_refuses_other_values():
    assert Settings.from_env({}).staff_2fa == "optional"
    assert Settings.from_env({"STAFF_2FA": "Required"}).staff_2fa == "required"
    with pytest.raises(ConfigError, match="STAFF_2FA must be optional or required"):
        Settings.from_env({"STAFF_2FA": "always"})
