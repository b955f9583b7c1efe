"""Two livekit-server nodes sharing Redis (LiveKit's own distributed mode), one backend per node on
one database, and one agent worker registered with the first node: LiveKit routes each room's agent
dispatch through Redis to it, whichever node the user came through."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tests.support.backend import Backend, new_database
from tests.support.inference import InferenceService
from tests.support.livekit import LiveKitServer
from tests.support.production import RedisServer
from tests.support.worker import AgentWorker


@dataclass
class TwoNodes:
    redis: RedisServer
    nodes: tuple[LiveKitServer, LiveKitServer]
    backends: tuple[Backend, Backend]
    """The first backend gives out the first node's URL, the second the second's."""
    worker: AgentWorker

    @classmethod
    def start(
        cls,
        workdir: Path,
        inference: InferenceService,
        *,
        backend_env: dict[str, str],
        worker_mode: str = "dev",
    ) -> TwoNodes:
        """Start Redis, both nodes, both backends and the worker, in that order."""
        redis = RedisServer(workdir, ["redis-server", "--save", "", "--appendonly", "no"]).start()
        address = f"127.0.0.1:{redis.port}"
        first = LiveKitServer(workdir, redis_address=address).start()
        second = LiveKitServer(workdir, redis_address=address, api_secret=first.api_secret).start()
        database_url = new_database(workdir)
        backends = []
        for number, node in enumerate((first, second)):
            folder = workdir / f"backend-{number}"
            folder.mkdir(exist_ok=True)
            backends.append(Backend(folder, node, backend_env, database_url=database_url).start())
        worker = AgentWorker(workdir / "worker", first, backends[0], inference, mode=worker_mode).start()
        return cls(redis, (first, second), (backends[0], backends[1]), worker)

    def stop(self) -> None:
        """Stop everything, the worker first and Redis last."""
        self.worker.stop()
        for backend in self.backends:
            backend.stop()
        for node in reversed(self.nodes):
            node.stop()
        self.redis.stop()
