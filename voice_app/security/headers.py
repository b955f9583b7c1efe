"""The security headers every entry point sends, built once from the settings.

Pages get a Content-Security-Policy as strict as Reflex and LiveKit allow:

- ``script-src 'unsafe-inline'``: React Router writes its hydration data and the module loader
  into inline ``<script>`` tags of every page, different per build, so neither nonces (static
  export) nor fixed hashes fit.
- ``style-src 'unsafe-inline'``: Emotion and Radix Themes insert ``<style>`` elements at run time.
- ``connect-src``: the app itself, its backend (HTTP and the ``/_event`` WebSocket) and LiveKit
  (WebSocket signalling, and its HTTP form, which livekit-client asks when a connection fails).
- ``media-src``/``img-src`` ``blob:`` and ``data:``: LiveKit plays remote audio from media streams
  and Radix inlines small images.

API answers (JSON) get ``default-src 'none'``: nothing in them may load anything. FastAPI's docs
pages load Swagger UI and ReDoc from jsDelivr and start them with an inline script, so they get
their own policy. ``frame-ancestors 'none'`` everywhere: no page may be framed (clickjacking).
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from voice_app.settings import Settings, origin_of

PERMISSIONS_POLICY = (
    "microphone=(self), camera=(self), display-capture=(self), geolocation=(), payment=(), usb=(), "
    "serial=(), bluetooth=(), midi=(), accelerometer=(), gyroscope=(), magnetometer=()"
)
REFERRER_POLICY = "strict-origin-when-cross-origin"
HSTS = "max-age=31536000; includeSubDomains"
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
DOCS_CSP = (
    "default-src 'none'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src https://fonts.gstatic.com; img-src 'self' data: https://fastapi.tiangolo.com "
    "https://cdn.redoc.ly; worker-src blob:; connect-src 'self'; frame-ancestors 'none'; "
    "base-uri 'self'; form-action 'none'"
)
DOCS_PATHS = ("/docs", "/redoc")


def _websocket_and_http_forms(url: str) -> list[str]:
    """``url``'s origin in both its WebSocket and its HTTP scheme (CSP matches schemes exactly)."""
    parts = urlsplit(url)
    secure = parts.scheme in ("https", "wss")
    return [
        f"{'wss' if secure else 'ws'}://{parts.netloc}",
        f"{'https' if secure else 'http'}://{parts.netloc}",
    ]


def connect_sources(settings: Settings) -> list[str]:
    """Where the pages may connect: the app, its backend, LiveKit, and any configured extras."""
    sources = ["'self'"]
    for url in (settings.API_URL, settings.LIVEKIT_PUBLIC_URL, *settings.cors_origins):
        sources += _websocket_and_http_forms(url)
    sources += settings.CSP_EXTRA_CONNECT_SRC.split()
    return list(dict.fromkeys(sources))


def page_csp(settings: Settings, *, extra_connect: Iterable[str] = ()) -> str:
    """The Content-Security-Policy of the app's pages (see the module docstring for each part)."""
    connect = " ".join([*connect_sources(settings), *extra_connect])
    return (
        "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: blob:; media-src 'self' blob: mediastream:; font-src 'self' data:; "
        f"connect-src {connect}; worker-src 'self' blob:; object-src 'none'; base-uri 'self'; "
        "form-action 'self'; frame-ancestors 'none'"
    )


def common_headers(settings: Settings) -> dict[str, str]:
    """The headers every response gets, whatever it holds (HSTS only for an https:// app)."""
    headers = {
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": REFERRER_POLICY,
        "Permissions-Policy": PERMISSIONS_POLICY,
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    if origin_of(settings.DEPLOY_URL).startswith("https://"):
        headers["Strict-Transport-Security"] = HSTS
    return headers


class SecurityHeadersMiddleware:
    """Pure ASGI middleware: adds the security headers to every HTTP response of the backend.

    The CSP depends on what the response is: an HTML page (Reflex's, when it serves the
    frontend itself), FastAPI's docs, or anything else (JSON); a 304 gets none, and keeps the one
    the browser stored with the page. Headers a route set itself win.
    """

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self._common = list(common_headers(settings).items())
        self._page_csp = page_csp(settings)

    def _csp_for(self, path: str, content_type: str) -> str:
        if path.startswith(DOCS_PATHS):
            return DOCS_CSP
        if content_type.startswith("text/html"):
            return self._page_csp
        return API_CSP

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request, adding the headers to its response."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self._common:
                    headers.setdefault(name, value)
                # A 304 has no body and no content type. Browsers merge its headers into the page
                # they kept, so a policy here would replace the page's own with the API's.
                if message["status"] != 304:
                    headers.setdefault(
                        "Content-Security-Policy", self._csp_for(path, headers.get("content-type", ""))
                    )
            await send(message)

        await self.app(scope, receive, send_with_headers)
