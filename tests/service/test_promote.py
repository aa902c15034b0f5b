"""`listingeval cases promote`: the written case, its sources, refusals, duplicates and the bulk mode."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from extractor.cli import main
from extractor.promote.expected import key_words
from extractor.schema import Listing
from extractor.service.review.store import ReviewStore, Verdict
from extractor.service.storage.store import Store
from pytest_listingeval.cases import load_case
from pytest_listingeval.checks import run_checks
from tests.fakes.listing import DEFAULT_LISTING
from tests.service.test_review_helpers import CLIPART, database_url, drawing, reencoded, seed

pytestmark = pytest.mark.service

TEAPOT = {
    "title": "White porcelain teapot",
    "description": "A small white porcelain teapot with a lid, no chips or cracks.",
    "category": "home_garden",
    "color": "white",
    "brand": None,
    "condition": "like_new",
}


@pytest.fixture
def cases(tmp_path: Path) -> Path:
    """A cases folder holding two demo images (for the duplicate checks)."""
    folder = tmp_path / "cases"
    (folder / "images").mkdir(parents=True)
    for name in ("violin.png", "teapot.png"):
        shutil.copy(CLIPART / name, folder / "images" / name)
    return folder


def _promote(store: Store, cases: Path, *args: str) -> int:
    return main(["cases", "promote", *args, "--db", database_url(store.engine), "--cases-dir", str(cases)])


def _reviewed(store: Store, image: bytes) -> str:
    """An extraction the model got partly wrong (the guitar listing), reviewed by alice."""
    extraction_id = seed(store, image=image, variant="control")
    verdicts = {
        "title": Verdict(False, TEAPOT["title"]),
        "description": Verdict(True, DEFAULT_LISTING["description"]),
        "category": Verdict(False, "home_garden"),
        "color": Verdict(False, "white"),
        "brand": Verdict(True, None),
        "condition": Verdict(True, DEFAULT_LISTING["condition"]),
    }
    ReviewStore(store.engine).add(extraction_id, "alice", "control", verdicts, "it is a teapot")
    return extraction_id


def test_promote_from_review_writes_a_case_that_loads_and_passes_on_its_values(
    store: Store, cases: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = drawing(1)
    extraction_id = _reviewed(store, image)
    assert _promote(store, cases, extraction_id[:10]) == 0
    out = capsys.readouterr().out.splitlines()
    name = f"production/{extraction_id[:8]}"
    assert out[0] == name
    assert out[2] == f"record its cassette: OPENAI_API_KEY=sk-... pytest -m eval --record-mode=once {cases}/{name}.yaml"
    path = cases / f"{name}.yaml"
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert document["image"] == f"../images/{name}.png"
    assert (cases / "images" / f"{name}.png").read_bytes() == image
    assert document["expected"] == {
        "title": {"similar_to": TEAPOT["title"], "min": 0.6},
        "description": [{"similar_to": DEFAULT_LISTING["description"], "min": 0.5}, {"max_len": 600}],
        "category": "home_garden",
        "color": "white",
        "brand": None,
        "condition": DEFAULT_LISTING["condition"],
    }
    assert document["tags"] == ["from-production", "variant-control"]
    assert document["source"]["extraction"] == extraction_id and document["source"]["from"] == "review"
    assert document["source"]["variant"] == "control"
    assert "review by alice" in document["notes"] and "it is a teapot" in document["notes"]
    case = load_case(path, cases, Listing)
    assert case.id == name and case.tags == ("from-production", "variant-control")
    wrong = run_checks(case.checks["category"], DEFAULT_LISTING["category"])
    assert not wrong[0].passed  # the model's own category fails the corrected case


def test_promote_from_the_published_listing(store: Store, cases: Path, capsys: pytest.CaptureFixture[str]) -> None:
    extraction_id = seed(store, image=drawing(2), final=TEAPOT)
    assert _promote(store, cases, extraction_id, "--from", "final", "--case-id", "kitchen/teapot-2") == 0
    assert capsys.readouterr().out.startswith("kitchen/teapot-2\n")
    document = yaml.safe_load((cases / "kitchen/teapot-2.yaml").read_text(encoding="utf-8"))
    assert document["image"] == "../images/kitchen/teapot-2.png"
    expected = document["expected"]
    assert expected["description"] == [{"contains_any": ["porcelain", "teapot"]}, {"max_len": 600}]
    assert expected["brand"] is None and expected["category"] == "home_garden" and expected["condition"] == "like_new"
    assert document["source"]["from"] == "final"
    load_case(cases / "kitchen/teapot-2.yaml", cases, Listing)


def test_key_words_name_the_item_not_its_colour_or_condition() -> None:
    assert key_words("Red vintage Fender electric guitar", "A red Fender guitar, electric, used.") == [
        "fender",
        "electric",
        "guitar",
    ]
    assert key_words("\uff34\uff45\uff41\uff50\uff4f\uff54", "a TEAPOT")  # full-width letters == ["teapot"]
    assert key_words("Teapot", "A kettle.") == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["0123456789abcdef"], "no extraction with id '0123456789abcdef'"),
        (["zz"], "'zz' is not an extraction id"),
        ([], "give one extraction ID, or --all-reviewed"),
        (["--all-reviewed", "--case-id", "x"], "--case-id names one case"),
        (["abc", "--since", "2025-01-01"], "--since goes with --all-reviewed"),
        (["--all-reviewed", "--since", "last week"], "--since 'last week' is not a date"),
    ],
)
def test_bad_requests_are_one_line_exit_2(
    store: Store, cases: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert _promote(store, cases, *args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_missing_review_final_or_bad_names_refuse_and_write_nothing(
    store: Store, cases: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    unreviewed = seed(store, image=drawing(3))
    before = sorted(cases.rglob("*"))
    assert _promote(store, cases, unreviewed) == 2
    assert "has no review; review it at /review or use --from final" in capsys.readouterr().err
    assert _promote(store, cases, unreviewed, "--from", "final") == 2
    assert "has no published listing" in capsys.readouterr().err
    reviewed = _reviewed(store, drawing(4))
    assert _promote(store, cases, reviewed, "--case-id", "../outside") == 2
    assert "must be a relative path" in capsys.readouterr().err
    assert sorted(cases.rglob("*")) == before


def test_never_overwrites_an_existing_case(store: Store, cases: Path, capsys: pytest.CaptureFixture[str]) -> None:
    existing = cases / "mine.yaml"
    existing.write_text("image: images/violin.png\nexpected: {category: musical_instruments}\n", encoding="utf-8")
    reviewed = _reviewed(store, drawing(5))
    assert _promote(store, cases, reviewed, "--case-id", "mine") == 2
    assert f"{existing.as_posix()} already exists" in capsys.readouterr().err
    assert existing.read_text(encoding="utf-8").startswith("image: images/violin.png")
    assert not (cases / "images" / "mine.png").exists()


@pytest.mark.parametrize(
    ("transform", "kind"),
    [
        (lambda data: data, "the same image as"),
        (lambda data: reencoded(data, 0.6, 70), "a near-duplicate of"),
        (lambda data: reencoded(data, 1.5, 85), "a near-duplicate of"),
    ],
    ids=["same-bytes", "smaller-jpeg", "larger-jpeg"],
)
def test_duplicates_of_an_eval_image_are_refused(
    store: Store, cases: Path, capsys: pytest.CaptureFixture[str], transform: Any, kind: str
) -> None:
    reviewed = _reviewed(store, transform((CLIPART / "violin.png").read_bytes()))
    before = sorted(cases.rglob("*"))
    assert _promote(store, cases, reviewed) == 2
    err = capsys.readouterr().err
    assert kind in err and "violin.png" in err and err.count("\n") == 1
    assert sorted(cases.rglob("*")) == before


def test_other_pictures_are_not_near_duplicates(store: Store, cases: Path) -> None:
    for i, name in enumerate(("gramophone.png", "red_fedora.png", "umbrella.png")):
        reviewed = _reviewed(store, (CLIPART / name).read_bytes())
        assert _promote(store, cases, reviewed, "--case-id", f"other/{i}") == 0


def test_bulk_promotes_every_reviewed_item_skipping_duplicates(
    store: Store, cases: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = _reviewed(store, drawing(6))
    _reviewed(store, reencoded(drawing(6)))  # the same picture as the first, re-encoded
    _reviewed(store, (CLIPART / "teapot.png").read_bytes())  # already in the eval set
    last = _reviewed(store, drawing(7))
    seed(store, image=drawing(8))  # never reviewed
    assert _promote(store, cases, "--all-reviewed", "--since", "2000-01-01") == 0
    out = capsys.readouterr().out
    assert f"promoted production/{first[:8]} (extraction {first})" in out
    assert f"promoted production/{last[:8]}" in out
    assert out.count("\nskipped: ") == 2 and "near-duplicate of" in out and "teapot.png" in out
    assert "2 promoted, 2 skipped (2 duplicate, 0 already a case, 0 not promotable)" in out
    assert "pytest -m eval --record-mode=once -k from-production" in out
    for path in (cases / "production").glob("*.yaml"):
        load_case(path, cases, Listing)
    assert _promote(store, cases, "--all-reviewed") == 0  # again: everything is a case already
    assert "0 promoted, 4 skipped (2 duplicate, 2 already a case" in capsys.readouterr().out
    assert _promote(store, cases, "--all-reviewed", "--since", "2999-01-01") == 0
    assert "0 promoted, 0 skipped" in capsys.readouterr().out


def test_unmigrated_or_missing_database(tmp_path: Path, cases: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cases", "promote", "abc", "--db", f"sqlite:///{tmp_path / 'none.db'}"]) == 2
    assert "no database at" in capsys.readouterr().err
    assert not (tmp_path / "none.db").exists()
    empty = tmp_path / "empty.db"
    sa.create_engine(f"sqlite:///{empty}").connect().close()
    assert main(["cases", "promote", "abc", "--db", f"sqlite:///{empty}"]) == 2
    assert "run: listingeval db upgrade" in capsys.readouterr().err
