# The API fixtures (`auth`: headers with a real key of a role).
from tests.api.conftest import auth, make_key  # noqa: F401
