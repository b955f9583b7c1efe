"""The JSON bodies the API answers errors with, and how the OpenAPI schema documents them.

Every error is ``{"detail": "<sentence>"}``; a validation error (422) adds ``errors``, one entry
per failing field. The exception handlers in `voice_app.api` build these models, routers list
them with :func:`error_responses`, and :func:`document_errors` fixes what FastAPI documents by
itself: its default 422 body (``detail`` as a list of objects, which this API never sends) and
the 400 a body that is not UTF-8 gets and the 413 of a body over the size limit.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TypeGuard

from pydantic import BaseModel, Field

NOT_SIGNED_IN = "No bearer token, or its session has expired or was signed out."
BODY_NOT_DECODABLE = "The body could not be decoded: it is not UTF-8 JSON."
BODY_TOO_LARGE = "The body is larger than the server accepts (MAX_REQUEST_BODY_BYTES); nothing was read."
INVALID_REQUEST = "The body is not valid JSON or a field is invalid; `errors` names each field."
DATABASE_UNREACHABLE = "The database is not answering right now; try again in a moment."
DATABASE_BUSY = "The server is busy right now; try again in a moment."


class ErrorResponse(BaseModel):
    """Every error this API answers with."""

    detail: str = Field(description="What went wrong, as a sentence.")


class FieldError(BaseModel):
    """One invalid field of a request."""

    field: str = Field(
        description="The field's name (dotted for nested fields), or empty for the whole body."
    )
    message: str = Field(description="What is wrong with it, as a sentence.")


class ValidationErrorResponse(ErrorResponse):
    """The request was malformed or broke a rule; ``errors`` names the fields when it can."""

    errors: list[FieldError] = Field(default_factory=list[FieldError])


def error_responses(descriptions: Mapping[int, str]) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries for a route: each status with its description and its error body."""
    return {
        status: {"model": ValidationErrorResponse if status == 422 else ErrorResponse, "description": text}
        for status, text in descriptions.items()
    }


_MODELS = (ErrorResponse, FieldError, ValidationErrorResponse)
_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")
_REF = "#/components/schemas/{model}"


def _json_body(model: type[BaseModel]) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": _REF.format(model=model.__name__)}}}


def _is_json_object(value: object) -> TypeGuard[dict[str, Any]]:
    """Whether a part of an OpenAPI schema is an object (its keys are strings)."""
    return isinstance(value, dict)


def document_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """Make an OpenAPI ``schema`` from FastAPI describe the error bodies this API really sends.

    Every 422 FastAPI added by default gets :class:`ValidationErrorResponse`, and every route
    with a request body documents 400 (a body that is not UTF-8) and 413 (a body over the size
    limit, refused by `voice_app.security.body_limit`). Changes ``schema`` in place
    and returns it.
    """
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in _MODELS:
        model_schema = model.model_json_schema(ref_template=_REF)
        for name, definition in model_schema.pop("$defs", {}).items():
            components.setdefault(name, definition)
        components.setdefault(model.__name__, model_schema)

    paths: dict[str, dict[str, Any]] = schema.get("paths", {})
    for path_item in paths.values():
        for operation in path_item.values():
            if not _is_json_object(operation) or "responses" not in operation:
                continue
            responses: dict[str, Any] = operation["responses"]
            default_422: object = responses.get("422", {})
            if "HTTPValidationError" in json.dumps(default_422):
                responses["422"] = {
                    "description": INVALID_REQUEST,
                    "content": _json_body(ValidationErrorResponse),
                }
            if "requestBody" in operation and "400" not in responses:
                responses["400"] = {"description": BODY_NOT_DECODABLE, "content": _json_body(ErrorResponse)}
            if "requestBody" in operation and "413" not in responses:
                responses["413"] = {"description": BODY_TOO_LARGE, "content": _json_body(ErrorResponse)}
            operation["responses"] = dict(sorted(responses.items()))

    still_used = json.dumps(schema.get("paths", {}))
    for name in _FASTAPI_VALIDATION_SCHEMAS:
        if f'/{name}"' not in still_used:
            components.pop(name, None)
    return schema
