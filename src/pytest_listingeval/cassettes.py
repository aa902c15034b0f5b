"""Per-case cassettes: paths, body canonicalisation, header hygiene (docs/contracts.md, "Cassettes").

The hygiene here knows HTTP, JSON and base64 `data:` URLs, nothing of one provider's API: what
is specific to a provider (headers worth keeping, echoed payloads to shrink) comes from the
`pytest_listingeval_cassette_filters` hook as `CassetteFilters`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import vcr
from vcr.cassette import Cassette
from vcr.errors import CannotOverwriteExistingCassetteException, UnhandledHTTPRequestError
from vcr.patch import CassettePatcherBuilder

from pytest_listingeval.cassette_filters import NO_FILTERS, CassetteFilters

RECORD_MODES = ("none", "once", "new_episodes", "all", "rewrite")
# Never stored, whatever a filter keeps. Every other request header is dropped too (only
# KEEP_REQUEST_HEADERS are stored), and response headers are kept only when listed.
SECRET_HEADERS = (
    "authorization",
    "proxy-authorization",
    "api-key",
    "x-api-key",
    "cookie",
    "set-cookie",
)
KEEP_REQUEST_HEADERS = frozenset({"content-type"})
KEEP_RESPONSE_HEADERS = frozenset({"content-type", "x-request-id", "retry-after", "retry-after-ms"})
KEEP_RESPONSE_HEADER_PREFIXES = ("x-ratelimit-",)
_DATA_URL = re.compile(r"data:(?P<mime>[\w.+-]+/[\w.+-]+);base64,(?P<payload>[A-Za-z0-9+/=\s]+)")
_UNSAFE_PATH_CHARS = re.compile(r"[^A-Za-z0-9._-]+")

# Both mean "this cassette has no answer for this request" (vcrpy raises either, by code path).
NoRecordedAnswer = (CannotOverwriteExistingCassetteException, UnhandledHTTPRequestError)
# Cassette metadata of a recording in which the task made no request: without it, a cassette
# with no interactions is what an interrupted or failed recording left, so it counts as missing.
NO_REQUESTS_KEY = "listingeval_no_requests"
# Arguments of vcrpy's merged config that configure the context manager, not the cassette.
_NOT_CASSETTE_ARGUMENTS = ("path_transformer", "func_path_generator", "record_on_exception")

__all__ = [
    "NO_FILTERS",
    "NO_REQUESTS_KEY",
    "CassetteFilters",
    "CassetteUse",
    "Cassettes",
    "CountingCassette",
    "NoRecordedAnswer",
    "cassette_path",
    "use_cassette",
]


def cassette_path(root: Path, model: str, prompt_id: str, case_id: str, repeat: int = 0) -> Path:
    """`<root>/eval/<model>/<prompt-id>/<case-id>.yaml` (repeat k > 0: `<case-id>.repeat-<k+1>.yaml`)."""
    model_part = _UNSAFE_PATH_CHARS.sub("_", model)
    suffix = f".repeat-{repeat + 1}.yaml" if repeat else ".yaml"
    return root / "eval" / model_part / prompt_id / f"{case_id}{suffix}"


def _hash_data_url(match: re.Match[str]) -> str:
    payload = re.sub(r"\s+", "", match.group("payload"))
    try:
        raw = base64.b64decode(payload, validate=True)
    except binascii.Error:
        raw = payload.encode()
    return f"sha256:{hashlib.sha256(raw).hexdigest()}"


def _hash_images(value: Any) -> Any:
    if isinstance(value, str):
        return _DATA_URL.sub(_hash_data_url, value)
    if isinstance(value, list):
        return [_hash_images(item) for item in value]
    if isinstance(value, dict):
        return {key: _hash_images(item) for key, item in value.items()}
    return value


def canonical_body(body: bytes | str | None) -> bytes | str | None:
    """JSON bodies re-serialised with sorted keys and every base64 image replaced by its hash."""
    if not body:
        return body
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    try:
        data = json.loads(text)
    except ValueError:
        return _DATA_URL.sub(_hash_data_url, text)
    return json.dumps(_hash_images(data), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def stored_body(body: bytes | str | None, filters: CassetteFilters = NO_FILTERS) -> bytes | str | None:
    """A request body as stored and matched: canonical JSON, images replaced by hashes, then `filters`."""
    canonical = canonical_body(body)
    if filters.request_body is None or not isinstance(canonical, str) or not canonical.startswith("{"):
        return canonical
    data = filters.request_body(json.loads(canonical))
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# Query parameters that carry credentials in some OpenAI-compatible gateways.
SECRET_QUERY_KEYS = frozenset(
    {"key", "api-key", "api_key", "apikey", "token", "access_token", "auth", "password", "secret", "sig", "signature"}
)


# Gateways name their credentials freely (x-api-key, subscription-key, access-token, client_secret):
# any name holding one of these words is treated as a credential. The query is not matched on, so
# redacting a harmless parameter costs nothing.
_SECRET_QUERY_WORDS = re.compile(r"(?i)key|token|secret|passw|sig|auth|credential")


def is_secret_query_name(name: str) -> bool:
    """Whether a query parameter's name says its value is a credential."""
    return name.lower() in SECRET_QUERY_KEYS or _SECRET_QUERY_WORDS.search(name) is not None


