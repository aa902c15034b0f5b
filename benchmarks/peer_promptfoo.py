"""The peer: promptfoo running the same cases against the same fake server, side by side.

promptfoo is installed outside the repository (never committed):

    mkdir -p /tmp/promptfoo && cd /tmp/promptfoo && npm init -y
    npm install promptfoo@0.118.0 --ignore-scripts && npm rebuild better-sqlite3

(0.118.0 is the newest release that runs on Node 20.) Its `openai:responses:<model>`
provider speaks the Responses API, which the fake server answers, so no shim is needed.
Each test sends the same request body our extractor sends: the same instructions (the
rendered prompt), the same strict JSON schema, `max_output_tokens`, and the same prepared
JPEG as a `data:` URL with the same `detail`. Each test carries one `javascript` assertion
per expected field, translated from the case's checks (normalised equality, any_of,
null, contains_all/any, regex, max_len; `similar_to` becomes normalised equality), so
promptfoo does comparable grading work.

"live" is the first run on an empty cache (every call reaches the server and fills the
cache, like our `--record-mode=rewrite` fills cassettes); "cached" is the same eval again.
Everything promptfoo writes (its SQLite results database and its response cache) goes to a
temporary PROMPTFOO_CONFIG_DIR / PROMPTFOO_CACHE_PATH, whose size is what it stores on disk.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from measure import Measured, run

PARSED = "const o = typeof output === 'string' ? JSON.parse(output) : output;"
NORMALISE = "const n = (s) => String(s ?? '').normalize('NFKC').toLowerCase().trim().replace(/\\s+/g, ' ');"


def _js_check(spec: Any, ref: str) -> str:
    """A JavaScript boolean expression for one check on `ref` (the field's value)."""
    if spec is None:
        return f"({ref} == null || {ref} === '')"
    if isinstance(spec, list):
        return "(" + " && ".join(_js_check(item, ref) for item in spec) + ")"
    if isinstance(spec, dict):
        ((name, arg),) = [(k, v) for k, v in spec.items() if k != "min"]
        if name == "any_of":
            return f"{json.dumps([str(a).casefold() for a in arg])}.includes(n({ref}))"
        if name in ("contains_all", "contains_any"):
            needles = json.dumps([str(a).casefold() for a in arg])
            how = "every" if name == "contains_all" else "some"
            return f"{needles}.{how}((x) => n({ref}).includes(n(x)))"
        if name == "regex":
            return f"new RegExp({json.dumps(arg)}, 'i').test(String({ref} ?? ''))"
        if name == "max_len":
            return f"String({ref} ?? '').length <= {int(arg)}"
        if name == "similar_to":
            return f"n({ref}) === n({json.dumps(arg)})"
        raise ValueError(f"unknown check {name}")
    return f"n({ref}) === n({json.dumps(spec)})"


def assertions(expected: dict[str, Any]) -> list[dict[str, Any]]:
    """One `javascript` assertion per expected field, plus `is-json`."""
    out: list[dict[str, Any]] = [{"type": "is-json"}]
    for field, spec in expected.items():
        # several lines: promptfoo runs a multi-line value as a function body, one line as an expression
        # promptfoo hands over a json_schema answer already parsed; `output` may be an object
        check = _js_check(spec, f"o[{json.dumps(field)}]")
        body = f"{NORMALISE}\n{PARSED}\nreturn {check};"
        out.append({"type": "javascript", "value": body, "metric": field})
    return out


def write_config(
    workdir: Path,
    base_url: str,
    model: str,
    instructions: str,
    schema: dict[str, Any],
    detail: str,
    max_output_tokens: int,
    tests: list[tuple[str, str, dict[str, Any]]],
) -> Path:
    """promptfooconfig.yaml (written as JSON, which YAML reads) for (id, data URL, expected) tests."""
    prompt = json.dumps(
        [{"role": "user", "content": [{"type": "input_image", "image_url": "{{image_url}}", "detail": detail}]}]
    )
    config = {
        "description": "listingeval peer benchmark",
        "prompts": [prompt],
        "providers": [
            {
                "id": f"openai:responses:{model}",
                "config": {
                    "apiBaseUrl": base_url,
                    "apiKey": "fake-key-for-benchmarks",
                    "instructions": instructions,
                    "max_output_tokens": max_output_tokens,
                    # from a file: promptfoo dereferences `$ref`s in the config itself, against the config
                    "response_format": {"type": "json_schema", "name": "Listing", "schema": "file://schema.json"},
                },
            }
        ],
        "tests": [
            {"description": case_id, "vars": {"image_url": url}, "assert": assertions(expected)}
            for case_id, url, expected in tests
        ],
    }
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "schema.json").write_text(json.dumps(schema), encoding="utf-8")
    path = workdir / "promptfooconfig.yaml"
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


def find_promptfoo(explicit: str | None) -> Path | None:
    """promptfoo's CLI entry (dist/src/main.js) from --promptfoo-dir, $PROMPTFOO_DIR or /tmp/promptfoo."""
    for base in (explicit, os.environ.get("PROMPTFOO_DIR"), "/tmp/promptfoo"):
        if base:
            main = Path(base) / "node_modules" / "promptfoo" / "dist" / "src" / "main.js"
            if main.is_file():
                return main
    return None


def dir_bytes(path: Path) -> int:
    """Total bytes of the files under `path`."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def eval_run(main_js: Path, config: Path, state: Path, concurrency: int) -> Measured:
    """`promptfoo eval` with its state isolated under `state`."""
    env = {
        **os.environ,
        "PROMPTFOO_CONFIG_DIR": str(state / "config"),
        "PROMPTFOO_CACHE_PATH": str(state / "cache"),
        "PROMPTFOO_DISABLE_TELEMETRY": "1",
        "PROMPTFOO_DISABLE_UPDATE": "1",
        "PROMPTFOO_DISABLE_SHARING": "1",
        "OPENAI_API_KEY": "fake-key-for-benchmarks",
    }
    cmd = ["node", str(main_js), "eval", "-c", str(config), "-j", str(concurrency), "--no-progress-bar", "--no-table"]
    return run(cmd, config.parent, env)


def fresh_state(state: Path) -> None:
    """Empty promptfoo's database and cache."""
    shutil.rmtree(state, ignore_errors=True)
    (state / "config").mkdir(parents=True)
    (state / "cache").mkdir(parents=True)
