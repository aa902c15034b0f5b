"""A local OpenAI-compatible server (`POST /v1/responses`) that can inject faults.

Run in a test through the `fake_openai` fixture, or standalone:

    python -m tests.fakes.server --port 8765 [--latency-ms 300] [--answers answers.json]

`answers.json` maps the sha256 of the image bytes sent in a request (the decoded `data:`
URL, i.e. `extractor.images.PreparedImage.sha256`) to a listing dict, or to
`{"fault": "<name>"}` (refusal, incomplete, invalid_json, schema_invalid, ...). The optional
key `"default"` answers every other image; without it such a request gets a 400
`fake_no_answer` naming the hash.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import hashlib
import json
import signal
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.fakes import faults, shapes
from tests.fakes.faults import Fault

Answer = Mapping[str, Any] | Fault
AnswerFn = Callable[["RecordedRequest"], Answer | None]


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server received: parsed JSON body, lower-cased headers, sent images."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: Mapping[str, Any] | None
    images: tuple[bytes, ...] = ()
    received_at: float = field(default_factory=time.monotonic)

    @property
    def image_sha256(self) -> tuple[str, ...]:
        """sha256 hex of each decoded image, in request order."""
        return tuple(hashlib.sha256(data).hexdigest() for data in self.images)


def images_in(body: Mapping[str, Any] | None) -> tuple[bytes, ...]:
    """The decoded bytes of every `input_image` data URL in a Responses request body."""
    found: list[bytes] = []
    items = body.get("input") if body else None
    for item in items if isinstance(items, list) else []:
        parts = item.get("content") if isinstance(item, dict) else None
        for part in parts if isinstance(parts, list) else []:
            url = part.get("image_url") if isinstance(part, dict) else None
            if isinstance(url, str) and url.startswith("data:") and "," in url:
                try:
                    found.append(base64.b64decode(url.split(",", 1)[1], validate=True))
                except (binascii.Error, ValueError):
                    found.append(b"")
    return tuple(found)


class FakeOpenAI:
    """The server's state: answers, queued faults, latency and the requests received."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, latency_s: float = 0.0, verbose: bool = False) -> None:
        self.latency_s = latency_s
        self.verbose = verbose
        self.default_answer: Answer | None = shapes.DEFAULT_LISTING
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
        """The default answer (a listing dict, or a Fault); None makes unknown images a 400."""
        self.default_answer = answer

    def answer_image(self, sha256: str, answer: Answer) -> None:
        """Answer requests whose image bytes hash to `sha256` with this listing or fault."""
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
        """Forget requests, faults and per-image answers; restore the default listing."""
        with self._lock:
            self._faults.clear()
            self._by_image.clear()
            self._requests.clear()
        self._answer_fn = None
        self.default_answer = shapes.DEFAULT_LISTING

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
            self._send_error(404, f"Invalid URL (GET {self.path})", "invalid_request_error", None)

    def do_POST(self) -> None:
        fake = self.server.fake
        started = time.monotonic()
        raw_body = self.rfile.read(int(self.headers.get("content-length") or 0))
        try:
            body = json.loads(raw_body) if raw_body else None
        except ValueError:
            body = None
        headers = {k.lower(): v for k, v in self.headers.items()}
        request = RecordedRequest("POST", self.path, headers, body, images_in(body))
        known_path = self.path.split("?")[0].rstrip("/") == "/v1/responses"
        fault = fake._record(request, take_fault=known_path)
        if not known_path:
            self._send_error(404, f"Invalid URL (POST {self.path})", "invalid_request_error", None)
            return
        if not headers.get("authorization", "").startswith("Bearer "):
            self._send_error(401, "Missing bearer authentication.", "invalid_request_error", None)
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
        self._answer(body or {}, request, answer, started)

    def _answer(self, body: dict[str, Any], request: RecordedRequest, answer: Answer | None, started: float) -> None:
        if answer is None:
            shas = ", ".join(request.image_sha256) or "no image"
            self._send_error(
                400,
                f"fake server has no answer for {shas}",
                "invalid_request_error",
                "fake_no_answer",
            )
            return
        if not isinstance(answer, Fault):
            text = json.dumps(dict(answer), ensure_ascii=False)
            self._send_json(200, shapes.response_body(body, [shapes.output_text(text)]), started)
            return
        if answer.kind == "http_error":
            self._send_error(
                answer.status,
                answer.message,
                answer.type,
                answer.code,
                answer.param,
                answer.headers,
                started,
            )
        elif answer.kind == "raw":
            headers = {"content-type": "application/json", **answer.headers}
            self._send(answer.status, answer.body, headers)
        elif answer.kind == "drop":
            self._drop()
        else:
            self._send_json(200, _bad_output(body, answer), started)

    # -- low-level writing -----------------------------------------------------------------

    def _send_json(self, status: int, payload: Mapping[str, Any], started: float) -> None:
        data = json.dumps(payload, indent=2, ensure_ascii=False).encode()
        self._send(status, data, shapes.base_headers(shapes.request_id(), _ms_since(started)))

    def _send_error(
        self,
        status: int,
        message: str,
        type_: str | None,
        code: str | None,
        param: str | None = None,
        extra: Mapping[str, str] | None = None,
        started: float | None = None,
    ) -> None:
        rid = shapes.request_id()
        headers = shapes.base_headers(rid, _ms_since(started) if started else 1)
        if status >= 500:
            message = f"{message} (Please include the request ID {rid} in your message.)"
        headers.update(extra or {})
        self._send(status, shapes.error_body(message, type_ or "error", code, param), headers)

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


