"""The production stack of docker-compose.yml, started natively: there is no Docker engine here.

Each service runs its container command (the scripts in `docker/entrypoints/`, or
`python -m agent_worker.inference`) from a copy of the Docker build context (the repository minus
`.dockerignore`), with the environment the compose file gives it, interpolated from a test `.env`
the way compose does. Only the addresses change: `postgres:5432`, `redis:6379`, `livekit:7880`,
`inference:8090` and `backend:8080` become free loopback ports. PostgreSQL and Redis are Debian's
packages (`scripts/setup.sh test` installs them); livekit-server runs with `docker/livekit.yaml`;
the inference service runs the llama-server `scripts/setup.sh` builds into `.tools/bin` (the image
has its own in /usr/local/bin); the frontend is built with `build-frontend.sh` and served by Caddy
with `docker/frontend.Caddyfile`, as in the images.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest
import yaml

from tests.support.livekit import find_livekit_server
from tests.support.processes import (
    REPO_ROOT,
    TOOLS_BIN,
    ManagedProcess,
    free_port,
    free_udp_port,
    tool_env,
    wait_until,
)
from tests.support.worker import REGISTERED_LOG_LINE

COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"
LIVEKIT_CONFIG = REPO_ROOT / "docker" / "livekit.yaml"

POSTGRES_HINT = (
    "PostgreSQL is not installed: run `scripts/setup.sh test` (or `sudo apt-get install postgresql`)."
)
REDIS_HINT = (
    "redis-server is not installed: run `scripts/setup.sh test` (or `sudo apt-get install redis-server`)."
)
CADDY_HINT = "caddy is not installed: run `scripts/setup.sh test` (or `sudo apt-get install caddy`)."


# --- the compose file, read the way compose reads it ---


class MissingVariable(ValueError):
    """A `${NAME:?message}` whose variable is unset or empty: compose refuses to start."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"required variable {name} is missing a value: {message}")
        self.name = name


_VARIABLE = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def interpolate(value: str, dotenv: Mapping[str, str]) -> str:
    """Compose's `${NAME}`, `${NAME:-default}`, `${NAME-default}`, `${NAME:?err}` and `$$` rules."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match["name"], match["op"], match["arg"] or ""
        current = dotenv.get(name)
        if op in (":-", ":?") and not current:
            if op == ":?":
                raise MissingVariable(name, arg)
            return arg
        if op in ("-", "?") and current is None:
            if op == "?":
                raise MissingVariable(name, arg)
            return arg
        return current or ""

    return _VARIABLE.sub(replace, value)


def load_compose() -> dict:
    """docker-compose.yml as data (YAML merge keys resolved, variables not yet interpolated)."""
    return yaml.safe_load(COMPOSE_FILE.read_text())


def service_environment(compose: dict, service: str, dotenv: Mapping[str, str]) -> dict[str, str]:
    """The environment compose gives ``service``'s container, interpolated from ``dotenv``."""
    environment = compose["services"][service].get("environment") or {}
    return {name: interpolate(str(value), dotenv) for name, value in environment.items()}


# --- the Docker build context ---


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern as a regex over slash-separated relative paths."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out, i = out + pattern[i : end + 1], end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"\Z")


def dockerignore_rules(path: Path = DOCKERIGNORE) -> list[tuple[re.Pattern[str], bool]]:
    """(pattern, is_exception) pairs from .dockerignore, in order."""
    rules = []
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exception = line.startswith("!")
        rules.append((_pattern_regex(line.lstrip("!").strip("/")), exception))
    return rules


