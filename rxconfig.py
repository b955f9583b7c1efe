"""Reflex configuration, built from the app's typed settings so there is one source of truth."""

try:
    from scripts.dev import start_companions_for_reflex_run
except ImportError:  # the images carry no scripts/: production runs each service on its own
    pass
else:
    # plain `reflex run` in dev: livekit-server, the models and the agent worker too (scripts/dev.py)
    start_companions_for_reflex_run()

import reflex as rx

from voice_app.app_settings import APP_SETTINGS
from voice_app.db import ensure_sqlite_folder
from voice_app.security.dev_server_headers import DevServerSecurityHeaders
from voice_app.settings import get_settings

settings = get_settings()
ensure_sqlite_folder(settings.DATABASE_URL)  # `reflex db migrate` opens it with its own engine

config = rx.Config(
    app_name="voice_app",
    backend_port=settings.BACKEND_PORT,
    api_url=settings.API_URL,
    deploy_url=settings.DEPLOY_URL,
    db_url=settings.DATABASE_URL,
    redis_url=settings.REDIS_URL,
    trusted_proxy_hops=settings.TRUSTED_PROXY_HOPS,
    cors_allowed_origins=settings.cors_origins,
    telemetry_enabled=False,
    show_built_with_reflex=False,
    plugins=[
        rx.plugins.SitemapPlugin(),
        rx.plugins.RadixThemesPlugin(
            theme=rx.theme(appearance="inherit", accent_color=APP_SETTINGS.accent_color)
        ),
        DevServerSecurityHeaders(),
    ],
)
