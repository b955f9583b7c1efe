"""The talk page as a user meets it, on loopback, against a production build of the app.

- **JavaScript shipped** (gzip): every script the browser loads to show the talk page to a
  signed-in user, then what pressing Start adds (the LiveKit code is loaded on demand). Sizes
  are those of the build's precompressed ``.gz`` files.
- **Time to interactive**: from navigation start until **Start conversation** is enabled (page
  hydrated, event socket open, sign-in checked), each load with a cold browser cache.
- **Start to the agent's first word**: from the click on Start until the first words of the
  agent's greeting are on screen, with the offline pipeline and a warm worker; in blocks of
  ``BLOCK`` conversations that alternate between the worker's default ``WARM_UP_DELAY_SECONDS``
  and the baseline of 0 (the taken warm process replaced at once, as livekit-agents does).

The app is built and served by ``reflex run --env prod`` in an isolated copy of the work tree
(``tests.support.browser.isolated_tree``), so the repository's ``.web`` is left alone. Writes
bench/results/talk_page.json and prints a markdown table.

    .venv/bin/python bench/talk_page.py [--loads 10] [--conversations 10]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import re
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlparse

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playwright.sync_api import Browser, Page, sync_playwright

from agent_worker.settings import WorkerSettings
from tests.factories import sign_in
from tests.support.backend import new_database
from tests.support.browser import isolated_tree, launch_chromium
from tests.support.inference import InferenceService
from tests.support.livekit import LiveKitServer
from tests.support.processes import REPO_ROOT, ManagedProcess, free_port, tool_env, wait_until
from tests.support.worker import AgentWorker
from voice_app import routes
from voice_app.auth.browser_session import SESSION_COOKIE

RESULTS = REPO_ROOT / "bench" / "results" / "talk_page.json"
START_ENABLED = """() => {
  const button = [...document.querySelectorAll('button')].find((b) => b.textContent.includes('Start conversation'));
  return !!button && !button.disabled;
}"""
WATCH_FIRST_WORD = """() => {
  window.__firstWord = null;
  const seen = () => {
    const caption = document.querySelector('.caption[data-role="agent"] .caption-text');
    if (window.__firstWord === null && caption && caption.textContent.trim()) window.__firstWord = performance.now();
  };
  new MutationObserver(seen).observe(document.body, { subtree: true, childList: true, characterData: true });
  const button = [...document.querySelectorAll('button')].find((b) => b.textContent.includes('Start conversation'));
  button.addEventListener('click', () => { window.__clicked = performance.now(); }, { once: true, capture: true });
}"""
STAGE_LOG_LINES = {
    "room_created_ms": ("app", "Room created"),
    "job_received_ms": ("worker", "received job request"),
    "user_linked_ms": ("worker", "RoomIO linked to participant"),
    "session_started_ms": ("worker", "conversation started"),
}
"""Where the time from Start to the first word goes: the first line of each kind that the backend
or the worker logged after the click (same machine, same clock), in ms after the click."""
BLOCK = 5
"""Conversations in a row with one worker setting before the other setting's turn."""
BASELINE_WARM_UP_DELAY = 0.0
DEFAULT_WARM_UP_DELAY = WorkerSettings.model_fields["WARM_UP_DELAY_SECONDS"].default
IDLE_PROCESSES = WorkerSettings.model_fields["WORKER_IDLE_PROCESSES"].get_default(call_default_factory=True)
LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})")


def logged_after(log: str, needle: str, since: float) -> float | None:
    """Unix time of the first line of ``log`` holding ``needle`` that was logged after ``since``."""
    for line in log.splitlines():
        if needle not in line or not (stamp := LOG_TIME.match(line)):
            continue
        at = datetime.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
        if at >= since:
            return at
    return None


def percentile(samples: list[float], fraction: float) -> float:
    """The ``fraction`` quantile (inclusive method) of ``samples``."""
    if len(samples) == 1:
        return samples[0]
    return statistics.quantiles(samples, n=100, method="inclusive")[round(fraction * 100) - 1]


