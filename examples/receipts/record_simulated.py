"""Record this example's cassettes against the local fake OpenAI server (a simulated model).

There is no real model here: `simulated_answers.json` holds what the "model" answers for each
receipt, three of them with deliberate mistakes (a date read month-first, a line total taken
for a unit price, a service charge missed), so the baseline is realistic rather than perfect.
With a real key, record against the real API instead: `OPENAI_API_KEY=... pytest -m eval
--record-mode=rewrite`.

    python record_simulated.py            # re-record every cassette, then rewrite baseline.json
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from pytest_listingeval.fake_openai import FakeOpenAI, RecordedRequest

HERE = Path(__file__).resolve().parent


def main() -> int:
    """Serve the simulated answers, record every case, then write the baseline."""
    answers = json.loads((HERE / "simulated_answers.json").read_text(encoding="utf-8"))
    first_lines = {
        name: (HERE / "cases" / "texts" / f"{name}.txt").read_text(encoding="utf-8").splitlines()[0] for name in answers
    }

    def answer(request: RecordedRequest) -> dict[str, object] | None:
        text = request.text
        return next((answers[name] for name, line in first_lines.items() if line in text), None)

    with FakeOpenAI() as fake:
        fake.answer_using(answer)
        env = {**os.environ, "OPENAI_BASE_URL": fake.base_url, "OPENAI_API_KEY": "fake-key-not-real"}
        for args in (["--record-mode=rewrite"], ["--update-baseline"]):
            done = subprocess.run([sys.executable, "-m", "pytest", "-m", "eval", *args], cwd=HERE, env=env, check=False)
            if done.returncode != 0:
                return done.returncode
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
