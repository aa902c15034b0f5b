"""A local OpenAI-compatible server (Responses and Chat Completions) that can inject faults.

In a test, use the `fake_openai` / `fake_openai_env` fixtures; standalone, run
`python -m pytest_listingeval.fake_openai --help`. Every request gets, in this order: the
next queued fault; else what the `answer_using` function returns (when not None); else the
answer for the first image whose sha256 has one; else the default answer; else a 400
`fake_no_answer` naming the image hashes.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from pytest_listingeval.fake_openai import chat_api, responses_api
from pytest_listingeval.fake_openai.answers import Answer, AnswerFn, answer_text
from pytest_listingeval.fake_openai.bad_output import fault_output
from pytest_listingeval.fake_openai.faults import Fault
from pytest_listingeval.fake_openai.recorded import Endpoint, RecordedRequest
from pytest_listingeval.fake_openai.shapes import ApiError, EndpointShapes, Output, base_headers, error_body, request_id

ENDPOINTS: Mapping[Endpoint, EndpointShapes] = {
    "responses": responses_api.SHAPES,
    "chat.completions": chat_api.SHAPES,
}


class FakeOpenAI:
    """The server's state: answers, queued faults, latency and the requests received."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        latency_s: float = 0.0,
        verbose: bool = False,
        default_answer: Answer | None = None,
    ) -> None:
        self.latency_s = latency_s
        self.verbose = verbose
        self.default_answer = default_answer
        self._initial_default = default_answer
        self._host, self._port = host, port
        self._lock = threading.Lock()
        self._faults: deque[Fault] = deque()
        self._by_image: dict[str, Answer] = {}
        self._answer_fn: AnswerFn | None = None
        self._requests: list[RecordedRequest] = []
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> FakeOpenAI:
        """Bind (a free port when `port` is 0) and serve from a background thread."""
        self._httpd = _HTTPServer((self._host, self._port), _Handler, self)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; stalled requests are released at once."""
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port."""
        assert self._httpd is not None, "server not started"
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """What to put in OPENAI_BASE_URL, e.g. `http://127.0.0.1:PORT/v1`."""
        return f"http://{self._host}:{self.port}/v1"

    # -- programming -----------------------------------------------------------------------

    def answer_with(self, answer: Answer | None) -> None:
        """The default answer (an object, a text or a Fault); None makes unanswered requests a 400."""
        self.default_answer = answer

    def answer_image(self, sha256: str, answer: Answer) -> None:
        """Answer requests whose image bytes hash to `sha256` with this answer or fault."""
        with self._lock:
            self._by_image[sha256] = answer

    def answer_images(self, answers: Mapping[str, Answer]) -> None:
        """Several `answer_image` calls at once."""
        with self._lock:
            self._by_image.update(answers)

    def answer_using(self, fn: AnswerFn | None) -> None:
        """Decide the answer per request; return None from `fn` to fall through to the table."""
        self._answer_fn = fn

    def enqueue(self, *queued: Fault) -> None:
        """Queue faults; each request takes the next one before any normal answer."""
        with self._lock:
            self._faults.extend(queued)

    @property
    def pending_faults(self) -> int:
        """Faults queued but not yet served."""
        with self._lock:
            return len(self._faults)

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of the requests received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def reset(self) -> None:
        """Forget requests, faults, per-image answers and the answer function; restore the default."""
        with self._lock:
            self._faults.clear()
            self._by_image.clear()
            self._requests.clear()
        self._answer_fn = None
        self.default_answer = self._initial_default

    # -- serving (called from handler threads) ---------------------------------------------

    def _record(self, request: RecordedRequest, take_fault: bool) -> Fault | None:
        with self._lock:
            self._requests.append(request)
            return self._faults.popleft() if take_fault and self._faults else None

    def _choose(self, request: RecordedRequest) -> Answer | None:
        if self._answer_fn is not None and (chosen := self._answer_fn(request)) is not None:
            return chosen
        with self._lock:
            for sha in request.image_sha256:
                if sha in self._by_image:
                    return self._by_image[sha]
        return self.default_answer

    def _sleep(self, seconds: float) -> bool:
        """Wait, unless the server stops first; True when the wait ran its course."""
        return seconds <= 0 or not self._stopping.wait(seconds)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 512  # benchmarks open many connections at once

    def __init__(self, address: tuple[str, int], handler: type[_Handler], fake: FakeOpenAI):
        self.fake = fake
        super().__init__(address, handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's connection pool expects
    server_version = "fake-openai"
    timeout = 120  # reap idle keep-alive connections
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.fake.verbose:
            super().log_message(format, *args)

    def do_GET(self) -> None:
        if self.path.rstrip("/") in ("/healthz", "/v1/healthz"):
            self._send(200, b'{"ok": true}', {"content-type": "application/json"})
        else:
            self._send_error(_invalid_url("GET", self.path))

    def do_POST(self) -> None:
        fake = self.server.fake
        started = time.monotonic()
        raw_body = self.rfile.read(int(self.headers.get("content-length") or 0))
        try:
            body = json.loads(raw_body) if raw_body else None
        except ValueError:
            body = None
        headers = {k.lower(): v for k, v in self.headers.items()}
        request = RecordedRequest.parse("POST", self.path, headers, body if isinstance(body, dict) else None)
        route = _route(request)
        # A rejected request leaves the queued faults for the next one that gets answered.
        fault = fake._record(request, take_fault=isinstance(route, EndpointShapes))
        if isinstance(route, ApiError):
            self._send_error(route)
            return
        if fault is not None and fault.kind == "drop":
            self._drop()
            return
        if fault is not None and fault.kind == "stall" and not fake._sleep(fault.delay_s):
            self._drop()
            return
        if not fake._sleep(fake.latency_s):
            self._drop()
            return
        answer: Answer | None = fault if fault is not None and fault.kind != "stall" else None
        if answer is None:
            answer = fake._choose(request)
        if isinstance(answer, Fault) and answer.kind == "stall":
            # A stall chosen as an answer (not queued) has no "normal answer" of its own to follow.
            if not fake._sleep(answer.delay_s):
                self._drop()
                return
            answer = fake.default_answer
        self._answer(route, request, answer, started)

    def _answer(self, shapes: EndpointShapes, request: RecordedRequest, answer: Answer | None, started: float) -> None:
        if answer is None:
            shas = ", ".join(request.image_sha256) or "no image"
            message = f"fake server has no answer for {shas}"
            self._send_error(ApiError(400, message, "invalid_request_error", "fake_no_answer"), started=started)
        elif not isinstance(answer, Fault):
            self._send_json(shapes.body(request, Output(answer_text(answer))), started)
        elif answer.kind == "http_error":
            error = ApiError(answer.status, answer.message, answer.type or "error", answer.code, answer.param)
            self._send_error(error, answer.headers, started)
        elif answer.kind == "model_not_found":
            self._send_error(shapes.model_not_found(request), started=started)
        elif answer.kind == "raw":
            self._send(answer.status, answer.body, {"content-type": "application/json", **answer.headers})
        elif answer.kind in ("drop", "stall"):
            self._drop()
        else:
            # Cutting short or breaking the schema starts from what the request would otherwise get.
            normal = self.server.fake._choose(request) if answer.kind in ("incomplete", "schema_invalid") else None
            output = fault_output(answer, request, normal, shapes.token_budget(request))
            self._send_json(shapes.body(request, output), started)

    # -- low-level writing -----------------------------------------------------------------

    def _send_json(self, payload: Mapping[str, Any], started: float) -> None:
        data = json.dumps(payload, indent=2, ensure_ascii=False).encode()
        self._send(200, data, base_headers(request_id(), _ms_since(started)))

    def _send_error(
        self, error: ApiError, extra: Mapping[str, str] | None = None, started: float | None = None
    ) -> None:
        rid = request_id()
        headers = base_headers(rid, _ms_since(started) if started else 1)
        if error.status >= 500:
            error = ApiError(
                error.status,
                f"{error.message} (Please include the request ID {rid} in your email.)",
                error.type,
                error.code,
                error.param,
            )
        headers.update(extra or {})
        self._send(error.status, error_body(error), headers)

    def _send(self, status: int, data: bytes, headers: Mapping[str, str]) -> None:
        try:
            self.send_response(status)
            for name, value in headers.items():
                if name.lower() not in ("content-length", "content-encoding", "transfer-encoding"):
                    self.send_header(name, value)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


def _route(request: RecordedRequest) -> EndpointShapes | ApiError:
    """The endpoint that answers the request, or the error for an unknown path, no bearer token or streaming."""
    if request.endpoint is None:
        return _invalid_url(request.method, request.path)
    if not request.headers.get("authorization", "").startswith("Bearer "):
        return ApiError(401, "Missing bearer authentication.", "invalid_request_error", None)
    if request.body is not None and request.body.get("stream") is True:
        message = "the fake OpenAI server does not stream; call it without stream=True"
        return ApiError(400, message, "invalid_request_error", "fake_no_streaming", "stream")
    return ENDPOINTS[request.endpoint]


def _invalid_url(method: str, path: str) -> ApiError:
    return ApiError(404, f"Invalid URL ({method} {path})", "invalid_request_error", None)


def unreachable_base_url() -> str:
    """An OpenAI-style base URL on 127.0.0.1 where nothing listens: every connection is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    return f"http://127.0.0.1:{port}/v1"


def _ms_since(started: float) -> int:
    return max(1, round((time.monotonic() - started) * 1000))
