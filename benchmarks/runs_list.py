"""`listingeval runs list` over 500 realistic run records.

Eval runs add their record to `index.jsonl` as they write it, so a listing reads only the
index; records copied in by hand are parsed once, on the first listing (cold).

    python benchmarks/runs_list.py [--records 500]

Each record has about 60 cases (~300 kB), like a real run of the demo set. Times the whole
command in a subprocess, as a user runs it.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.plugin.test_runs_support import realistic_record  # noqa: E402

from pytest_listingeval.documents import results_text  # noqa: E402
from pytest_listingeval.runs import index_record  # noqa: E402


def _timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> int:
    """Write the records as eval runs do, then as copies without the index; time the listings."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "runs"
        folder.mkdir()
        for i in range(args.records):
            record = realistic_record(i)
            path = folder / f"{record.run.id}.json"
            path.write_text(results_text(record), encoding="utf-8")
            index_record(path, record)
        size_kb = sum(p.stat().st_size for p in folder.glob("*.json")) / args.records / 1000
        command = [sys.executable, "-m", "extractor.cli", "runs", "list", "--dir", str(folder), "--limit", "500"]
        baseline = _timed([sys.executable, "-m", "extractor.cli", "--help"])
        first = _timed(command)
        warm = min(_timed(command) for _ in range(3))
        (folder / "index.jsonl").unlink()
        cold = _timed(command)
    print(f"{args.records} records of ~{size_kb:.0f} kB, `listingeval runs list` end to end:")
    print(f"  first listing after the eval runs wrote them: {first:.2f} s; again: {warm:.2f} s")
    print(f"  records copied in without their index (parsed once): {cold:.2f} s")
    print(f"  (the command's own start-up, `listingeval --help`: {baseline:.2f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
