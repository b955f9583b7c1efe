"""The backend keeps the promises of its own OpenAPI schema, under generated requests.

Schemathesis reads `/openapi.json` from the running backend and sends schema-valid and
schema-breaking requests to every route as a signed-in user. No answer may be a 5xx, use an
undocumented status, or break the documented response schema.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from tests.factories import SignedInUser, sign_in
from tests.support.backend import UNSERVED_AGENT_NAME, Backend
from tests.support.livekit import LiveKitServer

MAX_EXAMPLES_PER_ROUTE = 100  # about 20 s for the whole file on 2 cores


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory, livekit_server: LiveKitServer) -> Iterator[Backend]:
    """A backend of this module's own: the hundreds of generated failed logins get 127.0.0.1
    throttled, which must not spill over into the tests that share the session's backend; and
    its hundreds of generated rooms must not each send the session's worker a job."""
    server = Backend(
        tmp_path_factory.mktemp("schema-backend"), livekit_server, {"AGENT_NAME": UNSERVED_AGENT_NAME}
    ).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def schema_user(backend: Backend) -> SignedInUser:
    with httpx.Client(base_url=backend.base_url, timeout=30) as client:
        return sign_in(client, display_name="Schema Tester")


@pytest.fixture(scope="module")
def api_schema(backend: Backend) -> schemathesis.BaseSchema:
    loaded = schemathesis.openapi.from_url(f"{backend.base_url}/openapi.json", timeout=10)
    # Signing out, or deleting the account, would end the session the other routes are exercised with.
    return loaded.exclude(path="/api/auth/logout").exclude(path="/api/me", method="DELETE")


def _describe(failure: BaseException) -> str:
    """The failure's message, with the messages of the failures it groups (Hypothesis nests them)."""
    text = str(failure)
    nested = [_describe(inner) for inner in getattr(failure, "exceptions", ())]
    return "\n    ".join([text, *(inner.replace("\n", "\n    ") for inner in nested if inner not in text)])


def test_the_docs_list_every_route(api: httpx.Client) -> None:
    paths = api.get("/openapi.json").json()["paths"]
    assert {"/api/create-room", "/api/generate-token", "/api/health"} <= set(paths)
    assert api.get("/docs").status_code == 200


def test_the_docs_describe_the_error_bodies_the_api_sends(api: httpx.Client) -> None:
    schema = api.get("/openapi.json").json()

    # FastAPI's own 422 body (`detail` as a list of objects) is never sent, so it is not documented.
    assert not {"HTTPValidationError", "ValidationError"} & set(schema["components"]["schemas"])
    for path, path_item in schema["paths"].items():
        for method, operation in path_item.items():
            label = f"{method.upper()} {path}"
            responses = operation["responses"]
            if "requestBody" in operation:
                assert "400" in responses, f"{label}: a body that is not UTF-8 gets 400"
            for status, response in responses.items():
                if status.startswith("4"):
                    expected = "ValidationErrorResponse" if status == "422" else "ErrorResponse"
                    body = response["content"]["application/json"]["schema"]
                    assert body == {"$ref": f"#/components/schemas/{expected}"}, f"{label} {status}"


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
def test_generated_requests_get_documented_answers(
    api_schema: schemathesis.BaseSchema, schema_user: SignedInUser, mode: GenerationMode
) -> None:
    # One Hypothesis run per route, so a failure names its route and every route gets its examples.
    # (schemathesis' pytest loader for fixtures does not run under pytest 9 yet.)
    failures: dict[str, str] = {}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert operations, "the schema lists no routes"
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=MAX_EXAMPLES_PER_ROUTE,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def answers_as_documented(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=schema_user.headers, timeout=30)

        try:
            answers_as_documented()
        except Unsatisfiable:
            continue  # nothing in this route can be made invalid (GET /api/health has no inputs)
        except (Exception, BaseExceptionGroup) as failure:  # schemathesis' FailureGroup is the latter
            failures[operation.label] = _describe(failure)
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
