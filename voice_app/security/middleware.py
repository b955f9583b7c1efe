"""The backend's protective ASGI layers, as Reflex ``api_transformer`` steps (see `voice_app.voice_app`)."""

from __future__ import annotations

from starlette.types import ASGIApp

from voice_app.security.body_limit import BodySizeLimitMiddleware
from voice_app.security.headers import SecurityHeadersMiddleware
from voice_app.settings import get_settings


def limit_request_bodies(app: ASGIApp) -> ASGIApp:
    """Wrap ``app`` so request bodies above MAX_REQUEST_BODY_BYTES get 413 before they are read."""
    return BodySizeLimitMiddleware(app, get_settings().MAX_REQUEST_BODY_BYTES)


def add_security_headers(app: ASGIApp) -> ASGIApp:
    """Wrap ``app`` so every response carries the security headers (`voice_app.security.headers`)."""
    return SecurityHeadersMiddleware(app, get_settings())
