"""The browser's login session: an ``HttpOnly`` cookie that only the backend sets and clears.

How it fits together, and why:

- **Set by an HTTP response.** Reflex event handlers answer over the `/_event` WebSocket, which
  cannot carry ``Set-Cookie``; and a token handed to the page to store would be readable by any
  script on it. So the sign-in and sign-up forms post their fields with ``fetch``
  (``credentials: "include"``) to `voice_app.auth.browser_api`, whose response sets the cookie,
  and then load the next page afresh. In production the backend is the pages' own origin (Caddy);
  in development it is another port of the same host, whose cookies the pages share (cookies
  ignore ports), and the WebSocket is opened to that same host.
- **Read from the WebSocket handshake.** The Reflex state finds the token in the handshake's
  ``Cookie`` header (``router.headers.cookie``, which Reflex never sends to the page). Those
  headers are fixed for the life of a connection: that is why signing in ends with a full page
  load instead of a client-side redirect.
- **Only from the app's own origin.** ``SameSite=Lax`` keeps the cookie off requests other sites
  start; another origin of the *same* site (another port, a sibling subdomain) still gets it sent,
  so whatever rides the cookie must also come from the app's own origin: state-changing HTTP
  requests through :class:`CookieSessionOriginCheck` (asgi-cross-origin-protection, the algorithm
  of Go's ``http.CrossOriginProtection``), the WebSocket through :func:`origin_is_the_apps`.
  Bearer clients are not affected: a browser never attaches a token to a forged request, and
  a request without ``Origin`` and ``Sec-Fetch-Site`` comes from no browser.
- **Named ``__Host-…`` in production**, where the browser then insists on ``Secure``, ``Path=/``
  and no ``Domain``, so no subdomain can plant or overwrite it. Development over plain HTTP
  cannot rely on ``Secure``, so there the name has no prefix.
- **Lifetime**: ``Max-Age`` is the session's remaining absolute lifetime
  (``SESSION_ABSOLUTE_HOURS``); the idle timeout, like every other check of validity, is the
  server's.
"""

from __future__ import annotations

from datetime import datetime

from asgi_cross_origin_protection import CrossOriginProtection
from asgi_cross_origin_protection.origins import host_authority, normalize_origin, origin_authority
from starlette.requests import cookie_parser
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from voice_app.auth.models import utc_now
from voice_app.settings import Settings

SESSION_COOKIE = "voice_app_session"
SECURE_SESSION_COOKIE = "__Host-voice_app_session"

FOREIGN_ORIGIN_MESSAGE = (
    "This request came from a page outside the app; the sign-in cookie is accepted only from the "
    "app's own pages (API clients send 'Authorization: Bearer <token>')."
)


def session_cookie_name(settings: Settings) -> str:
    """The cookie's name: ``__Host-`` prefixed in production (see the module docstring)."""
    return SECURE_SESSION_COOKIE if settings.is_production else SESSION_COOKIE


def set_session_cookie(response: Response, *, token: str, expires_at: datetime, settings: Settings) -> None:
    """Give the browser ``token`` as an ``HttpOnly`` cookie that ends with the session."""
    response.set_cookie(
        session_cookie_name(settings),
        token,
        max_age=max(0, int((expires_at - utc_now()).total_seconds())),
        path="/",
        secure=settings.is_production,
        httponly=True,
        samesite="lax",
    )


def clear_session_cookie(response: Response, *, settings: Settings) -> None:
    """Make the browser forget the session cookie (same name and attributes, expired)."""
    response.delete_cookie(
        session_cookie_name(settings), path="/", secure=settings.is_production, httponly=True, samesite="lax"
    )


def session_token_from_cookies(cookie_header: str, *, settings: Settings) -> str:
    """The session token in a ``Cookie`` header, or ``""`` (parsed the way Starlette parses it)."""
    return cookie_parser(cookie_header).get(session_cookie_name(settings), "") if cookie_header else ""


def origin_is_the_apps(*, origin: str, host: str, settings: Settings) -> bool:
    """Whether a browser connection with this ``Origin``, made to this ``Host``, is the app's own.

    It is when the origin is one of `Settings.app_origins`, or the host it was sent to.

    The host comparison ignores the scheme, as the HTTP check does: behind a proxy that ends TLS
    the backend cannot know it. No ``Origin`` (never the case for a browser's WebSocket) is no.
    """
    parsed = normalize_origin(origin) if origin else None
    if parsed is None:
        return False
    if parsed in {normalize_origin(app_origin) for app_origin in settings.app_origins}:
        return True
    authority = origin_authority(origin)
    return authority is not None and authority == host_authority(host)


class CookieSessionOriginCheck:
    """ASGI middleware: what may ride the session cookie must come from the app's own origin.

    Others get 403 ``{"detail": ...}``.
    It checks every request that carries the session cookie (whatever else it carries: a bearer
    client is never a page of another origin holding this site's cookie), and every request under
    ``always_checked_prefix`` (the browser's sign-in routes, which run before there is a cookie: a
    forged sign-in would put the victim in the attacker's account).
    Safe methods (GET, HEAD, OPTIONS) pass. Same-origin requests pass, and so do requests from
    `Settings.app_origins`; requests without ``Origin`` and ``Sec-Fetch-Site`` come from no
    browser and pass too.
    """

    def __init__(self, app: ASGIApp, *, settings: Settings, always_checked_prefix: str) -> None:
        self._app = app
        self._cookie_name = session_cookie_name(settings)
        self._always_checked_prefix = always_checked_prefix
        self._checked_app = CrossOriginProtection(
            app,
            allowed_origins=settings.app_origins,
            deny_app=JSONResponse({"detail": FOREIGN_ORIGIN_MESSAGE}, status_code=403),
        )

    def _carries_the_cookie(self, scope: Scope) -> bool:
        for name, value in scope["headers"]:
            if name == b"cookie" and self._cookie_name in cookie_parser(value.decode("latin-1")):
                return True
        return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the request if it may ride the cookie, then pass it on (or refuse it)."""
        if scope["type"] == "http" and (
            scope["path"].startswith(self._always_checked_prefix) or self._carries_the_cookie(scope)
        ):
            await self._checked_app(scope, receive, send)
        else:
            await self._app(scope, receive, send)