def safe_uri(uri: str) -> str:
    """The URI without userinfo (`user:pass@`) and with credential-looking query values redacted."""
    parts = urlsplit(uri)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port is not None else host
    if not parts.netloc:
        netloc = ""
    query = urlencode(
        [
            (name, "REDACTED" if is_secret_query_name(name) else value)
            for name, value in parse_qsl(parts.query, keep_blank_values=True)
        ]
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


class Hygiene:
    """vcrpy's callbacks for one set of filters: what is stored of a request and a response, and matching."""

    def __init__(self, filters: CassetteFilters = NO_FILTERS) -> None:
        self.filters = filters
        self.keep_response_headers = KEEP_RESPONSE_HEADERS | {h.lower() for h in filters.keep_response_headers}

    def scrub_request(self, request: Any) -> Any:
        """The request as stored: no credentials in the URI, canonical body, only harmless headers."""
        request.uri = safe_uri(request.uri)
        request.body = stored_body(request.body, self.filters)
        for name in list(request.headers):
            if name.lower() not in KEEP_REQUEST_HEADERS:
                del request.headers[name]
        return request

    def scrub_response(self, response: dict[str, Any]) -> dict[str, Any]:
        """The response as stored: listed headers only, the body through the response filter."""
        headers = response.get("headers", {})
        for name in list(headers):
            lowered = name.lower()
            kept = lowered in self.keep_response_headers or lowered.startswith(KEEP_RESPONSE_HEADER_PREFIXES)
            if lowered in SECRET_HEADERS or not kept:
                del headers[name]
        body = response.get("body", {})
        raw = body.get("string")
        if raw and self.filters.response_body is not None:
            try:
                data = json.loads(raw)
            except ValueError:
                return response
            compact = json.dumps(self.filters.response_body(data), separators=(",", ":"), ensure_ascii=False)
            body["string"] = compact.encode() if isinstance(raw, bytes) else compact
        return response

    def bodies_match(self, first: Any, second: Any) -> None:
        """vcrpy matcher: the two requests' bodies are the same once stored."""
        if stored_body(first.body, self.filters) != stored_body(second.body, self.filters):
            raise AssertionError("request bodies differ")


def make_vcr(record_mode: str, filters: CassetteFilters = NO_FILTERS) -> vcr.VCR:
    """A VCR with our hygiene and matching; `rewrite` is handled by deleting the file first."""
    hygiene = Hygiene(filters)
    recorder = vcr.VCR(
        record_mode="new_episodes" if record_mode == "rewrite" else record_mode,
        filter_headers=list(SECRET_HEADERS),
        before_record_request=hygiene.scrub_request,
        before_record_response=hygiene.scrub_response,
        decode_compressed_response=True,
        match_on=("method", "path", "canonical_body"),
    )
    recorder.register_matcher("canonical_body", hygiene.bodies_match)
    return recorder


class CountingCassette:
    """A vcrpy cassette that also counts the requests it let through to the server and the answers recorded.

    vcrpy's HTTP stubs ask `can_play_response_for` about every request; one the cassette cannot
    play and may record goes to the server, and the response, if one comes back, is handed to
    `append`. A request sent but never appended got no answer: refused, unresolved, timed out.
    """

    def __init__(self, cassette: Any) -> None:
        self.cassette = cassette
        self._lock = threading.Lock()
        self._live: list[Any] = []
        self._answered = 0

    def can_play_response_for(self, request: Any) -> bool:
        """The cassette's answer; a request it cannot play and may record is counted as sent."""
        playable = bool(self.cassette.can_play_response_for(request))
        if not playable and not self.cassette.write_protected and self.cassette.filter_request(request):
            with self._lock:
                # http.client's stub asks twice about one request (on connect, on getresponse).
                if not any(seen is request for seen in self._live):
                    self._live.append(request)
        return playable

    def append(self, request: Any, response: Any) -> None:
        """Record the server's answer to a request sent live."""
        with self._lock:
            self._answered += 1
        self.cassette.append(request, response)

    @property
    def sent(self) -> int:
        """Requests sent to the server."""
        return len(self._live)

    @property
    def answered(self) -> int:
        """Responses the server gave."""
        return self._answered

    @property
    def unanswered(self) -> int:
        """Requests sent that got no response."""
        return max(0, self.sent - self._answered)

    def __len__(self) -> int:
        return len(self.cassette)

    def __contains__(self, request: Any) -> bool:
        return request in self.cassette

    def __getattr__(self, name: str) -> Any:
        return getattr(self.cassette, name)


def _marked(cassette: Any) -> bool:
    # vcrpy has no public read of its metadata that leaves a recording cassette unchanged.
    return bool(getattr(cassette, "_metadata", {}).get(NO_REQUESTS_KEY))


def _replayable(cassette: Any) -> bool:
    """It holds interactions, or says the task makes no request; anything else is no recording at all."""
    return len(cassette) > 0 or _marked(cassette)


class CassetteUse:
    """A case's cassette while its task runs: what it can replay, what went out live, whether to keep it."""

    def __init__(self, counter: CountingCassette, existed: bool) -> None:
        self.counter = counter
        self.existed = existed
        self.replayable = _replayable(counter.cassette)
        self.discarded = False

    @property
    def sent(self) -> int:
        """Requests sent to the server."""
        return self.counter.sent

    @property
    def answered(self) -> int:
        """Responses the server gave."""
        return self.counter.answered

    @property
    def unanswered(self) -> int:
        """Requests sent that got no response."""
        return self.counter.unanswered

    def discard(self) -> None:
        """Keep nothing of this recording: the cassette is not saved, and a new file is removed."""
        self.discarded = True


class CassetteRouter:
    """Stands in for the cassette in vcrpy's patch and forwards to the one bound now.

    A case run on its own binds its cassette for every thread (threads its task starts too);
    cases run in threads each bind their own.
    """

    def __init__(self, fallback: Any) -> None:
        self._local = threading.local()
        self._shared: Any = None
        self._fallback = fallback

    def bind(self, cassette: Any, per_thread: bool) -> None:
        """Make `cassette` the one HTTP calls use (None: back to the fallback, which answers nothing)."""
        if per_thread:
            self._local.cassette = cassette
        else:
            self._shared = cassette

    def current(self) -> Any:
        """The cassette of the calling thread, else the shared one, else the fallback."""
        cassette = getattr(self._local, "cassette", None)
        if cassette is None:
            cassette = self._shared
        return cassette if cassette is not None else self._fallback

    def __len__(self) -> int:
        return len(self.current())

    def __contains__(self, request: Any) -> bool:
        return request in self.current()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.current(), name)