def summary(samples: list[float]) -> dict[str, float]:
    """p50/p95/min/max in milliseconds, rounded."""
    return {
        "runs": len(samples),
        "p50_ms": round(statistics.median(samples)),
        "p95_ms": round(percentile(samples, 0.95)),
        "min_ms": round(min(samples)),
        "max_ms": round(max(samples)),
    }


class Stack:
    """livekit-server, the local inference service, the production app and the agent worker."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.livekit = LiveKitServer(workdir)
        self.inference = InferenceService(workdir)
        self.database_url = new_database(workdir)
        self.tree = isolated_tree(workdir)
        # In production Reflex serves the built frontend and the backend on one port.
        self.port = free_port()
        env = {
            **self.livekit.env(),
            "DATABASE_URL": self.database_url,
            "FRONTEND_PORT": str(self.port),
            "BACKEND_PORT": str(self.port),
            "API_URL": self.url,
            "DEPLOY_URL": self.url,
            # One user starts every conversation, minutes apart: the per-user limits are not measured.
            "CONVERSATIONS_PER_USER": "100",
            "ROOM_CREATIONS_PER_MINUTE": "1000",
            "TOKEN_REQUESTS_PER_MINUTE": "1000",
        }
        self.app = ManagedProcess(
            "app-prod",
            [
                "reflex",
                "run",
                "--env",
                "prod",
                "--single-port",
                "--frontend-port",
                str(self.port),
                "--backend-port",
                str(self.port),
            ],
            log_dir=workdir,
            env=tool_env(env),
            cwd=self.tree,
        )
        self.worker: AgentWorker | None = None
        self.idle_worker_processes = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Stack:
        self.livekit.start()
        self.inference.start()
        self.app.start()
        try:
            wait_until(
                lambda: httpx.get(f"{self.url}/ping", timeout=2).status_code == 200,
                timeout=600,
                what="production backend",
            )
            wait_until(
                lambda: (
                    httpx.get(self.url + routes.TALK, timeout=5, follow_redirects=True).status_code == 200
                ),
                timeout=60,
                what="production frontend",
            )
        except TimeoutError as error:
            raise RuntimeError(self.app.log_tail()) from error
        return self

    def start_worker(self, warm_up_delay: float) -> None:
        """(Re)start the agent worker with this ``WARM_UP_DELAY_SECONDS``, its log in a folder of its own."""
        if self.worker is not None:
            self.worker.stop()
        workdir = self.workdir / f"worker-warm-up-{warm_up_delay}"
        workdir.mkdir(exist_ok=True)
        self.worker = AgentWorker(
            workdir,
            self.livekit,
            SimpleNamespace(database_url=self.database_url),
            self.inference,
            # the tests' worker keeps one warm process; a user's keeps the default (one per core)
            extra_env={
                "WARM_UP_DELAY_SECONDS": str(warm_up_delay),
                "WORKER_IDLE_PROCESSES": str(IDLE_PROCESSES),
            },
        ).start()
        wait_until(
            lambda: self.worker_log().count("process initialized") >= IDLE_PROCESSES,
            timeout=60,
            what="the worker's warm processes",
        )
        # its warm processes and the helpers of Python's multiprocessing (forkserver, resource tracker)
        self.idle_worker_processes = self.worker.python_processes()

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()
        self.app.stop()
        self.inference.stop()
        self.livekit.stop()
        shutil.rmtree(self.tree, ignore_errors=True)  # a copy of .web, a few hundred MB

    def worker_log(self) -> str:
        """The worker's log without terminal colours."""
        assert self.worker is not None
        return re.sub(r"\x1b\[[0-9;]*m", "", self.worker.log())

    def wait_for_idle_worker(self) -> None:
        """No conversation running and the warm job processes all started (see tests/test_talk_page.py)."""
        assert self.worker is not None
        worker = self.worker
        url = f"http://127.0.0.1:{worker.env['WORKER_HTTP_PORT']}/worker"

        def idle() -> bool:
            info = httpx.get(url, timeout=2).json()
            if int(info.get("active_jobs", 0)) != 0 or float(info.get("worker_load", 0.0)) >= 0.5:
                return False
            # every warm process ready: a user arriving at an idle worker finds the pool full
            log = self.worker_log()
            started = log.count("initializing process") == log.count("process initialized")
            return started and worker.python_processes() == self.idle_worker_processes

        wait_until(idle, timeout=180, what="the agent worker being idle")

    def gzip_size(self, url: str) -> tuple[int, int]:
        """(gzip bytes, raw bytes) of the built file behind ``url``."""
        path = self.tree / ".web" / "build" / "client" / urlparse(url).path.lstrip("/")
        raw = path.read_bytes()
        compressed = path.with_name(path.name + ".gz")
        size = compressed.stat().st_size if compressed.exists() else len(gzip.compress(raw, 9))
        return size, len(raw)


