"""`cases promote --from-online CHECK`: flagging online failures, the `flagged` review strategy, the log filter."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from extractor.cli import main
from extractor.service.review.queue import ReviewQueue
from extractor.service.review.store import ReviewStore, Verdict
from extractor.service.storage.db import make_engine, upgrade
from extractor.service.storage.records import utcnow
from extractor.service.storage.store import Store
from extractor.service.storage.tables import extractions, online_results
from tests.fakes.listing import DEFAULT_LISTING
from tests.service.conftest import AUTH, ClientFactory, StubExtractor
from tests.service.test_review_helpers import CLIPART, database_url, drawing, seed

pytestmark = pytest.mark.service

CHECK = "description_names_item"


def check_row(store: Store, extraction_id: str, result: str, check: str = CHECK) -> None:
    """Store one online check result for an extraction."""
    with store.engine.begin() as conn:
        conn.execute(
            sa.insert(online_results).values(
                extraction_id=extraction_id,
                check=check,
                field="description",
                kind="check",
                result=result,
                variant="control",
                created_at=utcnow(),
            )
        )


def flags(store: Store) -> dict[str, str | None]:
    """Every extraction's review flag."""
    with store.engine.connect() as conn:
        return {row.id: row.review_flag for row in conn.execute(sa.select(extractions.c.id, extractions.c.review_flag))}


