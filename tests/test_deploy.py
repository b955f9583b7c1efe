"""Deploying with docker compose, checked without a Docker engine.

The compose file is read as compose reads it and held against the code's own settings classes;
then every service's container command runs natively with the environment compose would give
it (PostgreSQL and Redis from Debian's packages), and a user has a whole conversation through
the frontend; finally, production mode with development keys refuses to start, in words.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import httpx
import jsonschema_rs
import psutil
import pytest
import yaml
from sqlmodel import Session, select

from agent_worker.inference.settings import InferenceSettings
from agent_worker.settings import WorkerSettings
from tests.factories import sign_in
from tests.support.processes import REPO_ROOT, tool_env
from tests.support.production import (
    COMPOSE_FILE,
    LIVEKIT_CONFIG,
    MissingVariable,
    ProductionStack,
    interpolate,
    load_compose,
    production_dotenv,
    service_environment,
)
from tests.support.voice_client import VoiceClient
from voice_app.db import make_engine
from voice_app.history.models import Conversation, ConversationMessage
from voice_app.settings import Settings

COMPOSE_SCHEMA = Path(__file__).parent / "support" / "compose-spec.schema.json"
"""The Compose Specification's JSON schema (compose-spec/compose-spec, Apache-2.0), as bundled in
the `dclint` 3.1.0 npm package."""
DOCKER_DIR = REPO_ROOT / "docker"
ENV_EXAMPLE = REPO_ROOT / ".env.example"
COMPOSE_HINT = (
    "no compose CLI to validate docker-compose.yml: run `scripts/setup.sh test` "
    "(or `sudo apt-get install docker-compose`, or install the docker compose plugin)"
)

OUR_SERVICES = {
    "frontend": "Dockerfile.frontend",
    "backend": "Dockerfile.backend",
    "agent": "Dockerfile.agent",
    "inference": "Dockerfile.inference",
}
PYTHON_SERVICES = {
    "backend": Settings,
    "migrate": Settings,
    "agent": WorkerSettings,
    "inference": InferenceSettings,
}
APP_SERVICES = ("backend", "migrate", "agent")
"""The services that share the app's database and LiveKit keys (and so its production checks)."""
NOT_PASSED = {
    "backend": {"FRONTEND_PORT": "the frontend is its own container; Reflex's backend does not read it"},
    "migrate": {"FRONTEND_PORT": "migrations do not serve anything"},
    "agent": {},
    "inference": {"LLAMA_SERVER_BIN": "the image's own llama-server is on PATH; another is another image"},
}
"""Settings the compose file deliberately leaves at their defaults for a service, and why."""

GREETING_TIMEOUT = 60
REPLY_TIMEOUT = 60


def valid_dotenv() -> dict[str, str]:
    return production_dotenv("postgres-password-1234", "s" * 40)


def compose_variables() -> set[str]:
    """Every `${NAME...}` docker-compose.yml reads from `.env` (comments aside)."""
    names: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(key)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, str):
            names.update(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", node))

    walk(load_compose())
    return names


def env_example_names() -> set[str]:
    """Names set or shown (commented) in .env.example."""
    return set(re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), flags=re.MULTILINE))


def dockerfile(name: str) -> str:
    return (DOCKER_DIR / name).read_text()


# --- the compose file, statically ---


def test_the_compose_file_follows_the_compose_specification() -> None:
    validator = jsonschema_rs.validator_for(json.loads(COMPOSE_SCHEMA.read_text()))
    errors = [
        f"{'/'.join(map(str, e.instance_path))}: {e.message}" for e in validator.iter_errors(load_compose())
    ]
    assert errors == []


