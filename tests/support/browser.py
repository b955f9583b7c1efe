"""The whole app (Reflex frontend dev server + backend) on free ports, and headless Chromium.

Reflex compiles into the repository's `.web/` folder, so only one full app may run at a time
on a machine: a file lock serialises app starts across pytest processes.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.backend import empty_dir, new_database
from tests.support.livekit import LiveKitServer
from tests.support.processes import REPO_ROOT, ManagedProcess, free_port, tool_env, wait_until

CHROMIUM_HINT = (
    "Chromium was not found at /usr/bin/chromium. Run `make setup-test` "
    "(it runs `apt-get install chromium`), or set CHROMIUM_PATH."
)
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",  # ACCEPT_MEDIA_PROMPTS
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
]
ARTIFACTS_DIR = REPO_ROOT / "test-artifacts"


def chromium_path() -> str:
    """Where Chromium is, or a failing test that says how to install it."""
    path = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        pytest.fail(CHROMIUM_HINT)
    return path


def fake_microphone_args(wav: Path) -> list[str]:
    """Chromium flags that make ``wav`` (16-bit PCM) the microphone: played once from the moment
    a page opens the microphone, then silence (``%noloop``)."""
    return [f"--use-file-for-fake-audio-capture={wav}%noloop"]


ACCEPT_MEDIA_PROMPTS = "--use-fake-ui-for-media-stream"


def launch_chromium(playwright, extra_args: list[str] | None = None, *, accept_media_prompts: bool = True):  # type: ignore[no-untyped-def]
    """Debian's Chromium, headless, with the project's flags and ``extra_args``.

    ``accept_media_prompts=False`` leaves the camera and microphone to the browser's own
    permission rules (a context's permissions, or a site setting), as for a real user.
    """
    args = [arg for arg in CHROMIUM_ARGS if accept_media_prompts or arg != ACCEPT_MEDIA_PROMPTS]
    return playwright.chromium.launch(
        executable_path=chromium_path(), args=[*args, *(extra_args or [])], headless=True
    )


def block_microphone(browser) -> None:  # type: ignore[no-untyped-def]
    """Set the microphone to "blocked" in every open context of ``browser``, as a user who
    clicked Block in the permission prompt would have (Playwright does not name its contexts,
    so give such a test a browser of its own)."""
    session = browser.new_browser_cdp_session()
    try:
        for context_id in session.send("Target.getBrowserContexts")["browserContextIds"]:
            session.send(
                "Browser.setPermission",
                {"permission": {"name": "microphone"}, "setting": "denied", "browserContextId": context_id},
            )
    finally:
        session.detach()


def isolated_tree(workdir: Path) -> Path:
    """A work tree for a second app beside the session's: the sources linked, `.web` copied if any.

    Reflex compiles into ``<tree>/.web``, so two apps in one tree would overwrite each other;
    pass the result as ``AppServer(tree=...)``.
    """
    tree = workdir / "tree"
    tree.mkdir()
    for name in ("voice_app", "rxconfig.py", "alembic", "alembic.ini"):
        (tree / name).symlink_to(REPO_ROOT / name)
    (tree / "assets").mkdir()
    shutil.copytree(REPO_ROOT / "reflex.lock", tree / "reflex.lock")
    web = REPO_ROOT / ".web"
    if web.is_dir():  # saves installing the frontend's packages again; Reflex makes it if missing
        shutil.copytree(
            web,
            tree / ".web",
            symlinks=True,
            ignore=lambda folder, _names: ["build"] if folder == str(web) else [],
        )
    return tree


class AppServer:
    """`reflex run` (dev) with frontend and backend on free ports, against a given livekit-server."""

    def __init__(
        self,
        workdir: Path,
        livekit: LiveKitServer,
        extra_env: dict[str, str] | None = None,
        *,
        database_url: str | None = None,
        tree: Path = REPO_ROOT,
    ) -> None:
        self.frontend_port = free_port()
        self.backend_port = free_port()
        self.database_url = database_url or new_database(workdir)
        self.env = {
            **livekit.env(),
            "DATABASE_URL": self.database_url,
            "BACKEND_PORT": str(self.backend_port),
            "FRONTEND_PORT": str(self.frontend_port),
            "API_URL": f"http://127.0.0.1:{self.backend_port}",
            "DEPLOY_URL": f"http://127.0.0.1:{self.frontend_port}",
            # Hot reload watches every file of the work tree: an edit elsewhere (or a screenshot
            # a test saves) would recompile the app and reload the page mid-test.
            "REFLEX_HOT_RELOAD_OVERRIDE_PATHS": str(empty_dir(workdir / "no-hot-reload")),
            **(extra_env or {}),
        }
        self._lock_path = tree / ".tools" / "frontend.lock"
        self._lock_file = None
        self._process = ManagedProcess(
            f"app-{self.frontend_port}",
            [
                "reflex",
                "run",
                "--env",
                "dev",
                "--frontend-port",
                str(self.frontend_port),
                "--backend-port",
                str(self.backend_port),
                "--loglevel",
                "info",
            ],
            log_dir=workdir,
            env=tool_env(self.env),
            cwd=tree,
        )

    @property
    def frontend_url(self) -> str:
        """The page a user opens."""
        return f"http://127.0.0.1:{self.frontend_port}"

    @property
    def backend_url(self) -> str:
        """The backend's own URL (API routes)."""
        return f"http://127.0.0.1:{self.backend_port}"

    def start(self) -> AppServer:
        """Compile and start the app; wait for both the page and the backend to answer."""
        self._lock_path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_file = self._lock_path.open("w")
        fcntl.flock(self._lock_file, fcntl.LOCK_EX)
        self._process.start()
        try:
            wait_until(
                lambda: httpx.get(f"{self.backend_url}/ping", timeout=2).status_code == 200,
                timeout=300,
                what="app backend answering /ping",
            )
            wait_until(
                lambda: httpx.get(self.frontend_url, timeout=5).status_code == 200,
                timeout=300,
                what="app frontend serving the page",
            )
        except TimeoutError as error:
            self.stop()
            raise RuntimeError(f"app did not start:\n{self._process.log_tail()}") from error
        return self

    def stop(self) -> None:
        """Stop frontend and backend, and let the next app start."""
        self._process.stop()
        if self._lock_file is not None:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()
            self._lock_file = None


@pytest.fixture(scope="session")
def app_server(
    tmp_path_factory: pytest.TempPathFactory, livekit_server: LiveKitServer, database_url: str
) -> Iterator[AppServer]:
    """The full app for browser tests, on the session's livekit-server and database."""
    server = AppServer(tmp_path_factory.mktemp("app"), livekit_server, database_url=database_url).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def playwright() -> Iterator[object]:
    """Playwright's sync API, started per test module.

    While it runs, its event loop is the thread's running loop, and pytest-asyncio cannot run an
    async test; module scope stops it when the browser tests of a module are done.
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def chromium(playwright) -> Iterator[object]:  # type: ignore[no-untyped-def]
    """Debian's Chromium driven by Playwright; its fake microphone plays a beep."""
    browser = launch_chromium(playwright)
    yield browser
    browser.close()


@pytest.fixture
def browser_page(chromium, request: pytest.FixtureRequest) -> Iterator[object]:  # type: ignore[no-untyped-def]
    """A fresh browser context and page per test; a screenshot is saved when the test ends."""
    context = chromium.new_context(
        viewport={"width": 1280, "height": 860}, permissions=["microphone", "camera"]
    )
    page = context.new_page()
    yield page
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    try:
        page.screenshot(path=str(ARTIFACTS_DIR / f"{request.node.name}-final.png"), full_page=True)
    finally:
        context.close()
