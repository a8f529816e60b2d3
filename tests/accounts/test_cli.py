from sqlalchemy import select

from engage.accounts.models import ApiKey, User
from engage.accounts.service import authenticate, find_api_key


def test_users_create_reads_the_password_from_stdin(app, committed):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["users", "create", "Mod@Example.org", "--role", "moderator"],
        input="a long enough password\n",
    )
    assert result.exit_code == 0, result.output
    assert "Created moderator mod@example.org" in result.output
    with app.app_context():
        user = committed.session.scalar(select(User).where(User.email == "mod@example.org"))
        assert user.role == "moderator"
        assert authenticate(committed.session, "mod@example.org", "a long enough password") == user


def test_users_create_refuses_short_passwords_and_duplicates(app, committed):
    runner = app.test_cli_runner()
    short = runner.invoke(
        args=["users", "create", "a@example.org", "--role", "admin"], input="short\n"
    )
    assert short.exit_code != 0
    assert "at least 12 characters" in short.output
    ok = runner.invoke(
        args=["users", "create", "a@example.org", "--role", "admin"], input="x" * 12 + "\n"
    )
    assert ok.exit_code == 0
    again = runner.invoke(
        args=["users", "create", "A@example.org", "--role", "admin"], input="y" * 12 + "\n"
    )
    assert again.exit_code != 0
    assert "already exists" in again.output


def test_users_create_refuses_unknown_roles(app, committed):
    result = app.test_cli_runner().invoke(
        args=["users", "create", "a@example.org", "--role", "owner"], input="x" * 12 + "\n"
    )
    assert result.exit_code != 0


def test_api_keys_create_prints_the_key_once_on_the_last_line(app, committed):
    result = app.test_cli_runner().invoke(
        args=["api-keys", "create", "--role", "editor", "--name", "import"]
    )
    assert result.exit_code == 0, result.output
    secret = result.output.strip().splitlines()[-1]
    assert secret.startswith("eng_") and len(secret) > 40
    with app.app_context():
        key = find_api_key(committed.session, secret)
        assert key is not None and key.role == "editor" and key.name == "import"
        stored = committed.session.scalars(select(ApiKey.key_hash)).all()
        assert secret not in stored


def test_users_create_refuses_encoded_word_addresses(app, committed):
    result = app.test_cli_runner().invoke(
        args=["users", "create", "=?utf-8?q?admin?=@example.org", "--role", "admin"],
        input="x" * 12 + "\n",
    )
    assert result.exit_code != 0
    assert "cannot contain “=?”" in result.output
    with app.app_context():
        assert committed.session.scalar(select(User)) is None