def test_compose_itself_accepts_the_file_and_names_a_missing_secret(tmp_path: Path) -> None:
    if shutil.which("docker-compose"):
        command = ["docker-compose"]
    elif subprocess.run(["docker", "compose", "version"], capture_output=True, check=False).returncode == 0:
        command = ["docker", "compose"]
    else:
        pytest.fail(COMPOSE_HINT)
    env_file = tmp_path / ".env"

    def config(dotenv: dict[str, str]) -> subprocess.CompletedProcess[str]:
        env_file.write_text("".join(f"{name}={value}\n" for name, value in dotenv.items()))
        return subprocess.run(
            [*command, "--env-file", str(env_file), "--file", str(COMPOSE_FILE), "config"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={"PATH": tool_env()["PATH"]},
        )

    accepted = config(valid_dotenv())
    assert accepted.returncode == 0, accepted.stderr
    assert "postgres-password-1234" in accepted.stdout

    without_secret = {k: v for k, v in valid_dotenv().items() if k != "LIVEKIT_API_SECRET"}
    refused = config(without_secret)
    assert refused.returncode != 0
    assert "LIVEKIT_API_SECRET" in refused.stderr


def test_images_are_pinned_built_in_stages_run_as_non_root_and_check_their_health() -> None:
    compose = load_compose()
    for service, definition in compose["services"].items():
        if service in OUR_SERVICES or service == "migrate":
            assert definition["build"]["dockerfile"].startswith("docker/Dockerfile."), service
            continue
        image = definition["image"]
        name, _, tag = image.partition(":")
        assert re.fullmatch(r"v?\d+\.\d+(\.\d+)?(-[a-z0-9]+)?", tag), (
            f"{service}: {image} is not pinned to a version"
        )
    for service, name in OUR_SERVICES.items():
        text = dockerfile(name)
        base_images = re.findall(r"^ARG \w+_IMAGE=(\S+)", text, flags=re.MULTILINE)
        assert base_images, name
        for image in base_images:
            assert re.search(r":\d+\.\d+\.\d+-", image), f"{name}: base image {image} is not pinned"
        assert len(re.findall(r"^FROM ", text, flags=re.MULTILINE)) >= 2, f"{name} is not multi-stage"
        final_stage = text.rsplit("\nFROM ", 1)[1]
        assert re.search(r"^USER app$", final_stage, flags=re.MULTILINE), f"{name} does not drop root"
        assert "HEALTHCHECK" in final_stage, name
        assert compose["services"][service]["image"].startswith(f"voice-app-{service}:")


def test_every_long_running_service_has_a_health_check_and_a_restart_policy() -> None:
    compose = load_compose()
    for service, definition in compose["services"].items():
        if definition.get("restart") == "no":
            dependants = [
                name
                for name, other in compose["services"].items()
                if other.get("depends_on", {}).get(service, {}).get("condition")
                == "service_completed_successfully"
            ]
            assert dependants, f"{service} runs once, but nothing waits for it to complete"
            continue
        assert definition["restart"] == "unless-stopped", service
        check = definition["healthcheck"]["test"]
        assert check[0] == "CMD", service
        assert len(check) > 1, service
        for dependency in definition.get("depends_on", {}).values():
            assert dependency["condition"] in ("service_healthy", "service_completed_successfully")


def test_ports_networks_and_scaling_are_as_designed() -> None:
    compose = load_compose()
    services = compose["services"]
    livekit_config = yaml.safe_load(LIVEKIT_CONFIG.read_text())

    assert services["frontend"]["ports"] == ["127.0.0.1:3000:3000"]
    assert services["backend"]["ports"] == ["127.0.0.1:8080:8080"]
    assert services["livekit"]["ports"] == ["7880:7880", "7881:7881/tcp", "7882:7882/udp"]
    assert livekit_config["port"] == 7880
    assert livekit_config["rtc"]["tcp_port"] == 7881
    assert livekit_config["rtc"]["udp_port"] == 7882
    assert livekit_config["redis"]["address"] == "redis:6379"
    assert "keys" not in livekit_config, "LiveKit's keys come from the environment, never from the file"

    agent = services["agent"]
    assert "ports" not in agent, "the agent must scale with --scale agent=N"
    assert "container_name" not in agent, "the agent must scale with --scale agent=N"
    assert agent["depends_on"]["inference"] == {"condition": "service_healthy"}
    assert compose["networks"]["backplane"]["internal"] is True
    for service in ("postgres", "redis", "migrate", "inference"):
        assert services[service]["networks"] == ["backplane"], f"{service} must not be reachable from outside"
        assert "ports" not in services[service]
    assert services["livekit"]["profiles"] == ["livekit"], "LiveKit Cloud users turn the local server off"
    # the second node of the cluster: same config and Redis, its own published media ports,
    # which it must also listen on (browsers are told the ports the node itself uses)
    second = services["livekit-2"]
    assert second["profiles"] == ["multinode"]
    assert second["command"] == services["livekit"]["command"]
    assert second["ports"] == ["7890:7880", "7891:7891/tcp", "7892:7892/udp"]
    assert (second["environment"]["LIVEKIT_RTC_TCP_PORT"], second["environment"]["UDP_PORT"]) == (
        "7891",
        "7892",
    )
    assert second["environment"]["LIVEKIT_KEYS"] == services["livekit"]["environment"]["LIVEKIT_KEYS"]
    assert services["caddy"]["profiles"] == ["https"]
    assert {"80:80", "443:443"} <= set(services["caddy"]["ports"])

    grace = int(agent["stop_grace_period"].removesuffix("s"))
    assert grace > WorkerSettings.model_fields["DRAIN_TIMEOUT_SECONDS"].default, (
        "the worker must get to drain"
    )


@pytest.mark.parametrize("service", sorted(PYTHON_SERVICES))
def test_the_compose_environment_is_exactly_what_the_code_reads(service: str) -> None:
    settings_class = PYTHON_SERVICES[service]
    passed = set(load_compose()["services"][service]["environment"])
    fields = set(settings_class.model_fields)
    assert passed - fields == set(), f"{service} is given variables no setting reads"
    assert fields - passed == set(NOT_PASSED[service]), f"{service} is not given every setting"


@pytest.mark.parametrize("service", APP_SERVICES)
def test_with_a_filled_in_env_file_every_service_passes_its_production_checks(
    service: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env file here: only what compose passes counts
    environment = service_environment(load_compose(), service, valid_dotenv())
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    settings = PYTHON_SERVICES[service]()
    assert settings.ENVIRONMENT == "production"
    assert settings.DATABASE_URL.startswith(
        "postgresql+psycopg://voice_app:postgres-password-1234@postgres:5432/"
    )
    assert settings.LIVEKIT_API_SECRET == "s" * 40


def test_the_agents_reach_the_inference_service_where_it_listens(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env file here: only what compose passes counts
    compose = load_compose()
    for service in ("agent", "inference"):
        for name, value in service_environment(compose, service, valid_dotenv()).items():
            monkeypatch.setenv(name, value)
    inference = InferenceSettings()
    assert inference.INFERENCE_HOST == "0.0.0.0", "other containers must reach it"
    port = inference.INFERENCE_PORT
    agent_url = WorkerSettings().LOCAL_INFERENCE_URL
    assert agent_url == f"http://inference:{port}/v1"
    health_url = compose["services"]["inference"]["healthcheck"]["test"][-1]
    assert health_url == f"http://127.0.0.1:{port}/health"


@pytest.mark.parametrize("secret", ["LIVEKIT_API_KEY", "LIVEKIT_API_SECRET", "POSTGRES_PASSWORD"])
@pytest.mark.parametrize("service", APP_SERVICES)
def test_compose_refuses_to_start_a_service_without_a_secret_and_names_it(service: str, secret: str) -> None:
    dotenv = {**valid_dotenv(), secret: ""}
    with pytest.raises(MissingVariable) as refused:
        service_environment(load_compose(), service, dotenv)
    assert refused.value.name == secret
    assert "set " in str(refused.value)
    assert ".env" in str(refused.value)


def test_interpolation_follows_compose_rules() -> None:
    dotenv = {"SET": "value", "EMPTY": ""}
    assert interpolate("${SET:-x}|${EMPTY:-x}|${UNSET:-x}|${EMPTY-x}|${UNSET-x}|$$HOME", dotenv) == (
        "value|x|x||x|$HOME"
    )


def test_env_example_documents_every_setting_and_every_compose_variable() -> None:
    documented = env_example_names()
    needed = (
        set(Settings.model_fields)
        | set(WorkerSettings.model_fields)
        | set(InferenceSettings.model_fields)
        | compose_variables()
    )
    assert needed - documented == set(), "add these to .env.example"
    unknown = documented - needed - {"COMPOSE_PROFILES"}
    assert unknown == set(), "these .env.example names are read by nothing"
    active = set(re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", ENV_EXAMPLE.read_text(), flags=re.MULTILINE))
    assert {name for name, value in active if value} == {"COMPOSE_PROFILES"}, "production secrets stay blank"


LOCKS = REPO_ROOT / "requirements"
IMAGE_LOCKS = {
    "Dockerfile.backend": ["backend"],
    "Dockerfile.frontend": ["backend"],
    "Dockerfile.agent": ["agent"],
    "Dockerfile.inference": ["inference", "inference-models"],
}


def _package(requirement: str) -> tuple[str, str]:
    """``name[extra]==version ; marker`` as (normalized name, version)."""
    name, version = requirement.split(";")[0].strip().split("==")
    return re.sub(r"[-_.]+", "-", name.split("[")[0]).lower(), version.strip()


def group_pins(group: str) -> dict[str, str]:
    """The pins of a dependency group of pyproject.toml, included groups too."""
    groups = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["dependency-groups"]
    pins: dict[str, str] = {}
    for item in groups[group]:
        pins.update(group_pins(item["include-group"]) if isinstance(item, dict) else dict([_package(item)]))
    return pins


def locked(group: str) -> dict[str, str]:
    """The packages of ``requirements/<group>.txt``; each must carry its hashes."""
    entries = re.split(r"\n(?=\S)", (LOCKS / f"{group}.txt").read_text())
    packages = {}
    for entry in entries:
        if entry.startswith("#") or not entry.strip():
            continue
        assert "--hash=sha256:" in entry, f"no hash for {entry.splitlines()[0]} in requirements/{group}.txt"
        packages.update([_package(entry.splitlines()[0].rstrip(" \\"))])
    return packages


@pytest.mark.parametrize("group", ["backend", "agent", "inference", "inference-models", "dev"])
def test_each_lock_holds_its_groups_pins_with_hashes(group: str) -> None:
    lock = locked(group)
    assert {name: lock.get(name) for name in group_pins(group)} == group_pins(group), (
        "requirements/ is older than pyproject.toml: run `make lock`"
    )


def test_every_image_installs_only_from_its_hashed_locks() -> None:
    for name, groups in IMAGE_LOCKS.items():
        installs = re.findall(r"pip install ([^\n\\]+)", dockerfile(name))
        assert installs, name
        assert all("--require-hashes" in line for line in installs), (name, installs)
        assert sorted(re.findall(r"requirements/([\w-]+)\.txt", " ".join(installs))) == sorted(groups), name


def test_the_build_context_carries_what_the_dockerfiles_copy_and_no_secrets(build_context: Path) -> None:
    for forbidden in (".env", ".venv", ".tools", ".web", ".git", ".data", "tests"):
        assert not (build_context / forbidden).exists(), f"{forbidden} must not reach the images"
    assert (build_context / ".env.example").exists()
    for name in OUR_SERVICES.values():
        for line in re.findall(r"^COPY (?!--from)(.+)$", dockerfile(name), flags=re.MULTILINE):
            *sources, _destination = line.split()
            for source in sources:
                if source != ".":
                    assert (build_context / source).exists(), (
                        f"{name} copies {source}, missing from the context"
                    )


def test_both_caddyfiles_parse() -> None:
    caddy = shutil.which("caddy")
    if caddy is None:
        pytest.fail("caddy is not installed: run `scripts/setup.sh test` (or `sudo apt-get install caddy`)")
    for caddyfile, env in (
        ("frontend.Caddyfile", {}),
        ("Caddyfile", {"APP_DOMAIN": "voice.example.com"}),
    ):
        result = subprocess.run(
            [caddy, "adapt", "--config", str(DOCKER_DIR / caddyfile), "--adapter", "caddyfile"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            env={**tool_env(), **env},
        )
        assert result.returncode == 0, f"{caddyfile}: {result.stderr}"


# --- production mode refuses development keys, in words ---


REFUSALS = [
    pytest.param(
        "backend.sh",
        {"LIVEKIT_API_KEY": "devkey", "LIVEKIT_API_SECRET": "secret"},
        ["LIVEKIT_API_KEY", "LIVEKIT_API_SECRET", "DATABASE_URL"],
        id="backend-dev-keys-and-sqlite",
    ),
    pytest.param(
        "backend.sh",
        {
            "LIVEKIT_API_KEY": "prod-key",
            "LIVEKIT_API_SECRET": "",
            "DATABASE_URL": "postgresql+psycopg://u:p@h/db",
        },
        ["LIVEKIT_API_SECRET"],
        id="backend-missing-secret",
    ),
    pytest.param(
        "backend.sh",
        {
            "LIVEKIT_API_KEY": "prod-key",
            "LIVEKIT_API_SECRET": "s" * 40,
            "DATABASE_URL": "postgresql+psycopg://u:p@h/db",
            "CORS_ALLOWED_ORIGINS": "https://voice.example.com,*",
        },
        ["CORS_ALLOWED_ORIGINS"],
        id="backend-wildcard-origin",
    ),
    pytest.param(
        "migrate.sh",
        {"LIVEKIT_API_KEY": "devkey", "LIVEKIT_API_SECRET": "short-secret-value"},
        ["LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"],
        id="migrate-dev-key-short-secret",
    ),
    pytest.param(
        "agent.sh",
        {"LIVEKIT_API_KEY": "devkey", "LIVEKIT_API_SECRET": "secret"},
        ["LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"],
        id="agent-dev-keys",
    ),
    pytest.param(
        "agent.sh",
        {"LIVEKIT_API_KEY": "prod-key", "LIVEKIT_API_SECRET": "short-secret-value"},
        ["LIVEKIT_API_SECRET"],
        id="agent-short-secret",
    ),
]


@pytest.mark.parametrize(("script", "settings", "named"), REFUSALS)
def test_production_mode_with_development_keys_refuses_to_start_naming_the_setting(
    build_context: Path, script: str, settings: dict[str, str], named: list[str]
) -> None:
    env = tool_env({"ENVIRONMENT": "production", "DATABASE_URL": "sqlite:///app.db", **settings})
    result = subprocess.run(
        [f"docker/entrypoints/{script}"],
        cwd=build_context,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 78, output
    assert "not usable" in output
    assert "refusing to start in production" in output
    for setting in named:
        assert setting in output
    assert "Traceback" not in output
    assert "short-secret-value" not in output, "a secret's value must never be printed"


# --- the whole stack, natively, with production settings ---


@pytest.mark.slow
def test_the_frontend_serves_the_pages_and_passes_the_api_to_the_backend(
    production_stack: ProductionStack,
) -> None:
    page = httpx.get(f"{production_stack.frontend_url}/login", timeout=10)
    assert page.status_code == 200
    assert "<html" in page.text.lower()
    health = httpx.get(f"{production_stack.frontend_url}/api/health", timeout=10)
    assert health.json() == {"status": "ok", "database": "ok", "livekit": "ok"}
    assert httpx.get(f"{production_stack.frontend_url}/ping", timeout=10).status_code == 200


@pytest.mark.slow
async def test_a_user_talks_to_the_agent_through_the_production_stack(
    production_stack: ProductionStack,
) -> None:
    stack = production_stack
    with httpx.Client(base_url=stack.frontend_url, timeout=30) as api:
        user = sign_in(api, display_name="Margaret Hamilton")
        client = await VoiceClient.join(api, user)
    try:
        greeting = await client.wait_for(
            "the agent's greeting", lambda: client.agent_transcripts(), GREETING_TIMEOUT
        )
        assert "Margaret" in greeting[0].text
        sent = await client.send_chat("What is the capital of France?")
        replies = await client.wait_for(
            "a text reply", lambda: client.agent_transcripts(after=sent), REPLY_TIMEOUT
        )
        assert replies[0].text
    finally:
        await client.close()

    with Session(make_engine(stack.postgres.url)) as session:  # type: ignore[union-attr]
        conversation = session.exec(select(Conversation).where(Conversation.user_id == user.user_id)).one()
        messages = session.exec(
            select(ConversationMessage).where(ConversationMessage.conversation_id == conversation.id)
        ).all()
    assert any("What is the capital of France?" in message.text for message in messages)


@pytest.mark.slow
def test_the_production_backend_runs_several_workers_sharing_state_in_redis(
    production_stack: ProductionStack,
) -> None:
    backend = psutil.Process(production_stack.services["backend"].process.process.pid)  # type: ignore[union-attr]
    workers = [p for p in backend.children(recursive=True) if "reflex" in " ".join(p.cmdline())]
    assert len(workers) >= 2, "with REDIS_URL set, Reflex's production backend starts several workers"
    assert production_stack.services["backend"].env["REDIS_URL"].startswith("redis://127.0.0.1:")


@pytest.mark.slow
def test_the_tokens_point_browsers_at_the_public_livekit_url(production_stack: ProductionStack) -> None:
    with httpx.Client(base_url=production_stack.frontend_url, timeout=30) as api:
        user = sign_in(api)
        grant = api.post("/api/generate-token", headers=user.headers, json=None)
    assert grant.status_code == 200, grant.text
    assert grant.json()["server_url"] == production_stack.services["backend"].env["LIVEKIT_PUBLIC_URL"]
    assert grant.headers["cache-control"] == "no-store"


@pytest.mark.slow
def test_restarting_the_backend_stops_it_cleanly_and_keeps_users_signed_in(
    production_stack: ProductionStack,
) -> None:
    with httpx.Client(base_url=production_stack.frontend_url, timeout=30) as api:
        user = sign_in(api)
        assert production_stack.stop_service("backend", timeout=30) == 0
        assert api.get("/api/me", headers=user.headers).status_code == 502, "Caddy reports the backend down"
        production_stack.restart_backend()
        me = api.get("/api/me", headers=user.headers)
    assert me.status_code == 200
    assert me.json()["email"] == user.email
