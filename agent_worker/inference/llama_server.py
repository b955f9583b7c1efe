"""llama.cpp's llama-server as a supervised child process: the service's LLM.

llama-server batches the replies of several conversations into one forward pass (``--parallel``
slots, continuous batching) and keeps each slot's prompt cached, which one in-process
llama-cpp-python model serving one caller at a time cannot. It listens on a free loopback port;
the service forwards ``/v1/chat/completions`` to it. If it exits it is started again after a
short pause, and while it is away the service's ``/health`` says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import enum
import logging
import os
import shutil
import signal
import socket
import time
from collections import OrderedDict, deque
from pathlib import Path

import aiohttp

from agent_worker.inference.models import GgufModel, LocalModelsUnavailable
from agent_worker.inference.settings import InferenceSettings

logger = logging.getLogger(__name__)

REPO_TOOLS_BIN = Path(__file__).resolve().parents[2] / ".tools" / "bin"
BUILD_COMMAND = "scripts/build_llama_server.sh .tools/bin"
CACHE_REUSE_MIN_TOKENS = 32
"""Shortest run of cached tokens llama-server moves into place rather than recomputes."""
SAMPLING = ("--temp", "0.2", "--top-p", "0.95", "--repeat-penalty", "1.3")
"""Defaults for requests that do not set them. Small models loop without a repeat penalty; 1.3
stopped it in our trials without garbling words."""
PROMPT_CACHE_MIB = 256
"""Host memory for prompts of conversations that lost their slot to another one (``--cache-ram``).
llama-server's default (8 GiB) let its RSS grow by about 8 MiB per new conversation, for good."""
READY_TIMEOUT_SECONDS = 120.0
STOP_TIMEOUT_SECONDS = 5.0
RESTART_DELAYS_SECONDS = (0.5, 1.0, 2.0, 5.0, 10.0)
STABLE_SECONDS = 60.0
"""A server that ran this long before exiting is restarted after the shortest pause again."""
OUTPUT_LINES_KEPT = 5
TOKEN_COUNTS_KEPT = 4096
"""Messages whose token count is remembered: a conversation resends all of its turns every turn."""


class LlamaState(enum.StrEnum):
    """Where the child process is in its life."""

    STARTING = "starting"
    READY = "ready"
    RESTARTING = "restarting"
    STOPPED = "stopped"


def find_llama_server(configured: str) -> Path:
    """The llama-server program: ``configured`` as a path, else on PATH, else in the repo's ``.tools/bin``.

    Raises:
        LocalModelsUnavailable: not found, with the command that builds it.

    """
    if os.sep in configured:
        candidates = [Path(configured)]
    else:
        on_path = shutil.which(configured)
        candidates = [Path(on_path)] if on_path else []
        candidates.append(REPO_TOOLS_BIN / configured)
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise LocalModelsUnavailable(
        f"the local LLM needs llama-server (LLAMA_SERVER_BIN={configured}), which was not found on PATH "
        f"or in {REPO_TOOLS_BIN}: build it with `{BUILD_COMMAND}` (about 5 minutes on 2 cores, then cached)"
    )


_prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved before any fork


def _die_with_parent() -> None:  # pragma: no cover - runs in the forked child
    # PR_SET_PDEATHSIG: the kernel kills llama-server if the service dies without stopping it
    # (SIGKILL, OOM killer), so no orphan keeps the port and the memory
    _prctl(1, signal.SIGKILL)


