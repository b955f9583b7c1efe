"""The OpenAI-compatible HTTP API of the service, so workers reach it with livekit-plugins-openai.

Routes parse the request, call the service and answer; every failure becomes an OpenAI-style
JSON error (``{"error": {"message", "type"}}``) in :func:`json_errors`, never a stack trace.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from typing import Any

import aiohttp
from aiohttp import web

from agent_worker.inference.espeak import EspeakFailed
from agent_worker.inference.json_values import is_json_array, is_json_object
from agent_worker.inference.llama_server import LlamaServerUnavailable
from agent_worker.inference.service import InferenceService, ServiceNotReady
from agent_worker.inference.speech import OPENAI_PCM_RATE, speech_pcm
from agent_worker.inference.transcription import UnsupportedAudio
from agent_worker.inference.wav import streaming_wav_header

logger = logging.getLogger(__name__)

SERVICE = web.AppKey("service", InferenceService)
MAX_REQUEST_BYTES = 25 * 1024 * 1024
"""OpenAI's limit for an audio upload."""
MAX_SPEECH_CHARACTERS = 4096
"""OpenAI's limit for ``/v1/audio/speech``."""
SPEECH_FORMATS = {"pcm": "audio/pcm", "wav": "audio/wav"}
TRANSCRIPTION_FORMATS = ("json", "text", "verbose_json")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    """A request the service refuses, with the status and OpenAI error type to answer with."""

    def __init__(self, status: int, message: str, error_type: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type


def error_response(status: int, message: str, error_type: str) -> web.Response:
    """An OpenAI-style JSON error."""
    return web.json_response({"error": {"message": message, "type": error_type}}, status=status)


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Map every failure of a route to a JSON error with a fitting status, in one place."""
    if request.content_length is not None and request.content_length > MAX_REQUEST_BYTES:
        return error_response(
            413, f"the request is larger than {MAX_REQUEST_BYTES} bytes", "invalid_request_error"
        )
    try:
        return await handler(request)
    except ApiError as error:
        return error_response(error.status, str(error), error.error_type)
    except UnsupportedAudio as error:
        return error_response(422, f"file must be a 16-bit PCM WAV file: {error}", "invalid_request_error")
    except (ServiceNotReady, LlamaServerUnavailable) as error:
        return error_response(503, str(error), "server_error")
    except web.HTTPException as error:
        if error.status < 400:
            raise
        message = error.text if error.status == 413 else f"{error.reason}: {request.method} {request.path}"
        return error_response(error.status, message or error.reason, "invalid_request_error")
    except Exception as error:
        if request.writer.output_size > 0:
            # the answer had begun: aiohttp closes the connection, so the client sees it cut off
            logger.warning("answer cut off", extra={"path": request.path, "problem": str(error)})
            raise
        if isinstance(error, EspeakFailed):
            logger.error("speech synthesis failed", extra={"problem": str(error)})
            return error_response(500, "speech synthesis failed", "server_error")
        logger.exception("request failed", extra={"path": request.path})
        return error_response(500, "the service failed to answer; see its log", "server_error")


async def health(request: web.Request) -> web.Response:
    """200 with the models and the CPU load once every model answers, else 503 naming what does not."""
    service = request.app[SERVICE]
    load = round(service.load.value, 3)
    problems = service.problems()
    if problems:
        status = "degraded" if service.ready else "starting"
        return web.json_response({"status": status, "problems": problems, "load": load}, status=503)
    slots = service.llama.slots
    return web.json_response(
        {
            "status": "ok",
            "models": service.model_names(),
            "load": load,
            "llm_slots": slots,
            "llm_slots_busy": min(service.llm_requests, slots),
        }
    )


async def list_models(request: web.Request) -> web.Response:
    """The three models, as OpenAI's ``GET /v1/models`` lists models."""
    names = request.app[SERVICE].model_names()
    models = [{"id": name, "object": "model", "created": 0, "owned_by": "local"} for name in names.values()]
    return web.json_response({"object": "list", "data": models})


async def create_transcription(request: web.Request) -> web.Response:
    """``POST /v1/audio/transcriptions``: the words in an uploaded WAV file.

    Any ``model`` name is accepted: there is one speech-to-text model.
    """
    service = request.app[SERVICE]
    form = await request.post()
    upload = form.get("file")
    if not isinstance(upload, web.FileField):
        raise ApiError(400, "file is required: a multipart upload of a WAV file")
    response_format = str(form.get("response_format") or "json")
    if response_format not in TRANSCRIPTION_FORMATS:
        raise ApiError(422, f"response_format must be one of {', '.join(TRANSCRIPTION_FORMATS)}")
    temperature = _number(form.get("temperature") or 0, "temperature", low=0.0, high=1.0)
    language, prompt = form.get("language"), form.get("prompt")
    transcript = await service.transcriber.transcribe(
        upload.file.read(),
        language=language if isinstance(language, str) else None,
        prompt=prompt if isinstance(prompt, str) else None,
        temperature=temperature,
    )
    logger.debug(
        "transcribed",
        extra={"audio_seconds": round(transcript.duration, 2), "seconds": round(transcript.seconds, 3)},
    )
    # OpenAI's header for the time spent on the request, here the model's share of it
    headers = {"openai-processing-ms": str(round(transcript.seconds * 1000))}
    if response_format == "text":
        return web.Response(text=transcript.text, headers=headers)
    body: dict[str, Any] = {"text": transcript.text}
    if response_format == "verbose_json":
        body.update(
            task="transcribe", language=transcript.language, duration=transcript.duration, segments=[]
        )
    return web.json_response(body, headers=headers)


async def create_speech(request: web.Request) -> web.StreamResponse:
    """``POST /v1/audio/speech``: ``input`` spoken by espeak-ng, streamed as it is produced.

    ``pcm`` (the default) is 16-bit mono PCM at 24 kHz, as OpenAI sends it; ``wav`` adds a
    header. OpenAI voice names are ignored (the voice is ``LOCAL_TTS_VOICE``); ``speed`` scales
    the speaking rate.
    """
    service = request.app[SERVICE]
    body = await _json_object(request)
    text = body.get("input")
    if not isinstance(text, str) or not text.strip():
        raise ApiError(400, "input is required: the text to speak")
    if len(text) > MAX_SPEECH_CHARACTERS:
        raise ApiError(400, f"input is longer than {MAX_SPEECH_CHARACTERS} characters")
    response_format = body.get("response_format") or "pcm"
    if response_format not in SPEECH_FORMATS:
        raise ApiError(422, f"response_format {response_format!r} is not offered: use pcm or wav")
    speed = _number(body.get("speed", 1.0), "speed", low=0.25, high=4.0)

    response = web.StreamResponse(headers={"Content-Type": SPEECH_FORMATS[response_format]})
    try:
        async with aclosing(speech_pcm(service.voice, text, speed=speed)) as audio:
            async for chunk in audio:
                if not response.prepared:
                    # sent with the first audio, so a failure before it is still a JSON error
                    await response.prepare(request)
                    if response_format == "wav":
                        await response.write(streaming_wav_header(sample_rate=OPENAI_PCM_RATE))
                await response.write(chunk)
    except ConnectionResetError:
        logger.debug("speech client went away")  # an interrupted reply: espeak-ng was stopped
    return response


async def create_chat_completion(request: web.Request) -> web.StreamResponse:
    """``POST /v1/chat/completions``: passed to llama-server, its answer (SSE or JSON) passed back as it comes.

    Replies are capped at ``LOCAL_LLM_MAX_TOKENS``; a conversation longer than a slot's context
    loses its oldest turns first.
    """
    service = request.app[SERVICE]
    completion = await _json_object(request)
    messages = completion.get("messages")
    if not is_json_array(messages) or not messages or not all(is_json_object(m) for m in messages):
        raise ApiError(400, "messages is required: a list of chat messages")
    body = json.dumps(await service.prepare_completion(completion)).encode()
    url = f"{service.llama.base_url}/v1/chat/completions"
    service.llm_requests += 1
    try:
        try:
            upstream = await service.http.post(url, data=body, headers={"Content-Type": "application/json"})
        except aiohttp.ClientConnectionError as error:
            raise LlamaServerUnavailable("llama-server is restarting") from error
        async with upstream:
            response = web.StreamResponse(
                status=upstream.status,
                headers={"Content-Type": upstream.headers.get("Content-Type", "application/json")},
            )
            try:
                await response.prepare(request)
                async for chunk in upstream.content.iter_any():
                    await response.write(chunk)
            except ConnectionResetError:
                # an interrupted reply: leaving `upstream` closes it, which stops the generation
                logger.debug("chat client went away")
        return response
    finally:
        service.llm_requests -= 1


def create_app(service: InferenceService) -> web.Application:
    """The aiohttp application serving ``service``."""
    app = web.Application(middlewares=[json_errors], client_max_size=MAX_REQUEST_BYTES)
    app[SERVICE] = service
    app.router.add_get("/health", health)
    app.router.add_get("/v1/models", list_models)
    app.router.add_post("/v1/audio/transcriptions", create_transcription)
    app.router.add_post("/v1/audio/speech", create_speech)
    app.router.add_post("/v1/chat/completions", create_chat_completion)
    return app


async def _json_object(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ApiError(400, "the body must be a JSON object") from error
    if not is_json_object(body):
        raise ApiError(400, "the body must be a JSON object")
    return body


def _number(value: Any, name: str, *, low: float, high: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError) as error:
        raise ApiError(400, f"{name} must be a number") from error
    if not low <= number <= high:
        raise ApiError(400, f"{name} must be between {low} and {high}")
    return number
