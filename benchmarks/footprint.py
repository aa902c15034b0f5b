"""Cassette footprint: bytes per eval cassette for a 512 px and a 3000 px photo, against vcrpy defaults.

Records one case per photo through the plugin (`--record-mode=rewrite`, fake server), and the
same call through a plain `vcr.VCR()` (default config: the base64 image stays in the request
body). Then projects the size of the plugin's cassette under each proposed trim by applying
the trim to the recorded cassette and serialising it again with vcrpy's own serializer.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

PLAIN_VCR = """
import sys
from pathlib import Path
import vcr
from extractor.eval import task
image, cassette, model, prompt = sys.argv[1:5]
with vcr.VCR().use_cassette(cassette):
    result = task.run(Path(image), model, prompt)
assert result.error is None, result.error
"""

# Response headers worth keeping: the request id ties a cassette to OpenAI's logs.
KEEP_RESPONSE_HEADERS = ("content-type", "x-request-id", "openai-processing-ms")
# Fields the Responses API echoes back from the request; the SDK does not read them to parse.
ECHOED_FIELDS = ("instructions", "text", "tools", "tool_choice", "reasoning", "top_p", "temperature")


def noise_photo(path: Path, side: int, seed: int) -> Path:
    """A JPEG of random noise (incompressible), `side` x 3/4 `side`."""
    import random

    from PIL import Image

    rng = random.Random(seed)
    height = side * 3 // 4
    # Blocky noise: random 4x4 blocks upscaled, so the JPEG stays large but Pillow is quick.
    small = Image.frombytes("RGB", (side // 4, height // 4), rng.randbytes((side // 4) * (height // 4) * 3))
    small.resize((side, height), Image.Resampling.NEAREST).save(path, format="JPEG", quality=90)
    return path


def plain_vcr_record(image: Path, cassette: Path, model: str, prompt: str, cwd: Path, env: dict[str, str]) -> int:
    """Record the same call with vcrpy's default configuration; its size in bytes."""
    if cassette.exists():
        cassette.unlink()
    subprocess.run(
        [sys.executable, "-c", PLAIN_VCR, str(image), str(cassette), model, prompt],
        cwd=cwd,
        env=env,
        check=True,
        capture_output=True,
    )
    return cassette.stat().st_size


def _dump(data: dict[str, Any]) -> int:
    from vcr.serializers import yamlserializer

    return len(yamlserializer.serialize(data).encode("utf-8"))


def _trim_request_headers(data: dict[str, Any]) -> None:
    for interaction in data["interactions"]:
        interaction["request"]["headers"] = {}


def _trim_response_headers(data: dict[str, Any]) -> None:
    for interaction in data["interactions"]:
        headers = interaction["response"]["headers"]
        for name in list(headers):
            if name.lower() not in KEEP_RESPONSE_HEADERS:
                del headers[name]


def _compact_response_json(data: dict[str, Any], drop_echo: bool) -> None:
    for interaction in data["interactions"]:
        body = interaction["response"]["body"]
        try:
            payload = json.loads(body["string"])
        except (ValueError, TypeError):
            continue
        if drop_echo and isinstance(payload, dict):
            for name in ECHOED_FIELDS:
                payload.pop(name, None)
        body["string"] = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def projections(cassette: Path) -> dict[str, int]:
    """Bytes of the cassette after each cumulative trim (re-serialised with vcrpy's serializer)."""
    from vcr.serializers import yamlserializer

    data = yamlserializer.deserialize(cassette.read_text(encoding="utf-8"))
    steps: dict[str, int] = {"as recorded": cassette.stat().st_size, "re-serialised": _dump(data)}
    _trim_request_headers(data)
    steps["+ no request headers"] = _dump(data)
    _trim_response_headers(data)
    steps["+ response headers: " + ", ".join(KEEP_RESPONSE_HEADERS)] = _dump(data)
    _compact_response_json(data, drop_echo=False)
    steps["+ compact response JSON"] = _dump(data)
    _compact_response_json(data, drop_echo=True)
    steps["+ drop echoed request fields from the response"] = _dump(data)
    return steps


def yaml_load_timings(cassette: Path, repeat: int = 200) -> dict[str, float]:
    """Milliseconds to parse one cassette: vcrpy's loader (C), pure-Python SafeLoader, json."""
    import timeit

    from vcr.serializers import yamlserializer

    text = cassette.read_text(encoding="utf-8")
    as_json = json.dumps(yamlserializer.deserialize(text))
    runs = {
        "vcrpy yamlserializer (libyaml CSafeLoader)": lambda: yamlserializer.deserialize(text),
        "yaml.SafeLoader (pure Python)": lambda: yaml.load(io.StringIO(text), Loader=yaml.SafeLoader),
        "json.loads (same data as JSON)": lambda: json.loads(as_json),
    }
    return {
        name: round(min(timeit.repeat(fn, number=repeat // 10, repeat=5)) / (repeat // 10) * 1000, 3)
        for name, fn in runs.items()
    }


def with_libyaml() -> bool:
    """Whether PyYAML was built with libyaml (vcrpy then uses CSafeLoader / CDumper)."""
    return bool(getattr(yaml, "__with_libyaml__", False))


def env_with(base_url: str, src: Path) -> dict[str, str]:
    """Environment for a recording subprocess."""
    return {
        **os.environ,
        "PYTHONPATH": str(src),
        "OPENAI_BASE_URL": base_url,
        "OPENAI_API_KEY": "fake-key-for-benchmarks",
    }