def signed_in_page(browser: Browser, token: str, url: str) -> Page:
    """A page in a fresh context (cold cache) whose browser holds ``token`` as the session cookie.

    The stack runs with ENVIRONMENT=development, so the cookie has its plain name.
    """
    context = browser.new_context(viewport={"width": 1280, "height": 860}, permissions=["microphone"])
    context.add_cookies(
        [{"name": SESSION_COOKIE, "value": token, "url": url, "httpOnly": True, "sameSite": "Lax"}]
    )
    page = context.new_page()
    page.set_default_timeout(120_000)
    return page


def measure_javascript(stack: Stack, browser: Browser, token: str) -> dict:
    """Scripts loaded for the talk page, then those the click on Start adds."""
    page = signed_in_page(browser, token, stack.url)
    loaded: list[str] = []
    page.on(
        "response", lambda response: loaded.append(response.url) if response.url.endswith(".js") else None
    )
    page.goto(stack.url + routes.TALK)
    page.wait_for_function(START_ENABLED)
    page_scripts = list(dict.fromkeys(loaded))
    stack.wait_for_idle_worker()
    page.get_by_role("button", name="Start conversation").click()
    page.locator("#talk-status").filter(has_text="Listening").wait_for()
    start_scripts = [url for url in dict.fromkeys(loaded) if url not in page_scripts]
    page.get_by_role("button", name="End", exact=True).click()
    page.context.close()

    def total(urls: list[str]) -> dict:
        sizes = [stack.gzip_size(url) for url in urls]
        return {
            "files": len(urls),
            "gzip_kb": round(sum(s[0] for s in sizes) / 1024, 1),
            "raw_kb": round(sum(s[1] for s in sizes) / 1024, 1),
        }

    return {"talk_page": total(page_scripts), "added_by_start": total(start_scripts)}


def measure_time_to_interactive(stack: Stack, browser: Browser, token: str, loads: int) -> dict:
    samples = []
    for _ in range(loads):
        page = signed_in_page(browser, token, stack.url)
        page.goto(stack.url + routes.TALK, wait_until="commit")
        page.wait_for_function(START_ENABLED, polling=10)
        samples.append(page.evaluate("performance.now()"))
        page.context.close()
    return summary(samples)


