"""How busy this worker is: the CPU share of its own process tree, from 0 to 1.

livekit-agents' default load is the whole machine's CPU use. LiveKit's server only sends a
job to a worker whose reported load is under its ``target_load`` (0.7), and the worker itself
refuses jobs above ``WORKER_LOAD_THRESHOLD``: on a machine shared with other programs (a dev
laptop, a CI runner, a VM running the app too) the machine's load says little about how many
more conversations *this* worker can hold, and can stop all dispatch. So the worker reports
the CPU time used by itself and its job processes, per wall-clock second and per CPU. In a
container with a CPU quota the result is the same as the default's.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque

import psutil
from livekit.agents.utils.hw import get_cpu_monitor

SAMPLES = 5
"""The load is averaged over this many calls (livekit-agents asks every 0.5 s)."""


class ProcessTreeLoad:
    """Callable load function for ``AgentServer(load_fnc=...)``; thread-safe."""

    def __init__(self, pid: int | None = None) -> None:
        self._root = psutil.Process(pid or os.getpid())
        self._cpus = max(get_cpu_monitor().cpu_count(), 1.0)
        self._lock = threading.Lock()
        self._seen: dict[int, float] = {}
        self._last_at: float | None = None
        self._samples: deque[float] = deque(maxlen=SAMPLES)

    def __call__(self) -> float:
        """The average CPU share of the process tree over the last few calls (0-1)."""
        with self._lock:
            now = time.monotonic()
            used = self._cpu_seconds_since_last_call()
            if self._last_at is not None and now > self._last_at:
                self._samples.append(min(used / ((now - self._last_at) * self._cpus), 1.0))
            self._last_at = now
            return sum(self._samples) / len(self._samples) if self._samples else 0.0

    def _cpu_seconds_since_last_call(self) -> float:
        current: dict[int, float] = {}
        for process in [self._root, *self._children()]:
            try:
                times = process.cpu_times()
            except psutil.Error:
                continue  # it exited in between
            current[process.pid] = times.user + times.system
        # a process that started since the last call counts from zero; one that ended is gone
        used = sum(seconds - self._seen.get(pid, 0.0) for pid, seconds in current.items())
        self._seen = current
        return max(used, 0.0)

    def _children(self) -> list[psutil.Process]:
        try:
            return self._root.children(recursive=True)
        except psutil.Error:
            return []