def is_ignored(relative: str, rules: list[tuple[re.Pattern[str], bool]]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parent folders decides."""
    parts = relative.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for regex, exception in rules:
        if any(regex.match(candidate) for candidate in candidates):
            ignored = not exception
    return ignored


def copy_build_context(destination: Path) -> Path:
    """Copy what `docker build .` would send (the repository minus `.dockerignore`)."""
    rules = dockerignore_rules()
    for folder, subfolders, files in os.walk(REPO_ROOT):
        relative_folder = Path(folder).relative_to(REPO_ROOT).as_posix()
        prefix = "" if relative_folder == "." else relative_folder + "/"
        subfolders[:] = [name for name in subfolders if not is_ignored(prefix + name, rules)]
        for name in files:
            if is_ignored(prefix + name, rules):
                continue
            target = destination / prefix / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(Path(folder) / name, target)
    return destination


# --- PostgreSQL and Redis from Debian's packages ---


def postgres_bin(program: str) -> str:
    """A PostgreSQL server program from Debian's packages (newest major version installed)."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{program}"), key=lambda p: int(p.split("/")[4]))
    if not found:
        pytest.fail(POSTGRES_HINT)
    return found[-1]


class PostgresServer:
    """A throwaway PostgreSQL cluster on a free loopback port, with password authentication.

    PostgreSQL refuses to run as root, so when the tests run as root (CI) the cluster belongs to
    Debian's `postgres` user; its folder lives outside pytest's root-only temporary folder.
    """

    def __init__(self, log_dir: Path, *, user: str, password: str, database: str) -> None:
        self.port = free_port()
        self.user, self.password, self.database = user, password, database
        self.root = Path(tempfile.mkdtemp(prefix="voice-app-postgres-"))
        self._run_as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self._log_dir = log_dir
        self._process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the app's database, in the form docker-compose.yml uses."""
        return f"postgresql+psycopg://{self.user}:{self.password}@127.0.0.1:{self.port}/{self.database}"

    def connect(self) -> psycopg.Connection:
        """A connection of the test's own to the app's database (autocommit)."""
        return self._connect(self.database)

    def _connect(self, database: str) -> psycopg.Connection:
        return psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=database,
            autocommit=True,
            connect_timeout=2,
        )

    def start(self) -> PostgresServer:
        """initdb, start the server, create the app's database."""
        if self._run_as:
            shutil.chown(self.root, user="postgres")
        password_file = self.root / "password"
        password_file.write_text(self.password + "\n")
        if self._run_as:
            shutil.chown(password_file, user="postgres")
        subprocess.run(
            [
                *self._run_as,
                postgres_bin("initdb"),
                "--pgdata",
                str(self.root / "data"),
                "--username",
                self.user,
                "--pwfile",
                str(password_file),
                "--auth-host=scram-sha-256",
                "--auth-local=peer",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        self._process = ManagedProcess(
            f"postgres-{self.port}",
            [
                *self._run_as,
                postgres_bin("postgres"),
                "-D",
                str(self.root / "data"),
                "-p",
                str(self.port),
                "-k",
                str(self.root),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
            ],
            log_dir=self._log_dir,
        ).start()
        try:
            wait_until(
                lambda: self._connect("postgres").close() is None, timeout=30, what="PostgreSQL accepting"
            )
        except TimeoutError as error:
            raise RuntimeError(f"PostgreSQL did not start:\n{self._process.log_tail()}") from error
        with self._connect("postgres") as connection:
            connection.execute(f'CREATE DATABASE "{self.database}"')
        return self

    def pause(self) -> None:
        """Stop the server (fast shutdown: clients are cut off), keeping its data and port."""
        assert self._process is not None
        self._process.signal(signal.SIGINT)
        self._process.stop(timeout=15)

    def resume(self) -> None:
        """Start the paused server again on the same data and port."""
        assert self._process is not None
        self._process.start()
        wait_until(lambda: self._connect("postgres").close() is None, timeout=30, what="PostgreSQL accepting")

    def stop(self) -> None:
        """Fast shutdown (SIGINT disconnects clients), then remove the cluster."""
        if self._process is not None:
            self._process.signal(signal.SIGINT)
            self._process.stop(timeout=15)
        shutil.rmtree(self.root, ignore_errors=True)


class RedisServer:
    """redis-server with the compose service's own command, on a free loopback port."""

    def __init__(self, log_dir: Path, command: list[str]) -> None:
        if shutil.which("redis-server") is None:
            pytest.fail(REDIS_HINT)
        self.port = free_port()
        self._process = ManagedProcess(
            f"redis-{self.port}",
            [*command, "--port", str(self.port), "--bind", "127.0.0.1"],
            log_dir=log_dir,
        )

    def start(self) -> RedisServer:
        """Start and wait for PONG."""
        self._process.start()
        wait_until(self._pong, timeout=20, what="redis-server answering PING")
        return self

    def _pong(self) -> bool:
        result = subprocess.run(
            ["redis-cli", "-p", str(self.port), "ping"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        return result.stdout.strip() == "PONG"

    def stop(self) -> None:
        """Stop the server."""
        self._process.stop()


# --- the stack ---


def production_dotenv(postgres_password: str, api_secret: str) -> dict[str, str]:
    """The `.env` an operator writes for a single machine (see .env.example): real secrets only."""
    return {
        "POSTGRES_PASSWORD": postgres_password,
        "LIVEKIT_API_KEY": "voice-app-test",
        "LIVEKIT_API_SECRET": api_secret,
        "LIVEKIT_NODE_IP": "127.0.0.1",
        # This shared 2-core machine is often busy with other test runs: without this, the worker in
        # `start` mode would decline conversations while the load is above 0.7.
        "WORKER_LOAD_THRESHOLD": "1.5",
    }


@dataclass
class ServiceProcess:
    """One compose service running natively, with the environment it was given."""

    name: str
    env: dict[str, str]
    process: ManagedProcess
    healthy_after: float | None = None


@dataclass
class ProductionStack:
    """postgres, redis, livekit, migrate, backend, inference, agent and frontend of docker-compose.yml."""

    workdir: Path
    dotenv: dict[str, str]
    context: Path = field(init=False)
    compose: dict = field(init=False)
    addresses: dict[str, str] = field(default_factory=dict)
    services: dict[str, ServiceProcess] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    frontend_port: int = 0
    backend_port: int = 0
    livekit_port: int = 0
    inference_port: int = 0
    postgres: PostgresServer | None = None
    redis: RedisServer | None = None
    static_root: Path | None = None

    def __post_init__(self) -> None:
        self.compose = load_compose()
        self.context = copy_build_context(self.workdir / "context")

    @property
    def frontend_url(self) -> str:
        """Where a browser would open the app (the frontend's Caddy)."""
        return f"http://127.0.0.1:{self.frontend_port}"

    @property
    def backend_url(self) -> str:
        """The backend's own port (published on loopback in compose)."""
        return f"http://127.0.0.1:{self.backend_port}"

    def environment(self, service: str) -> dict[str, str]:
        """The compose environment of ``service``, with container addresses mapped to loopback ports."""
        env = service_environment(self.compose, service, self.dotenv)
        for name, value in env.items():
            for container_address, local_address in self.addresses.items():
                value = value.replace(container_address, local_address)
            env[name] = value
        return env

    def _command(self, service: str) -> list[str]:
        return list(self.compose["services"][service]["command"])

    def _spawn(self, service: str, env: dict[str, str], argv: list[str] | None = None) -> ManagedProcess:
        process = ManagedProcess(
            service, argv or self._command(service), log_dir=self.workdir, env=tool_env(env), cwd=self.context
        )
        self.services[service] = ServiceProcess(service, env, process)
        return process.start()

    def _healthy(self, service: str, check: Callable[[], bool], timeout: float, started: float) -> None:
        """Poll ``check`` (the compose health check's equivalent) until it passes; fail fast on exit."""
        process = self.services[service].process
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not process.running:
                code = process.process.returncode if process.process else None
                raise RuntimeError(f"{service} exited with {code}:\n{process.log_tail(60)}")
            with contextlib.suppress(Exception):
                if check():
                    break
            time.sleep(0.25)
        else:
            raise RuntimeError(f"{service} was not healthy within {timeout:.0f} s:\n{process.log_tail(60)}")
        self.services[service].healthy_after = time.monotonic() - started
        self.timings[f"{service}_healthy_seconds"] = round(time.monotonic() - started, 2)

    def build_frontend(self) -> None:
        """`build-frontend.sh` in the context copy, as the frontend image's build stage runs it."""
        frontend = self.compose["services"]["frontend"]["build"]
        build_env = {name: interpolate(str(value), self.dotenv) for name, value in frontend["args"].items()}
        self.static_root = self.workdir / "srv"
        started = time.monotonic()
        result = subprocess.run(
            ["docker/entrypoints/build-frontend.sh", str(self.static_root)],
            cwd=self.context,
            env=tool_env(build_env),
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        (self.workdir / "build-frontend.log").write_text(result.stdout + result.stderr)
        if result.returncode != 0:
            raise RuntimeError(f"build-frontend.sh failed:\n{(result.stdout + result.stderr)[-4000:]}")
        self.timings["frontend_build_seconds"] = round(time.monotonic() - started, 2)

    def start(self) -> ProductionStack:
        """Build the frontend (the image build), then start every service in compose's dependency
        order and wait until each is healthy; ``timings`` holds the seconds from the first start."""
        if shutil.which("caddy") is None:
            pytest.fail(CADDY_HINT)
        if self.static_root is None:
            self.build_frontend()
        started = time.monotonic()
        self.postgres = PostgresServer(
            self.workdir, user="voice_app", password=self.dotenv["POSTGRES_PASSWORD"], database="voice_app"
        ).start()
        self.redis = RedisServer(self.workdir, self._command("redis")).start()
        self.livekit_port, self.backend_port, self.frontend_port = free_port(), free_port(), free_port()
        self.inference_port = free_port()
        worker_http_port = free_port()
        self.addresses = {
            "@postgres:5432/": f"@127.0.0.1:{self.postgres.port}/",
            "redis://redis:6379": f"redis://127.0.0.1:{self.redis.port}",
            "http://livekit:7880": f"http://127.0.0.1:{self.livekit_port}",
            "ws://localhost:7880": f"ws://127.0.0.1:{self.livekit_port}",
            "http://inference:8090": f"http://127.0.0.1:{self.inference_port}",
            "backend:8080": f"127.0.0.1:{self.backend_port}",
        }
        self.timings["postgres_redis_seconds"] = round(time.monotonic() - started, 2)

        # It depends on nothing (compose starts it at once): its models load while the rest starts.
        inference_env = self.environment("inference") | {
            "INFERENCE_HOST": "127.0.0.1",  # compose binds 0.0.0.0 inside the container
            "INFERENCE_PORT": str(self.inference_port),
            "LLAMA_SERVER_BIN": str(TOOLS_BIN / "llama-server"),
        }
        self._spawn("inference", inference_env)

        self._start_livekit()
        self._healthy(
            "livekit",
            lambda: httpx.get(f"http://127.0.0.1:{self.livekit_port}/", timeout=2).status_code == 200,
            30,
            started,
        )

        migrate = self._spawn("migrate", self.environment("migrate"))
        try:
            code = migrate.process.wait(timeout=180)  # type: ignore[union-attr]
        except subprocess.TimeoutExpired as error:
            raise RuntimeError(f"migrate did not finish:\n{migrate.log_tail()}") from error
        if code != 0:
            raise RuntimeError(f"migrate exited with {code}:\n{migrate.log_tail()}")
        self.timings["migrate_done_seconds"] = round(time.monotonic() - started, 2)

        backend_env = self.environment("backend") | {
            "BACKEND_PORT": str(self.backend_port),
            "REFLEX_BACKEND_HOST": "127.0.0.1",  # compose binds 0.0.0.0 inside the container
        }
        self._spawn("backend", backend_env)
        # compose starts the agent only once the inference service is healthy
        self._healthy(
            "inference",
            lambda: httpx.get(f"http://127.0.0.1:{self.inference_port}/health", timeout=2).status_code == 200,
            240,
            started,
        )
        agent_env = self.environment("agent") | {"WORKER_HTTP_PORT": str(worker_http_port)}
        self._spawn("agent", agent_env)
        self._healthy(
            "backend",
            lambda: httpx.get(f"{self.backend_url}/ping", timeout=2).status_code == 200,
            240,
            started,
        )
        agent_log = self.services["agent"].process.log_path
        self._healthy(
            "agent",
            # the health endpoint answers before the worker has registered with LiveKit; a room
            # created before that never gets an agent, so "healthy" here means registered
            lambda: (
                httpx.get(f"http://127.0.0.1:{worker_http_port}/", timeout=2).text == "OK"
                and REGISTERED_LOG_LINE in agent_log.read_text(errors="replace")
            ),
            240,
            started,
        )

        frontend_env = self.environment("frontend") | {
            "FRONTEND_PORT": str(self.frontend_port),
            "STATIC_ROOT": str(self.static_root),
            "XDG_DATA_HOME": str(self.workdir / "caddy-data"),
            "XDG_CONFIG_HOME": str(self.workdir / "caddy-config"),
        }
        self._spawn("frontend", frontend_env)
        self._healthy(
            "frontend", lambda: httpx.get(f"{self.frontend_url}/", timeout=2).status_code == 200, 60, started
        )
        self._wait_stack_health(started)
        return self

    def _wait_stack_health(self, started: float) -> None:
        wait_until(
            lambda: httpx.get(f"{self.frontend_url}/api/health", timeout=5).json()["status"] == "ok",
            timeout=60,
            what="GET /api/health through the frontend reporting ok",
        )
        self.timings["stack_healthy_seconds"] = round(time.monotonic() - started, 2)

    def _start_livekit(self) -> None:
        config = yaml.safe_load(LIVEKIT_CONFIG.read_text())
        config["port"] = self.livekit_port
        config["bind_addresses"] = ["127.0.0.1"]
        config["rtc"]["tcp_port"] = free_port()
        config["rtc"]["udp_port"] = free_udp_port()
        assert self.redis is not None
        config["redis"]["address"] = f"127.0.0.1:{self.redis.port}"
        config["webhook"]["urls"] = [f"http://127.0.0.1:{self.backend_port}/api/livekit/webhook"]
        config_path = self.workdir / "livekit.yaml"
        config_path.write_text(yaml.safe_dump(config))
        command = [find_livekit_server()]
        for argument in self._command("livekit"):
            command.append(str(config_path) if argument == "/etc/livekit.yaml" else argument)
        self._spawn("livekit", self.environment("livekit"), command)

    def stop_service(self, service: str, timeout: float = 30) -> int:
        """SIGTERM the service's main process only, as `docker stop` does; returns its exit code."""
        process = self.services[service].process
        assert process.process is not None
        process.process.send_signal(signal.SIGTERM)
        code = process.process.wait(timeout=timeout)
        process.stop()  # whatever the main process left behind, as the container's end would
        return code

    def restart_backend(self) -> None:
        """Start the backend again with the same settings (`docker compose restart backend`)."""
        self._spawn("backend", self.services["backend"].env)
        self._healthy(
            "backend",
            lambda: httpx.get(f"{self.backend_url}/ping", timeout=2).status_code == 200,
            240,
            time.monotonic(),
        )

    def log_tail(self, service: str, lines: int = 60) -> str:
        """The end of a service's log, for failure messages."""
        return self.services[service].process.log_tail(lines)

    def stop(self) -> None:
        """Stop the services in reverse order, then Redis and PostgreSQL."""
        for service in reversed(list(self.services.values())):
            service.process.stop()
        for server in (self.redis, self.postgres):
            if server is not None:
                with contextlib.suppress(Exception):
                    server.stop()


@pytest.fixture(scope="session")
def production_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProductionStack]:
    """The whole compose stack, natively, with production settings and fresh secrets."""
    dotenv = production_dotenv(secrets.token_hex(16), secrets.token_urlsafe(32))
    stack = ProductionStack(tmp_path_factory.mktemp("production"), dotenv)
    try:
        stack.start()
    except BaseException:
        stack.stop()
        raise
    yield stack
    stack.stop()


@pytest.fixture
def build_context(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh copy of the Docker build context."""
    return copy_build_context(tmp_path_factory.mktemp("context"))
