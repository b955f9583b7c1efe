"""Reflex configuration, built from the app's typed settings so there is one source of truth."""

import reflex as rx

from voice_app.app_settings import APP_SETTINGS
from voice_app.settings import get_settings

settings = get_settings()

config = rx.Config(
    app_name="voice_app",
    backend_port=settings.BACKEND_PORT,
    api_url=settings.API_URL,
    deploy_url=settings.DEPLOY_URL,
    db_url=settings.DATABASE_URL,
    redis_url=settings.REDIS_URL,
    trusted_proxy_hops=settings.TRUSTED_PROXY_HOPS,
    cors_allowed_origins=[origin.strip() for origin in settings.CORS_ALLOWED_ORIGINS.split(",")],
    telemetry_enabled=False,
    show_built_with_reflex=False,
    plugins=[
        rx.plugins.SitemapPlugin(),
        rx.plugins.RadixThemesPlugin(
            theme=rx.theme(appearance="inherit", accent_color=APP_SETTINGS.accent_color)
        ),
    ],
)
