"""A stand-in for a cloud LLM behind the OpenAI chat API that calls the agent's tools.

The only stand-in the tests use, at the model boundary: the worker's OpenAI-compatible provider
talks to it over HTTP exactly as to OpenAI. It decides like a model that follows its tools'
descriptions, by keywords of the user's last message: "last time" or "remember" -> a call of
``recall_past_conversations``; "time" or "date" -> ``current_date_and_time``; after a tool
result, a reply that repeats the result; anything else, a short fixed reply.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.support.worker import AgentWorker, Deployment

PLAIN_REPLY = "All right, I will keep that in mind."


def _decide(messages: list[dict]) -> dict:
    """The assistant's next move: ``{"content": ...}`` or ``{"tool": name, "arguments": {...}}``."""
    last = messages[-1] if messages else {}
    if last.get("role") == "tool":
        return {"content": f"Here is what I found. {last.get('content', '')}"}
    said = str(last.get("content", "")).lower() if last.get("role") == "user" else ""
    if "last time" in said or "remember" in said:
        return {"tool": "recall_past_conversations", "arguments": {"query": ""}}
    if "time" in said or "date" in said:
        return {"tool": "current_date_and_time", "arguments": {}}
    return {"content": PLAIN_REPLY}


def _text_of(message: dict) -> dict:
    content = message.get("content")
    if isinstance(content, list):  # content parts
        content = " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return {**message, "content": content or ""}


class _Completions(BaseHTTPRequestHandler):
    requests: list[dict]

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        self.requests.append(body)
        move = _decide([_text_of(m) for m in body.get("messages", [])])
        if "tool" in move and not any(
            t.get("function", {}).get("name") == move["tool"] for t in body.get("tools", [])
        ):
            move = {"content": "I have no tool for that."}
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        if "tool" in move:
            delta = {
                "role": "assistant",
                "tool_calls": [
                    {
                        "index": 0,
                        "id": f"call_{len(self.requests)}",
                        "type": "function",
                        "function": {"name": move["tool"], "arguments": json.dumps(move["arguments"])},
                    }
                ],
            }
            finish = "tool_calls"
        else:
            delta = {"role": "assistant", "content": move["content"]}
            finish = "stop"
        for chunk in (
            {"choices": [{"index": 0, "delta": delta}]},
            {"choices": [{"index": 0, "delta": {}, "finish_reason": finish}]},
        ):
            event = {
                "id": "standin",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": "standin",
                **chunk,
            }
            self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()

    def log_message(self, *args: object) -> None:
        pass


class StandinLLM:
    """The running stand-in: ``base_url`` for ``LLM_BASE_URL``, ``requests`` as they came."""

    def __init__(self) -> None:
        handler = type("Handler", (_Completions,), {"requests": []})
        self.requests: list[dict] = handler.requests
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/v1``."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def start(self) -> StandinLLM:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port."""
        self._server.shutdown()
        self._server.server_close()


def worker_env(llm: StandinLLM) -> dict[str, str]:
    """A worker's settings for this LLM as its cloud model (speech stays on the local models)."""
    return {
        "PIPELINE": "auto",
        "LLM_BASE_URL": llm.base_url,
        "LLM_MODEL": "standin",
        "FALLBACK_TO_LOCAL": "false",
    }


def system_prompt(request: dict) -> str:
    """The instructions of one chat completion request the stand-in received."""
    return " ".join(_text_of(m)["content"] for m in request.get("messages", []) if m.get("role") == "system")


@pytest.fixture
def tool_calling_llm() -> Iterator[StandinLLM]:
    """A stand-in cloud LLM that calls the agent's tools (see the module docstring)."""
    server = StandinLLM().start()
    yield server
    server.stop()


@pytest.fixture
def worker_on_cloud_llm(
    isolated_deployment: Deployment, tool_calling_llm: StandinLLM
) -> Iterator[AgentWorker]:
    """The only worker of the module's own deployment, with the tool-calling stand-in as its LLM."""
    worker = isolated_deployment.worker("cloud-llm", extra_env=worker_env(tool_calling_llm)).start()
    yield worker
    worker.stop()