def unreachable_base_url() -> str:
    """An OpenAI-style base URL on 127.0.0.1 where nothing listens: every connection is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    return f"http://127.0.0.1:{port}/v1"


def _ms_since(started: float) -> int:
    return max(1, round((time.monotonic() - started) * 1000))


_SCHEMA_BREAKERS: tuple[tuple[str, Any], ...] = (("category", "spaceship"), ("condition", None))


def _bad_output(body: dict[str, Any], fault: Fault) -> dict[str, Any]:
    """The response body for a content-level fault (refusal, incomplete, bad JSON)."""
    if fault.kind == "refusal":
        return shapes.response_body(body, [shapes.refusal(fault.message)])
    if fault.kind == "incomplete":
        full = json.dumps(shapes.DEFAULT_LISTING)
        limit = int(body.get("max_output_tokens") or 16)
        return shapes.response_body(
            body,
            [shapes.output_text(full[: len(full) // 2])],
            status="incomplete",
            incomplete_reason=fault.code or "max_output_tokens",
            output_tokens=limit,
        )
    if fault.kind == "invalid_json":
        return shapes.response_body(body, [shapes.output_text(fault.message)])
    broken = dict(shapes.DEFAULT_LISTING)
    for key, value in _SCHEMA_BREAKERS:
        broken[key] = value
    return shapes.response_body(body, [shapes.output_text(json.dumps(broken))])


def load_answers(path: Path) -> tuple[dict[str, Answer], Answer | None]:
    """Read answers.json: ({sha256: listing or fault}, default or None)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object of sha256 -> listing")

    def one(value: Any) -> Answer:
        if isinstance(value, dict) and set(value) == {"fault"}:
            return faults.by_name(str(value["fault"]))
        if not isinstance(value, dict):
            raise ValueError(f"{path}: every answer must be a listing object or {{'fault': name}}")
        return value

    default = data.pop("default", None)
    return {sha: one(v) for sha, v in data.items()}, (one(default) if default else None)


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until interrupted (Ctrl-C or SIGTERM)."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.fakes.server",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every answer")
    parser.add_argument("--answers", type=Path, help="JSON: image sha256 -> listing, + default")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)
    fake = FakeOpenAI(args.host, args.port, args.latency_ms / 1000.0, args.verbose)
    if args.answers is not None:
        table, default = load_answers(args.answers)
        fake.answer_images(table)
        fake.answer_with(default)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    with fake:
        print(f"fake OpenAI listening on {fake.base_url}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            done.wait()
    print(f"served {len(fake.requests)} requests", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
