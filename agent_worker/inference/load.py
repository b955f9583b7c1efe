"""How busy the service is: the CPU share of its process tree (itself, llama-server, espeak-ng).

Workers read it from ``GET /health`` to report honest capacity: the models of every conversation
run here, not in the worker's job processes, so the worker's own CPU use says little about how
many more conversations the machine can hold.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

from agent_worker.process_tree import ProcessTree, available_cpus

SAMPLE_SECONDS = 0.5
WINDOW_SECONDS = 5.0


class ProcessTreeLoad:
    """CPU seconds used by the process tree per wall-clock second and per CPU, over a sliding window.

    Finished children (espeak-ng runs, a crashed llama-server) still count (``ProcessTree``).
    """

    def __init__(self) -> None:
        self._tree = ProcessTree()
        self._cpus = available_cpus()
        self._samples: deque[tuple[float, float]] = deque()

    @property
    def value(self) -> float:
        """The average share (0-1) over the last :data:`WINDOW_SECONDS`; 0 before two samples."""
        if len(self._samples) < 2:
            return 0.0
        (first_at, first_cpu), (last_at, last_cpu) = self._samples[0], self._samples[-1]
        if last_at <= first_at:
            return 0.0
        return max(0.0, min(1.0, (last_cpu - first_cpu) / ((last_at - first_at) * self._cpus)))

    def sample(self) -> None:
        """Record the tree's CPU seconds now and forget samples older than the window."""
        now = time.monotonic()
        self._samples.append((now, self._tree.cpu_seconds()))
        while len(self._samples) > 2 and self._samples[1][0] <= now - WINDOW_SECONDS:
            self._samples.popleft()

    async def run(self) -> None:
        """Sample every :data:`SAMPLE_SECONDS` until cancelled."""
        while True:
            self.sample()  # a few /proc reads: well under a millisecond
            await asyncio.sleep(SAMPLE_SECONDS)
