"""Record the SIMULATED demo cassettes: serve scripts/demo_answers.yaml through the fake server.

The shipped eval cassettes cannot come from OpenAI here (no network, no key). This script
starts the local fake OpenAI-compatible server (pytest_listingeval.fake_openai), answers each case's image
with the hand-written answer in scripts/demo_answers.yaml, records every case through the
real extractor and pytest plugin, and rewrites reports/baseline.json from the result.

    python scripts/record_demo_cassettes.py [--model M] [--prompt P] [--no-baseline]

To record real answers instead, point the same plugin at the API:

    OPENAI_API_KEY=sk-... pytest -m eval --record-mode=rewrite
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from extractor.images import prepare_image  # noqa: E402
from extractor.settings import load_settings  # noqa: E402
from pytest_listingeval.fake_openai import FakeOpenAI  # noqa: E402
from pytest_listingeval.fake_openai.faults import by_name  # noqa: E402

# Not a real key: the fake server ignores it, and cassettes never store it.
_FAKE_KEY = "fake-key-for-simulated-recording"


def answers_by_image(cases_dir: Path, answers: dict[str, Any]) -> dict[str, Any]:
    """Map the sha256 of each case's prepared image to its simulated answer."""
    settings = load_settings(ROOT)
    table: dict[str, Any] = {}
    for case_file in sorted(cases_dir.rglob("*.yaml")):
        case_id = case_file.relative_to(cases_dir).with_suffix("").as_posix()
        if case_id not in answers:
            raise SystemExit(f"no simulated answer for case {case_id} in scripts/demo_answers.yaml")
        spec = yaml.safe_load(case_file.read_text(encoding="utf-8"))
        image = prepare_image((case_file.parent / spec["image"]).read_bytes(), max_side=settings.max_side)
        answer = answers[case_id]
        table[image.sha256] = by_name(answer["fault"]) if "fault" in answer else answer
    return table


def main() -> int:
    """Serve the answers, record every case, then rewrite the baseline."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="model name to record under (default: pyproject)")
    parser.add_argument("--prompt", help="prompt name to record under (default: pyproject)")
    parser.add_argument("--no-baseline", action="store_true", help="do not rewrite reports/baseline.json")
    args = parser.parse_args()
    answers = yaml.safe_load((ROOT / "scripts" / "demo_answers.yaml").read_text(encoding="utf-8"))
    table = answers_by_image(ROOT / "cases", answers)
    extra = [f"--eval-model={args.model}"] if args.model else []
    extra += [f"--eval-prompt={args.prompt}"] if args.prompt else []
    with FakeOpenAI() as fake:
        fake.answer_images(table)
        fake.answer_with(None)
        env = {**os.environ, "OPENAI_BASE_URL": fake.base_url, "OPENAI_API_KEY": _FAKE_KEY}
        record = [
            sys.executable,
            "-m",
            "pytest",
            "-m",
            "eval",
            "--record-mode=rewrite",
            "-q",
            "-p",
            "no:randomly",
            "--eval-no-run-record",
            *extra,
        ]
        print("recording:", " ".join(record[2:]), flush=True)
        code = subprocess.call(record, cwd=ROOT, env=env)
    # The demo set holds deliberate mistakes; a critical miss there makes the run fail,
    # which is not a recording failure. Harness errors (exit 1 with 'HARNESS ERROR') are.
    if code not in (0, 1):
        return code
    if args.no_baseline:
        return 0
    update = [
        sys.executable,
        "-m",
        "pytest",
        "-m",
        "eval",
        "--update-baseline",
        "-q",
        "-p",
        "no:randomly",
        "--eval-no-run-record",
        *extra,
    ]
    print("baseline:", " ".join(update[2:]), flush=True)
    return subprocess.call(update, cwd=ROOT, env={k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"})


if __name__ == "__main__":
    raise SystemExit(main())
