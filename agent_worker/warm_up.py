"""The job process that replaces a taken warm one starts a few seconds later, not at once.

livekit-agents keeps ``num_idle_processes`` job processes warm and starts a replacement the
moment a conversation takes one. Starting a job process costs ~1.2 s of CPU (imports, ``prewarm``),
and on 2 cores it then competes with the very conversation that is starting: joining the room,
the session and the greeting. ``WarmUpHold`` keeps the pool's idle target where the start left
it for ``hold_seconds``; when the start took the last warm process, nothing is held, so a user
arriving next does not wait for a cold one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from livekit.agents.ipc.proc_pool import ProcPool
from livekit.agents.job import RunningJobInfo

RELEASE_MARGIN_SECONDS = 0.05
"""The release timer fires this much after the hold ends (a timer may fire a little early)."""


class WarmUpHold:
    """How many idle job processes the pool may aim for while conversations are starting."""

    def __init__(self, hold_seconds: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._hold_seconds = hold_seconds
        self._clock = clock
        self._cap = 0
        self._until = 0.0

    @property
    def holding(self) -> bool:
        """Whether replacements are being held back now."""
        return self._clock() < self._until

    def conversation_starting(self, idle_after: int) -> None:
        """A conversation takes a warm process, leaving ``idle_after`` idle (or starting) ones."""
        if idle_after <= 0 or self._hold_seconds <= 0:
            self._until = 0.0  # the last warm process went: replace it now
            return
        self._cap = min(self._cap, idle_after) if self.holding else idle_after
        self._until = self._clock() + self._hold_seconds

    def target(self, requested: int) -> int:
        """The idle target to give the pool when livekit-agents asks for ``requested``."""
        return min(requested, self._cap) if self.holding else requested


def hold_replacement_warm_up(pool: ProcPool, hold_seconds: float) -> WarmUpHold:
    """Make ``pool`` start replacement processes ``hold_seconds`` after a conversation starts.

    livekit-agents (1.8.9) has no option for it: its worker sets the pool's idle target every
    0.5 s and the pool tops up to it every 0.1 s, so both entry points are wrapped here.
    """
    hold = WarmUpHold(hold_seconds)
    set_target = pool.set_target_idle_processes
    launch_job = pool.launch_job
    requested = pool.target_idle_processes

    def set_held_target(num_idle_processes: int) -> None:
        nonlocal requested
        requested = num_idle_processes
        set_target(hold.target(requested))

    async def launch_job_holding_warm_up(info: RunningJobInfo) -> None:
        idle = sum(1 for process in pool.processes if process.running_job is None)
        hold.conversation_starting(idle_after=idle - 1)
        set_target(hold.target(requested))
        if hold.holding:
            # the worker's next update would do it too, but only while conversations run
            asyncio.get_running_loop().call_later(
                hold_seconds + RELEASE_MARGIN_SECONDS, lambda: set_target(hold.target(requested))
            )
        await launch_job(info)

    setattr(pool, "set_target_idle_processes", set_held_target)  # noqa: B010 (an instance's method)
    setattr(pool, "launch_job", launch_job_holding_warm_up)  # noqa: B010
    return hold