def promote(store: Store, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["cases", "promote", *args, "--db", database_url(store.engine)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def failures(store: Store) -> dict[str, str]:
    """Rows covering every case the flagging must tell apart; their ids by role."""
    ids = {
        "old": seed(store, age_s=50, image=drawing(1)),
        "new": seed(store, age_s=10, image=drawing(2)),
        "passed": seed(store, age_s=40),
        "reviewed": seed(store, age_s=30),
        "errored": seed(store, status="error", age_s=20),
        "other_check": seed(store, age_s=5),
        "unchecked": seed(store, age_s=60),
    }
    for role in ("old", "new", "reviewed", "errored"):
        check_row(store, ids[role], "fail")
    check_row(store, ids["passed"], "pass")
    check_row(store, ids["other_check"], "fail", check="title_length")
    ReviewStore(store.engine).add(ids["reviewed"], "bob", "control", {"color": Verdict(True, "brown")}, None)
    return ids


def test_flags_unreviewed_failures_once_and_the_queue_serves_them_first(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = failures(store)
    code, out, err = promote(store, capsys, "--from-online", CHECK)
    assert code == 0, err
    assert out == (
        f"flagged 2 unreviewed extractions whose online check '{CHECK}' failed; "
        "review them first: /review?strategy=flagged\n"
    )
    flagged = {role for role, i in ids.items() if flags(store)[i] is not None}
    assert flagged == {"old", "new"}
    assert flags(store)[ids["old"]] == f"online:{CHECK}"
    code, out, _ = promote(store, capsys, "--from-online", CHECK)
    assert code == 0 and out.startswith("flagged 0 unreviewed extractions") and "(2 more already flagged)" in out
    queue = ReviewQueue(store.engine, 600)
    assert queue.next("a", "flagged") == ids["old"]  # flagged rows first, oldest first
    assert queue.next("b", "flagged") == ids["new"]
    rest = {queue.next(name, "flagged") for name in ("c", "d", "e")}
    assert rest == {ids["passed"], ids["other_check"], ids["unchecked"]}  # then the rest, reviewed and errors never


def test_limit_flags_the_newest_failures_first(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    ids = failures(store)
    code, out, _ = promote(store, capsys, "--from-online", CHECK, "--limit", "1")
    assert code == 0 and out.startswith("flagged 1 unreviewed extraction whose")
    assert {i for i, flag in flags(store).items() if flag} == {ids["new"]}
    code, out, _ = promote(store, capsys, "--from-online", CHECK, "--limit", "5")
    assert code == 0 and out.startswith("flagged 1 ") and "(1 more already flagged)" in out


def test_other_strategies_ignore_flags(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    ids = failures(store)
    down = seed(store, rating="down", age_s=100)
    assert promote(store, capsys, "--from-online", CHECK)[0] == 0
    assert flags(store)[ids["old"]] is not None and flags(store)[down] is None
    assert ReviewQueue(store.engine, 600).next("a", "thumbs_down") == down


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["abc", "--from-online", CHECK], "it cannot go with an extraction ID"),
        (["--all-reviewed", "--from-online", CHECK], "it cannot go with --all-reviewed"),
        (["--from", "final", "--from-online", CHECK], "it cannot go with --from"),
        (["--from-online", CHECK, "--since", "2025-01-01"], "it cannot go with --since"),
        (["--all-reviewed", "--limit", "3"], "--limit goes with --from-online"),
        (["--from-online", "no_such_check"], "no online result for check 'no_such_check'; checks with results: "),
    ],
)
def test_refusals_are_one_line_with_exit_2(
    store: Store, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    failures(store)
    code, out, err = promote(store, capsys, *args)
    assert code == 2 and out == ""
    assert message in err and err.count("\n") == 1, err
    if "checks with results" in message:
        assert err.rstrip().endswith(f"{CHECK}, title_length")
    assert all(flag is None for flag in flags(store).values())


def test_a_database_without_online_results(store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = promote(store, capsys, "--from-online", CHECK)
    assert code == 2 and "holds no online check result yet" in err
    engine = make_engine(f"sqlite:///{tmp_path / 'v5.db'}")
    upgrade(engine, "0005")
    engine.dispose()
    assert main(["cases", "promote", "--from-online", CHECK, "--db", f"sqlite:///{tmp_path / 'v5.db'}"]) == 2
    assert "has no online_results table; run: listingeval db upgrade" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        main(["cases", "promote", "--from-online", CHECK, "--limit", "0"])
    assert exited.value.code == 2
    assert "must be at least 1" in capsys.readouterr().err


def test_from_a_failed_check_to_an_eval_case(store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = tmp_path / "cases"
    (cases / "images").mkdir(parents=True)
    shutil.copy(CLIPART / "violin.png", cases / "images" / "violin.png")
    seed(store, age_s=100, image=drawing(9))  # never checked: served after the flagged row
    failed = seed(store, image=drawing(10))
    check_row(store, failed, "fail")
    assert promote(store, capsys, "--from-online", CHECK)[0] == 0
    served = ReviewQueue(store.engine, 600).next("alice", "flagged")
    assert served == failed
    verdicts = {"description": Verdict(False, "A red lamp with a round base."), "category": Verdict(True, None)}
    ReviewStore(store.engine).add(failed, "alice", "control", verdicts, "not a guitar")
    code, out, err = promote(store, capsys, "--all-reviewed", "--cases-dir", str(cases))
    assert code == 0, err
    assert f"promoted production/{failed[:8]} (extraction {failed})" in out
    document = yaml.safe_load((cases / "production" / f"{failed[:8]}.yaml").read_text(encoding="utf-8"))
    assert document["expected"]["category"] == DEFAULT_LISTING["category"]
    assert document["source"]["extraction"] == failed


def test_the_log_browser_filters_on_a_failed_online_check(
    store: Store, make_client: ClientFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    client = make_client(extractor=StubExtractor())
    ids = failures(store)
    html = client.get(f"/dashboard/logs?online_failed={CHECK}", headers=AUTH).text
    assert "4 matching" in html  # every row the check failed, reviewed or not, whatever its status
    assert all(ids[role] in html for role in ("old", "new", "reviewed", "errored"))
    assert ids["passed"] not in html and ids["other_check"] not in html and ids["unchecked"] not in html
    assert f'name="online_failed" maxlength="200" value="{CHECK}"' in html
    assert "0 matching" in client.get("/dashboard/logs?online_failed=nothing", headers=AUTH).text
    assert client.get("/dashboard/logs?online_failed=" + "x" * 201, headers=AUTH).status_code == 400
