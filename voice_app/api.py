"""The FastAPI app that serves every `/api/*` route, and how Reflex hands requests to it.

Errors always leave as JSON ``{"detail": "<sentence>"}`` (validation errors add ``errors``
with the failing fields) and never carry a stack trace.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.convertors import PathConvertor
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from voice_app import health
from voice_app.account import api as account_api
from voice_app.api_errors import (
    DATABASE_BUSY,
    DATABASE_UNREACHABLE,
    ErrorResponse,
    FieldError,
    ValidationErrorResponse,
    document_errors,
)
from voice_app.auth import api as auth_api
from voice_app.auth import browser_api
from voice_app.auth.browser_session import CookieSessionOriginCheck
from voice_app.db import DatabaseUnavailable
from voice_app.history import api as history_api
from voice_app.rooms import api as rooms_api
from voice_app.rooms import webhooks
from voice_app.settings import get_settings

logger = logging.getLogger(__name__)


def _field_name(error: dict[str, Any]) -> str:
    return ".".join(str(part) for part in error.get("loc", ()) if part != "body")


def _describe_validation_error(error: dict[str, Any]) -> str:
    """One sentence per failing field; a missing or non-object body gets its own words."""
    location = _field_name(error)
    if not location and error.get("type") in ("missing", "model_attributes_type", "dict_type"):
        return "The request body must be a JSON object with the documented fields."
    message = error.get("msg", "is invalid")
    return f"{location}: {message}" if location else message


def create_api() -> FastAPI:
    """Build the API app with its routers and JSON error handlers."""
    api = FastAPI(
        title="voice-app API",
        version="1.0.0",
        description="Accounts, LiveKit rooms and tokens, and saved conversations for the voice agent app.",
    )

    @api.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [FieldError(field=_field_name(e), message=e.get("msg", "")) for e in exc.errors()]
        detail = "; ".join(_describe_validation_error(e) for e in exc.errors()) or "Invalid request."
        body = ValidationErrorResponse(detail=detail, errors=errors)
        return JSONResponse(body.model_dump(), status_code=422)

    @api.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        body = ErrorResponse(detail=str(exc.detail))
        return JSONResponse(body.model_dump(), status_code=exc.status_code, headers=exc.headers)

    @api.exception_handler(DatabaseUnavailable)
    async def _database_unavailable(_request: Request, exc: DatabaseUnavailable) -> JSONResponse:
        body = ErrorResponse(detail=DATABASE_BUSY if exc.busy else DATABASE_UNREACHABLE)
        return JSONResponse(body.model_dump(), status_code=503, headers={"Retry-After": "5"})

    @api.exception_handler(Exception)
    async def _unexpected_error(_request: Request, exc: Exception) -> JSONResponse:
        logger.error("Unhandled error in API route", exc_info=exc)
        return JSONResponse(
            ErrorResponse(detail="Internal error; it has been logged.").model_dump(), status_code=500
        )

    api.include_router(rooms_api.router)
    api.include_router(auth_api.router)
    api.include_router(browser_api.router)
    api.include_router(account_api.router)
    api.include_router(history_api.router)
    api.include_router(health.router)
    api.add_middleware(
        CookieSessionOriginCheck,
        settings=get_settings(),
        always_checked_prefix=browser_api.BROWSER_AUTH_PREFIX,
    )
    api.include_router(webhooks.router)

    generate_openapi = api.openapi

    def openapi_with_our_error_bodies() -> dict[str, Any]:
        """FastAPI's schema, with the error bodies the handlers above really send (built once)."""
        if api.openapi_schema is None:
            api.openapi_schema = document_errors(generate_openapi())
        return api.openapi_schema

    api.openapi = openapi_with_our_error_bodies
    return api


fastapi_app = create_api()


def let_mounted_apps_see_encoded_line_breaks() -> None:
    """Let a path holding ``%0A`` reach the app Reflex mounts, and so the API's JSON answers.

    Reflex mounts its apps under a top-level Starlette app, whose ``path`` convertor is ``.*``:
    it stops at a line break, so such a path matched nothing and got Starlette's plain-text 404
    before any of our code ran. The API's own routes then decide, as for any other path.
    """
    PathConvertor.regex = "(?s:.*)"


let_mounted_apps_see_encoded_line_breaks()

API_PATH_PREFIXES = ("/api/", "/docs", "/redoc", "/openapi.json")
"""Paths the API app answers (its routes and docs); Reflex's own app gets every other request."""


def serve_api_beside(reflex_asgi_app: ASGIApp) -> ASGIApp:
    """Reflex's ``api_transformer``: send API paths to the API app, the rest to Reflex.

    Given an app instance, Reflex would mount its own app inside it, putting a second CORS
    middleware in front of every request; dispatching on the path leaves Reflex's outer app
    wrapping both with one set of CORS and error middleware. Unknown `/api/*` paths and wrong
    methods reach the API app, so they get JSON 404/405 rather than Reflex's plain-text 404.
    """

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(API_PATH_PREFIXES):
            await fastapi_app(scope, receive, send)
        else:
            await reflex_asgi_app(scope, receive, send)

    return app