class FirstWords:
    """Start → first word samples of one worker setting, with the split of each."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self.stages: dict[str, list[float]] = {name: [] for name in STAGE_LOG_LINES}

    def result(self) -> dict:
        split = {name: round(statistics.median(values)) for name, values in self.stages.items() if values}
        return {**summary(self.samples), "stages_p50_ms": split}


def measure_first_word(
    stack: Stack, browser: Browser, token: str, conversations: int, into: FirstWords
) -> None:
    page = signed_in_page(browser, token, stack.url)
    samples, stages = into.samples, into.stages
    for _ in range(conversations):
        page.goto(stack.url + routes.TALK)
        page.wait_for_function(START_ENABLED)
        stack.wait_for_idle_worker()
        page.evaluate(WATCH_FIRST_WORD)
        page.get_by_role("button", name="Start conversation").click()
        status = page.locator("#talk-status")
        page.wait_for_function("() => window.__firstWord !== null", polling=10)
        samples.append(page.evaluate("window.__firstWord - window.__clicked"))
        clicked = page.evaluate("(performance.timeOrigin + window.__clicked) / 1000")
        logs = {"app": stack.app.log_path.read_text(errors="replace"), "worker": stack.worker_log()}
        for name, (source, needle) in STAGE_LOG_LINES.items():
            if (at := logged_after(logs[source], needle, clicked)) is not None:
                stages[name].append((at - clicked) * 1000)
        page.get_by_role("button", name="End", exact=True).click()
        status.filter(has_text="Disconnected").wait_for()
    page.context.close()


def measure_first_word_by_warm_up_delay(
    stack: Stack, browser: Browser, token: str, conversations: int
) -> dict:
    """The default warm-up delay and the baseline, in alternating blocks within one run."""
    by_delay = {DEFAULT_WARM_UP_DELAY: FirstWords(), BASELINE_WARM_UP_DELAY: FirstWords()}
    while any(len(words.samples) < conversations for words in by_delay.values()):
        for delay, words in by_delay.items():
            stack.start_worker(delay)
            measure_first_word(stack, browser, token, min(BLOCK, conversations - len(words.samples)), words)
    default, baseline = (by_delay[d].result() for d in (DEFAULT_WARM_UP_DELAY, BASELINE_WARM_UP_DELAY))
    return {
        **default,
        "warm_up_delay_s": DEFAULT_WARM_UP_DELAY,
        "baseline_warm_up_at_once": baseline,
        "p50_ratio_to_baseline": round(default["p50_ms"] / baseline["p50_ms"], 2),
    }


def run(loads: int, conversations: int) -> dict:
    load_before = os.getloadavg()[0]
    stack = Stack(Path(tempfile.mkdtemp(prefix="talk-page-bench-")))
    try:
        stack.start()
        stack.start_worker(DEFAULT_WARM_UP_DELAY)
        with httpx.Client(base_url=stack.url, timeout=30) as api:
            token = sign_in(api, display_name="Bench").token
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            javascript = measure_javascript(stack, browser, token)
            interactive = measure_time_to_interactive(stack, browser, token, loads)
            first_word = measure_first_word_by_warm_up_delay(stack, browser, token, conversations)
            browser.close()
    finally:
        stack.stop()
    return {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "load_average_before": round(load_before, 2),
        "javascript": javascript,
        "time_to_interactive": interactive,
        "start_to_first_agent_word": first_word,
    }


def stage_split(first_words: dict) -> str:
    """The p50 of each stage of ``STAGE_LOG_LINES``, in ms after Start, as "a / b / c / d"."""
    return " / ".join(str(first_words["stages_p50_ms"].get(name, "—")) for name in STAGE_LOG_LINES)


def table(result: dict) -> str:
    js, tti, word = result["javascript"], result["time_to_interactive"], result["start_to_first_agent_word"]
    baseline = word["baseline_warm_up_at_once"]
    rows = [
        (
            "JavaScript for the talk page (gzip)",
            f"{js['talk_page']['gzip_kb']} kB in {js['talk_page']['files']} files",
        ),
        (
            "JavaScript added by Start (LiveKit, gzip)",
            f"{js['added_by_start']['gzip_kb']} kB in {js['added_by_start']['files']} files",
        ),
        (
            f"Time to interactive, cold cache (p50 / p95, {tti['runs']} loads)",
            f"{tti['p50_ms']} / {tti['p95_ms']} ms",
        ),
        (
            f"Start → agent's first word on screen (p50 / p95, {word['runs']} runs)",
            f"{word['p50_ms']} / {word['p95_ms']} ms",
        ),
        (
            "… of which: room created, job received by the worker, user joined the agent's room, "
            "session started (p50, ms after Start)",
            stage_split(word),
        ),
        (
            "Start → first word, baseline: warm process replaced at once (p50 / p95; its split)",
            f"{baseline['p50_ms']} / {baseline['p95_ms']} ms; " + stage_split(baseline),
        ),
        (
            f"p50 with a {word['warm_up_delay_s']} s warm-up delay vs baseline",
            f"{word['p50_ratio_to_baseline']} x",
        ),
    ]
    lines = ["| Measure | Result |", "| --- | --- |", *[f"| {name} | {value} |" for name, value in rows]]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loads", type=int, default=10, help="page loads for time to interactive")
    parser.add_argument("--conversations", type=int, default=10, help="conversations for the first word")
    args = parser.parse_args()
    result = run(args.loads, args.conversations)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(table(result))


if __name__ == "__main__":
    main()
