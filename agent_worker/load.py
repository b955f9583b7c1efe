"""How full this worker is, from 0 to 1, as LiveKit's dispatcher should see it.

LiveKit sends a job only to a worker whose reported load is under its threshold (and the worker
itself refuses jobs at or above ``WORKER_LOAD_THRESHOLD``). livekit-agents' default load is the
whole machine's CPU, which says little about what limits *this* worker: the conversations are
light job processes, while the models run in the local inference service. So the load is the
largest of:

- the CPU share of the worker's own process tree (main process and job processes);
- the CPU share the local inference service reports for itself (when a stage runs there);
- the conversations running against ``MAX_CONVERSATIONS`` (scaled so the limit is exactly "full");
- the machine's memory in use against ``MEMORY_FULL_FRACTION``.

In ``dev`` mode only the conversation count counts: a developer's machine is busy with other
things, and a dev worker must not stop taking conversations because of them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import httpx
import psutil
from livekit.agents import AgentServer
from livekit.agents.ipc.proc_pool import ProcPool

from agent_worker.process_tree import ProcessTree, available_cpus
from agent_worker.warm_up import hold_replacement_warm_up

logger = logging.getLogger(__name__)

SAMPLES = 5
"""The CPU share is averaged over this many calls (livekit-agents asks every 0.5 s)."""
MEMORY_FULL_FRACTION = 0.9
"""The worker counts as full when this share of the machine's memory is in use."""
INFERENCE_POLL_SECONDS = 1.0
INFERENCE_TIMEOUT_SECONDS = 0.5


class ProcessTreeCpu:
    """The CPU share (0-1, per core) of a process and its descendants over the last few calls."""

    def __init__(self, pid: int | None = None) -> None:
        self._tree = ProcessTree(*([pid] if pid else []))
        self._cpus = available_cpus()
        self._lock = threading.Lock()
        self._last_at = time.monotonic()
        self._samples: deque[float] = deque(maxlen=SAMPLES)

    def __call__(self) -> float:
        """The average CPU share since the last few calls."""
        with self._lock:
            now = time.monotonic()
            used = self._tree.cpu_seconds_since_last_call()
            if now > self._last_at:
                self._samples.append(min(used / ((now - self._last_at) * self._cpus), 1.0))
            self._last_at = now
            return sum(self._samples) / len(self._samples) if self._samples else 0.0


class InferenceLoad:
    """The load the local inference service reports on ``GET /health``, polled at most once a second.

    An unreachable service counts as full: conversations sent here could not be answered.
    """

    def __init__(self, inference_url: str) -> None:
        self._health_url = inference_url.rstrip("/").removesuffix("/v1") + "/health"
        self._value = 1.0
        self._checked_at = 0.0

    def __call__(self) -> float:
        """The service's load (0-1), or 1 when it does not answer."""
        if time.monotonic() - self._checked_at >= INFERENCE_POLL_SECONDS:
            self._checked_at = time.monotonic()
            self._value = self._fetch()
        return self._value

    def _fetch(self) -> float:
        try:
            response = httpx.get(self._health_url, timeout=INFERENCE_TIMEOUT_SECONDS)
        except httpx.HTTPError:
            return 1.0
        if response.status_code != 200:
            return 1.0
        try:
            return min(max(float(response.json().get("load", 0.0)), 0.0), 1.0)
        except (ValueError, TypeError, AttributeError):
            return 1.0


def conversation_load(conversations: int, max_conversations: int, threshold: float) -> float:
    """The conversation count as a load that reaches ``threshold`` exactly at the limit."""
    return min(threshold * conversations / max_conversations, 1.0)


class WorkerLoad:
    """``AgentServer(load_fnc=...)``: the largest of the limits above (see the module docstring)."""

    def __init__(
        self,
        *,
        max_conversations: int,
        threshold: float,
        count_resources: bool,
        inference: Callable[[], float] | None = None,
    ) -> None:
        self._max_conversations = max_conversations
        self._threshold = threshold
        self._count_resources = count_resources
        self._cpu = ProcessTreeCpu()
        self._inference = inference

    def __call__(self, server: AgentServer) -> float:
        """The worker's load now."""
        loads = {
            "conversations": conversation_load(
                len(server.active_jobs), self._max_conversations, self._threshold
            )
        }
        if self._count_resources:
            loads["worker_cpu"] = self._cpu()
            loads["memory"] = min(
                self._threshold * psutil.virtual_memory().percent / 100 / MEMORY_FULL_FRACTION, 1.0
            )
            if self._inference is not None:
                loads["inference_cpu"] = self._inference()
        return max(loads.values())


def load_with_starting_conversations(
    measured: float, starting: int, running: int, per_conversation: float
) -> float:
    """The load to compare with the threshold while ``starting`` accepted jobs have not begun.

    With conversations running, each starting one weighs what a running one does on average
    (livekit-agents' own rule); with none running, one conversation's share of the limit.
    """
    each = measured / running if running else per_conversation
    return measured + starting * each


class ConversationServer(AgentServer):
    """An ``AgentServer`` that accepts several conversations arriving at once at an idle worker.

    Between saying "available" to a job and the job starting, livekit-agents 1.8 counts the job
    as ``load_threshold / num_idle_processes`` when nothing runs yet: with one or two warm
    processes, an idle worker refuses the second or third of several users who press Start at the
    same moment, and LiveKit then gives those rooms no agent at all. Here such a job counts as
    one conversation's share of ``MAX_CONVERSATIONS`` (see ``load_with_starting_conversations``).
    The warm process a conversation takes is replaced ``warm_up_delay`` seconds later.
    """

    def __init__(
        self, *args: Any, max_conversations: int, threshold: float, warm_up_delay: float, **kwargs: Any
    ) -> None:
        self._warm_up_delay = warm_up_delay
        super().__init__(*args, **kwargs)
        self._per_conversation = conversation_load(1, max_conversations, threshold)

    # livekit-agents builds its process pool inside ``run()``; setting the attribute is the moment
    # to make it hold replacement warm-ups back (``agent_worker/warm_up.py``).
    @property
    def _proc_pool(self) -> ProcPool:
        return self.__dict__["_held_proc_pool"]

    @_proc_pool.setter
    def _proc_pool(self, pool: ProcPool) -> None:
        hold_replacement_warm_up(pool, self._warm_up_delay)
        self.__dict__["_held_proc_pool"] = pool

    def _get_effective_load(self) -> float:
        return load_with_starting_conversations(
            self._worker_load, self._reserved_slots, len(self.active_jobs), self._per_conversation
        )
