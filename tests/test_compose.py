"""docker-compose.yml cannot be started here (no Docker engine), so check what it points at."""

import importlib.util
import shlex
from pathlib import Path

import yaml

import engage
from engage import ENV_KEYS

ROOT = Path(__file__).parent.parent


def _compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_has_every_part_of_a_production_like_setup():
    services = _compose()["services"]
    assert {"postgres", "redis", "web", "worker", "beat", "mailcatcher"} <= set(services)


def _command(service) -> list[str]:
    command = service["command"]
    return command if isinstance(command, list) else shlex.split(command)


def test_every_engage_command_points_at_something_that_exists():
    services = _compose()["services"]
    checked = 0
    for name, service in services.items():
        if "build" not in service:
            continue
        argv = _command(service)
        assert argv[0] in {"gunicorn", "celery", "flask"}, name
        if argv[0] == "gunicorn":
            target = argv[-1]
            module, _, call = target.partition(":")
            assert module == "engage" and call == "create_app()"
            assert callable(engage.create_app)
        if argv[0] == "celery":
            app_module = argv[argv.index("-A") + 1]
            assert importlib.util.find_spec(app_module) is not None, app_module
            assert argv[argv.index("-A") + 2] in {"worker", "beat"}
        if argv[0] == "flask":
            assert argv[1:3] == ["--app", "engage"]
        checked += 1
    assert checked >= 3


def test_only_one_beat_runs():
    services = _compose()["services"]
    beats = [n for n, s in services.items() if "build" in s and "beat" in _command(s)]
    assert beats == ["beat"]
    assert "replicas" not in services["beat"].get("deploy", {})


def test_compose_uses_the_same_variables_as_the_app():
    compose = _compose()
    for name, service in compose["services"].items():
        if "build" in service:
            assert set(service["environment"]) <= ENV_KEYS, name
            assert service["environment"]["ENGAGE_ENV"] == "production"


def test_the_image_copies_folders_that_exist():
    dockerfile = (ROOT / "Dockerfile").read_text()
    for line in dockerfile.splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), source
