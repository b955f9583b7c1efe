"""CPU time and memory of a process and everything it started.

The worker's load (``agent_worker/load.py``), the inference service's load
(``agent_worker/inference/load.py``) and the benchmarks all measure a process tree whose children
come and go (job processes, llama-server, espeak-ng runs): one way of counting, here.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import psutil


def available_cpus() -> float:
    """CPUs this process may use: its affinity, capped by a cgroup v2 quota (a container's ``cpus``)."""
    cpus = float(len(os.sched_getaffinity(0)))
    with contextlib.suppress(OSError, ValueError):
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        if quota != "max":
            cpus = min(cpus, int(quota) / int(period))
    return max(cpus, 1.0)


class ProcessTree:
    """One or more processes (this one by default) and their descendants."""

    def __init__(self, *pids: int) -> None:
        self._roots = [psutil.Process(pid) for pid in pids or (os.getpid(),)]
        self._last_cpu_seconds = self.cpu_seconds()

    def processes(self) -> list[psutil.Process]:
        """The roots and their live descendants."""
        processes: list[psutil.Process] = []
        for root in self._roots:
            processes.append(root)
            with contextlib.suppress(psutil.Error):
                processes += root.children(recursive=True)
        return processes

    def cpu_seconds(self) -> float:
        """CPU seconds used by the tree so far, finished children included.

        A child that ended and was waited for moves its CPU time into its parent's ``children_*``
        times, so counting those for every live process keeps the total from dropping when
        children come and go.
        """
        total = 0.0
        for process in self.processes():
            with contextlib.suppress(psutil.Error):  # it exited in between
                times = process.cpu_times()
                total += times.user + times.system + times.children_user + times.children_system
        return total

    def cpu_seconds_since_last_call(self) -> float:
        """CPU seconds used since the previous call (or since this object was made)."""
        now = self.cpu_seconds()
        used, self._last_cpu_seconds = max(now - self._last_cpu_seconds, 0.0), now
        return used

    def memory_mb(self) -> float:
        """Proportional set size of the tree (shared pages split between their sharers), in MB."""
        total = 0
        for process in self.processes():
            with contextlib.suppress(psutil.Error):
                total += process.memory_full_info().pss
        return total / 2**20
