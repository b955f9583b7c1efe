"""Voice activity detection, run on the conversation's own event loop.

livekit-agents' native VAD hands every 32 ms window to a thread of its own and waits for the
answer. The model takes ~0.03 ms per window, far less than the hand-over (a thread woken, a
future resolved across threads, the event loop woken), which a job process paid ~60 times a
second for its two detectors. :class:`InlineExecutor` runs the window at once instead.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import ParamSpec, TypeVar

from livekit.agents import inference, vad
from livekit.plugins import silero

from agent_worker.settings import WorkerSettings

P = ParamSpec("P")
T = TypeVar("T")


class InlineExecutor(Executor):
    """Runs each call at once on the caller's thread: for calls shorter than a thread hand-over."""

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """Run ``fn`` now; its result (or exception) is in the returned, finished future."""
        future: Future[T] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as error:  # the caller reads it from the future, as from a thread
            future.set_exception(error)
        return future


INLINE = InlineExecutor()


def load_vad(settings: WorkerSettings, min_silence: float) -> vad.VAD:
    """The VAD chosen by ``VAD_MODEL``, ending speech after ``min_silence`` seconds of silence."""
    if settings.VAD_MODEL == "silero":
        return silero.VAD.load(min_silence_duration=min_silence)
    return inference.VAD(min_silence_duration=min_silence, executor=INLINE)
