"""`python -m pytest_listingeval.fake_openai`: serve the fake until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from pytest_listingeval.fake_openai.answers import Answer, load_answers
from pytest_listingeval.fake_openai.faults import names
from pytest_listingeval.fake_openai.server import FakeOpenAI

_EPILOG = f"""\
The answers file is a JSON object mapping the sha256 of an image's bytes (the decoded data
URL sent in the request) to an answer: a JSON object (sent as the model's JSON text), a
string (sent as is) or {{"fault": NAME}}. The key "default" answers every other request;
without it they get a 400 `fake_no_answer` naming the image hashes.
Fault names: {", ".join(names())}.
"""


def main(argv: Sequence[str] | None = None, default_answer: Answer | None = None, prog: str | None = None) -> int:
    """Serve until interrupted; `default_answer` applies unless the answers file sets one."""
    parser = argparse.ArgumentParser(
        prog=prog or "python -m pytest_listingeval.fake_openai",
        description="A local OpenAI-compatible server: POST /v1/responses and /v1/chat/completions.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every answer")
    parser.add_argument("--answers", type=Path, help="JSON: image sha256 -> answer, plus an optional default")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)
    if args.latency_ms < 0:
        parser.error(f"--latency-ms must be 0 or more, not {args.latency_ms:g}")
    fake = FakeOpenAI(args.host, args.port, args.latency_ms / 1000.0, args.verbose, default_answer)
    if args.answers is not None:
        try:
            table, default = load_answers(args.answers)
        except ValueError as exc:
            parser.error(str(exc))
        fake.answer_images(table)
        if default is not None:
            fake.answer_with(default)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        fake.start()
    except OSError as exc:
        parser.exit(2, f"{parser.prog}: error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}\n")
    with contextlib.suppress(KeyboardInterrupt):
        print(f"fake OpenAI listening on {fake.base_url}", flush=True)
        done.wait()
    fake.stop()
    print(f"served {len(fake.requests)} requests", file=sys.stderr)
    return 0