class Cassettes:
    """One vcrpy patch whose router hands each HTTP call to the cassette of the case that made it."""

    def __init__(self, record_mode: str, per_thread: bool = False, filters: CassetteFilters = NO_FILTERS) -> None:
        self.record_mode = record_mode
        self._per_thread = per_thread
        self._recorder = make_vcr(record_mode, filters)
        self._router = CassetteRouter(self._cassette(None))

    def _cassette(self, path: Path | None) -> Any:
        config = self._recorder.get_merged_config(path=str(path) if path else "<no cassette>")
        for key in _NOT_CASSETTE_ARGUMENTS:
            config.pop(key, None)
        if path is None:
            config["record_mode"] = "none"
            return Cassette(**config)  # never loaded or saved: answers nothing
        return Cassette.load(**config)

    @contextmanager
    def patched(self) -> Iterator[None]:
        """Keep vcrpy's patches in place while the block runs."""
        with ExitStack() as stack:
            for patcher in CassettePatcherBuilder(self._router).build():
                stack.enter_context(patcher)
            yield

    def _open(self, path: Path, record_mode: str) -> Any:
        if record_mode == "rewrite":
            path.unlink(missing_ok=True)
        cassette = self._cassette(path)
        if record_mode != "none":
            if not _replayable(cassette) and path.exists():
                # What a failed recording left: record it as if absent, which `once` would refuse.
                path.unlink()
                cassette = self._cassette(path)
            path.parent.mkdir(parents=True, exist_ok=True)
        return cassette

    @contextmanager
    def use(self, path: Path, record_mode: str) -> Iterator[CassetteUse]:
        """HTTP of the block (this thread's, or every thread's when run alone) recorded to or replayed from `path`."""
        cassette = self._open(path, record_mode)
        tape = CassetteUse(CountingCassette(cassette), existed=path.exists())
        self._router.bind(tape.counter, self._per_thread)
        finished = False
        try:
            yield tape
            finished = True
        finally:
            self._router.bind(None, self._per_thread)
            _close(path, record_mode, tape, finished)


def _close(path: Path, record_mode: str, tape: CassetteUse, finished: bool) -> None:
    """Save what was recorded; mark a request-free run so it replays; leave nothing after a discard."""
    cassette = tape.counter.cassette
    if tape.discarded:
        if not tape.existed:
            path.unlink(missing_ok=True)
        return
    if len(cassette) and _marked(cassette):
        del cassette._metadata[NO_REQUESTS_KEY]  # it has requests now
    cassette._save()
    if finished and record_mode != "none" and tape.sent == 0 and not path.exists():
        cassette.get_metadata(NO_REQUESTS_KEY, True)
        cassette._save()


@contextmanager
def use_cassette(path: Path, record_mode: str, filters: CassetteFilters = NO_FILTERS) -> Iterator[CassetteUse]:
    """Run the block with HTTP recorded to or replayed from `path`."""
    cassettes = Cassettes(record_mode, filters=filters)
    with cassettes.patched(), cassettes.use(path, record_mode) as tape:
        yield tape