class LlamaServer:
    """One llama-server child, restarted when it exits, stopped with the service."""

    def __init__(
        self, *, binary: Path, model: GgufModel, settings: InferenceSettings, http: aiohttp.ClientSession
    ) -> None:
        self.binary = binary
        self.model = model
        self.slots = settings.LOCAL_LLM_SLOTS
        self._settings = settings
        self._http = http
        self.state = LlamaState.STARTING
        self.port: int | None = None
        self._process: asyncio.subprocess.Process | None = None
        self._output: deque[str] = deque(maxlen=OUTPUT_LINES_KEPT)
        self._reader: asyncio.Task[None] | None = None
        self._first_start = asyncio.get_running_loop().create_future()
        self._token_counts: OrderedDict[str, int] = OrderedDict()

    @property
    def base_url(self) -> str:
        """Where the running server answers, e.g. ``http://127.0.0.1:41234``."""
        if self.state is not LlamaState.READY or self.port is None:
            raise LlamaServerUnavailable(f"llama-server is {self.state.value}")
        return f"http://127.0.0.1:{self.port}"

    async def count_tokens(self, text: str) -> int:
        """How many tokens ``text`` is for this model (llama-server's ``/tokenize``, remembered).

        Raises:
            LlamaServerUnavailable: llama-server is not answering.

        """
        if (count := self._token_counts.get(text)) is not None:
            self._token_counts.move_to_end(text)
            return count
        try:
            async with self._http.post(f"{self.base_url}/tokenize", json={"content": text}) as reply:
                reply.raise_for_status()
                count = len((await reply.json())["tokens"])
        except aiohttp.ClientError as error:
            raise LlamaServerUnavailable("llama-server is restarting") from error
        self._token_counts[text] = count
        if len(self._token_counts) > TOKEN_COUNTS_KEPT:
            self._token_counts.popitem(last=False)
        return count

    def argv(self, port: int) -> list[str]:
        """The command line of the child."""
        settings = self._settings
        threads = str(settings.LOCAL_LLM_THREADS)
        return [
            str(self.binary),
            "--model", str(self.model.path),
            "--alias", self.model.name,
            "--host", "127.0.0.1",
            "--port", str(port),
            "--parallel", str(self.slots),
            # llama-server divides the context among the slots
            "--ctx-size", str(self.slots * settings.LOCAL_LLM_CONTEXT_PER_SLOT),
            "--threads", threads,
            "--threads-batch", threads,
            "--cont-batching",
            "--n-predict", str(settings.LOCAL_LLM_MAX_TOKENS),
            *SAMPLING,
            "--cache-ram", str(PROMPT_CACHE_MIB),
            # when old turns are dropped to fit the context, the turns that remain are still in
            # the slot's cache, further up: shift them instead of reading them again (2-3.6 s)
            "--cache-reuse", str(CACHE_REUSE_MIN_TOKENS),
            "--no-webui",
            "--slots",
        ]  # fmt: skip

    async def wait_started(self) -> None:
        """Return once the server answered for the first time.

        Raises:
            LocalModelsUnavailable: it exited or never answered on its first start (a bad binary,
                model or flag: restarting would not help).

        """
        await asyncio.shield(self._first_start)

    async def supervise(self) -> None:
        """Start the server, and start it again whenever it exits, until cancelled."""
        failures = 0
        try:
            while True:
                started_at = time.monotonic()
                try:
                    await self._start()
                except LocalModelsUnavailable as error:
                    if not self._first_start.done():
                        self._first_start.set_exception(error)
                        return
                    logger.warning("llama-server did not start again", extra={"problem": str(error)})
                else:
                    if not self._first_start.done():
                        self._first_start.set_result(None)
                    assert self._process is not None
                    code = await self._process.wait()
                    logger.warning(
                        "llama-server exited; restarting it",
                        extra={"exit_code": code, "last_output": " | ".join(self._output)},
                    )
                self.state = LlamaState.RESTARTING
                await self._terminate()
                failures = 0 if time.monotonic() - started_at > STABLE_SECONDS else failures + 1
                await asyncio.sleep(RESTART_DELAYS_SECONDS[min(failures, len(RESTART_DELAYS_SECONDS) - 1)])
        finally:
            self.state = LlamaState.STOPPED
            await asyncio.shield(self._terminate())

    async def _start(self) -> None:
        self.port = _free_port()
        self._output.clear()
        self._process = await asyncio.create_subprocess_exec(
            *self.argv(self.port),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"},
            # only a prctl call between fork and exec: safe although the service has threads
            preexec_fn=_die_with_parent,
        )
        self._reader = asyncio.create_task(self._keep_output(self._process))
        await self._wait_ready(self._process)
        self.state = LlamaState.READY
        # the first start is part of the service's own "ready" line
        level = logging.INFO if self._first_start.done() else logging.DEBUG
        logger.log(level, "llama-server answers", extra={"pid": self._process.pid, "port": self.port})

    async def _wait_ready(self, process: asyncio.subprocess.Process) -> None:
        url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if process.returncode is not None:
                break
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with self._http.get(f"{url}/health", timeout=aiohttp.ClientTimeout(total=2)) as reply:
                    if reply.status == 200:
                        await self._warm_up(url)
                        return
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.1)  # let the output reader catch the last lines
        raise LocalModelsUnavailable(
            "llama-server did not start"
            + (f" (exit status {process.returncode})" if process.returncode is not None else "")
            + f": {' | '.join(self._output) or 'no output'}"
        )

    async def _warm_up(self, url: str) -> None:
        # the first generation pays for page faults and thread start-up (seconds on a busy CPU)
        request = {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 1}
        warm_up_timeout = aiohttp.ClientTimeout(total=READY_TIMEOUT_SECONDS)
        async with self._http.post(
            f"{url}/v1/chat/completions", json=request, timeout=warm_up_timeout
        ) as reply:
            await reply.read()

    async def _keep_output(self, process: asyncio.subprocess.Process) -> None:
        # kept for the log line when it exits; not logged as it comes (a line per request)
        assert process.stdout is not None
        with contextlib.suppress(ValueError, OSError):
            async for line in process.stdout:
                self._output.append(line.decode(errors="replace").rstrip())

    async def _terminate(self) -> None:
        process = self._process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), STOP_TIMEOUT_SECONDS)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()


class LlamaServerUnavailable(RuntimeError):
    """llama-server is starting or restarting: the LLM cannot answer right now."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
