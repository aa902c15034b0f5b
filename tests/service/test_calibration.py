"""Judge calibration: Cohen's kappa by hand, the agreement table on both databases, `listingeval judge calibrate`."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from extractor.cli import main
from extractor.service.calibration import rubric_version
from extractor.service.calibration.agreement import calibrate, cohen_kappa
from extractor.service.review.store import ReviewStore, Verdict
from extractor.service.storage.db import make_engine, upgrade
from extractor.service.storage.records import utcnow
from extractor.service.storage.store import Store
from extractor.service.storage.tables import online_results, reviews
from pytest_listingeval import JudgeCalibrationFile
from tests.service.test_review_helpers import database_url, seed

pytestmark = pytest.mark.service

RUBRIC = "names the item type and its colour; invents no facts"
TITLE_RUBRIC = "says what the item is"
STRICT_RUBRIC = "mentions the condition"


def test_rubric_version_is_the_first_12_hex_of_the_sha256_of_its_utf8_text() -> None:
    assert rubric_version(RUBRIC) == "c556015856ea"
    assert rubric_version("couleur: rouge foncé") == "bcfbba0a7d9a"  # the UTF-8 bytes, not Latin-1
    assert rubric_version(RUBRIC + " ") != rubric_version(RUBRIC)


@pytest.mark.parametrize(
    ("counts", "kappa"),
    [
        # p_o = 35/40, p_e = 0.825 * 0.8 + 0.175 * 0.2 = 0.695, (0.875 - 0.695) / 0.305
        ((30, 3, 5, 2), 0.18 / 0.305),
        ((4, 1, 2, 1), (0.75 - 34 / 64) / (1 - 34 / 64)),
        ((5, 0, 5, 0), 1.0),  # all agree, with both verdicts present
        ((0, 5, 0, 5), -1.0),  # all disagree
        ((6, 4, 0, 0), 0.0),  # the judge always passes, reviewers do not: chance agreement only
        ((0, 7, 0, 0), 0.0),  # the judge always passes, reviewers always say wrong
    ],
)
def test_kappa_equals_the_hand_computation(counts: tuple[int, int, int, int], kappa: float) -> None:
    assert cohen_kappa(*counts) == pytest.approx(kappa, abs=1e-12)


@pytest.mark.parametrize("counts", [(0, 0, 0, 0), (9, 0, 0, 0), (0, 0, 9, 0)], ids=["no-pair", "all-tp", "all-tn"])
def test_kappa_is_undefined_without_variance(counts: tuple[int, int, int, int]) -> None:
    # Both raters gave one and the same verdict throughout: chance agreement is 1 and kappa is 0/0.
    assert cohen_kappa(*counts) is None


def judge_row(
    store: Store, extraction_id: str, field: str, rubric: str, result: str, kind: str = "judge", check: str = ""
) -> None:
    """Store one online result as the online judge writes it."""
    with store.engine.begin() as conn:
        conn.execute(
            sa.insert(online_results).values(
                extraction_id=extraction_id,
                check=check or f"judge:{field}:{rubric_version(rubric)}",
                field=field,
                kind=kind,
                result=result,
                reason="because",
                rubric_version=rubric_version(rubric) if kind == "judge" else None,
                variant="control",
                cost_usd=0.0001,
                created_at=utcnow(),
            )
        )


def review(store: Store, extraction_id: str, **correct: bool) -> None:
    """A review marking each named field right or wrong."""
    verdicts = {name: Verdict(right, "x") for name, right in correct.items()}
    ReviewStore(store.engine).add(extraction_id, "alice", "control", verdicts, None)


def seeded(store: Store) -> None:
    """Judge verdicts and reviews whose agreement table is worked out in the tests below."""
    ids = [seed(store, age_s=i) for i in range(12)]
    # RUBRIC on description: (judge verdict, reviewer says right) -> tp tp tp fp tn tn fn
    for extraction_id, (result, right) in zip(
        ids,
        [
            ("pass", True),
            ("pass", True),
            ("pass", True),
            ("pass", False),
            ("fail", False),
            ("fail", False),
            ("fail", True),
        ],
        strict=False,
    ):
        judge_row(store, extraction_id, "description", RUBRIC, result)
        review(store, extraction_id, description=right, title=True)
    # An older review said wrong; the latest says right: tp.
    judge_row(store, ids[7], "description", RUBRIC, "pass")
    review(store, ids[7], description=False)
    with store.engine.begin() as conn:
        conn.execute(
            sa.update(reviews).where(reviews.c.extraction_id == ids[7]).values(created_at=utcnow() - timedelta(hours=1))
        )
    review(store, ids[7], description=True)
    judge_row(store, ids[8], "description", RUBRIC, "fail")  # judged, never reviewed
    judge_row(store, ids[9], "description", RUBRIC, "error")  # no verdict: left out everywhere
    review(store, ids[9], description=False)
    judge_row(store, ids[10], "description", RUBRIC, "pass")  # reviewed, but not this field
    review(store, ids[10], color=True)
    judge_row(store, ids[0], "description", "", "fail", kind="check", check="description_max_len")
    # TITLE_RUBRIC: both say pass every time, so kappa is undefined.
    for extraction_id in ids[:2]:
        judge_row(store, extraction_id, "title", TITLE_RUBRIC, "pass")
    # STRICT_RUBRIC on description: one tp and one tn, perfect agreement.
    judge_row(store, ids[0], "description", STRICT_RUBRIC, "pass")
    judge_row(store, ids[4], "description", STRICT_RUBRIC, "fail")


EXPECTED: dict[str, dict[str, dict[str, Any]]] = {
    rubric_version(RUBRIC): {
        "description": {
            "judged": 10,
            "n": 8,
            "tp": 4,
            "fp": 1,
            "tn": 2,
            "fn": 1,
            # p_o = 6/8, both say pass 5/8 of the time: p_e = (5/8)^2 + (3/8)^2 = 34/64
            "kappa": pytest.approx((6 / 8 - 34 / 64) / (1 - 34 / 64), abs=1e-12),
            "agreement": 0.75,
        }
    },
    rubric_version(TITLE_RUBRIC): {
        "title": {"judged": 2, "n": 2, "tp": 2, "fp": 0, "tn": 0, "fn": 0, "kappa": None, "agreement": 1.0}
    },
    rubric_version(STRICT_RUBRIC): {
        "description": {"judged": 2, "n": 2, "tp": 1, "fp": 0, "tn": 1, "fn": 0, "kappa": 1.0, "agreement": 1.0}
    },
}


def test_the_agreement_table_equals_the_hand_computation(store: Store) -> None:
    seeded(store)
    document = calibrate(store.engine)
    assert document.model_dump(mode="json")["rubrics"] == EXPECTED
    assert "positive: the judge passes the field" in document.positive


def test_an_empty_database_has_an_empty_table(store: Store) -> None:
    assert calibrate(store.engine).rubrics == {}


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder as the working directory, with a pyproject.toml holding `[tool.listingeval]`."""
    (tmp_path / "pyproject.toml").write_text("[tool.listingeval]\njudge_min_kappa = 0.5\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_calibrate_prints_the_table_and_writes_the_file(
    store: Store, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seeded(store)
    out_path = project / "reports" / "judge-calibration.json"
    code, out, err = run(capsys, "judge", "calibrate", "--db", database_url(store.engine), "--out", str(out_path))
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "positive: the judge passes the field; truth: the latest review's verdict on it"
    header = "rubric field judged n tp fp tn fn agree kappa judge_min_kappa 0.5"
    assert lines[1].split() == header.split()
    rows = {(cells[0], cells[1]): " ".join(cells[2:]) for cells in (line.split() for line in lines[2:5])}
    assert rows[(rubric_version(RUBRIC), "description")] == "10 8 4 1 2 1 75.0% 0.47 below 0.5"
    assert rows[(rubric_version(TITLE_RUBRIC), "title")] == "2 2 2 0 0 0 100.0% - kappa undefined"
    assert rows[(rubric_version(STRICT_RUBRIC), "description")] == "2 2 1 0 1 0 100.0% 1.00 ok"
    assert lines[5] == f"wrote {out_path}"
    written = JudgeCalibrationFile.model_validate_json(out_path.read_text(encoding="utf-8"))
    assert written.model_dump(mode="json")["rubrics"] == EXPECTED


def test_calibrate_json_is_the_calibration_document(
    store: Store, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seeded(store)
    code, out, _ = run(capsys, "judge", "calibrate", "--json", "--db", database_url(store.engine))
    assert code == 0
    data = json.loads(out)
    assert data["version"] == 1 and data["rubrics"] == EXPECTED
    assert data["positive"].startswith("positive: the judge passes the field; truth: the reviewer's verdict")
    assert not (project / "reports").exists()


def test_calibrate_on_a_database_without_judge_verdicts(
    store: Store, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "judge", "calibrate", "--db", database_url(store.engine))
    assert code == 0
    assert out == "no judge verdict stored yet: online_results holds no pass or fail of kind judge\n"


def _one_line_refusal(code: int, out: str, err: str, message: str) -> None:
    assert code == 2 and out == ""
    assert err.startswith("listingeval: ") and message in err and err.count("\n") == 1, err


def test_calibrate_refusals_are_one_line_with_exit_2(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = f"sqlite:///{project / 'none.db'}"
    _one_line_refusal(*run(capsys, "judge", "calibrate", "--db", missing), "no database at")
    assert not (project / "none.db").exists()
    before_online = project / "v5.db"
    engine = make_engine(f"sqlite:///{before_online}")
    upgrade(engine, "0005")
    engine.dispose()
    _one_line_refusal(
        *run(capsys, "judge", "calibrate", "--db", f"sqlite:///{before_online}"),
        "has no online_results table; run: listingeval db upgrade",
    )
    current = project / "current.db"
    engine = make_engine(f"sqlite:///{current}")
    upgrade(engine)
    engine.dispose()
    (project / "blocked").write_text("a file, not a folder", encoding="utf-8")
    blocked = str(project / "blocked" / "c.json")
    _one_line_refusal(
        *run(capsys, "judge", "calibrate", "--db", f"sqlite:///{current}", "--out", blocked), "cannot write"
    )
    (project / "pyproject.toml").write_text('[tool.listingeval]\njudge_min_kappa = "high"\n', encoding="utf-8")
    _one_line_refusal(
        *run(capsys, "judge", "calibrate", "--db", f"sqlite:///{current}"),
        "judge_min_kappa must be a number between -1 and 1, got 'high'",
    )
