"""Keep Python's garbage collector from pausing every request in flight for tens of milliseconds.

The backend's heap after start-up holds a few hundred thousand objects that live as long as the
process: the modules, Reflex's compiled app and its state classes, the models and the API's
routes. A full collection walks all of them (about 40 ms on a build-machine core), and while it
runs the event loop answers nothing, so each one adds its length to the latency of every
request in flight: at 64 concurrent token requests it was a whole p99. ``gc.freeze()`` after
start-up moves those objects to a generation the collector never scans; objects made later are
collected as before.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

logger = logging.getLogger(__name__)


@asynccontextmanager
async def freeze_startup_objects() -> AsyncIterator[None]:
    """Reflex lifespan task: once the app is built, collect once and freeze what is left."""
    gc.collect()
    gc.freeze()
    logger.info("Start-up objects frozen for the garbage collector", extra={"frozen": gc.get_freeze_count()})
    yield
