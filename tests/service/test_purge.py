"""`listingeval db purge`: old or one user's rows go with their images and dependent rows, nothing else."""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from extractor.cli import main
from extractor.service.storage.purge import Criteria, Purged, PurgeError, dependents, parse_duration, purge
from extractor.service.storage.records import utcnow
from extractor.service.storage.store import Store
from extractor.service.storage.tables import (
    corrections,
    extractions,
    images,
    metadata,
    online_results,
    review_leases,
    reviews,
    shadow_results,
)
from tests.fakes.listing import DEFAULT_LISTING
from tests.service.conftest import AUTH, png, upload
from tests.service.test_review_helpers import database_url

pytestmark = pytest.mark.service

NOW = utcnow()
OLD = NOW - timedelta(days=120)
RECENT = NOW - timedelta(days=10)
TABLES = (images, extractions, corrections, reviews, review_leases, shadow_results, online_results)


def _image(conn: sa.Connection, data: bytes) -> str:
    sha = hashlib.sha256(data).hexdigest()
    values = {"sha256": sha, "data": data, "size": len(data), "content_type": "image/png", "created_at": OLD}
    conn.execute(sa.insert(images).values(values))
    return sha


def _row(conn: sa.Connection, sha: str, user: str, created_at: datetime, *, dependents: bool = True) -> str:
    """An extraction with (by default) one correction, two reviews, a lease, a shadow answer and an online result."""
    ident = uuid.uuid4().hex
    conn.execute(
        sa.insert(extractions).values(
            id=ident,
            created_at=created_at,
            user_id=user,
            variant="default",
            model="m",
            prompt_id="p",
            status="ok",
            output={"title": "t"},
            image_sha256=sha,
            rating="up",
            comment="nice",
            final_listing={"title": "t"},
            corrected_fields=["title"],
        )
    )
    if dependents:
        conn.execute(
            sa.insert(corrections).values(extraction_id=ident, field="title", variant="default", created_at=created_at)
        )
        for annotator in ("ann-1", "ann-2"):
            conn.execute(
                sa.insert(reviews).values(
                    id=uuid.uuid4().hex,
                    extraction_id=ident,
                    annotator=annotator,
                    variant="default",
                    created_at=created_at,
                    fields={"title": {"correct": True}},
                )
            )
        conn.execute(
            sa.insert(review_leases).values(
                extraction_id=ident, annotator="ann-3", taken_at=NOW, expires_at=NOW + timedelta(minutes=10)
            )
        )
        conn.execute(
            sa.insert(shadow_results).values(
                extraction_id=ident, variant="new", model="m", prompt_id="p", status="ok", created_at=created_at
            )
        )
        conn.execute(
            sa.insert(online_results).values(
                extraction_id=ident,
                check="title:max_len",
                kind="check",
                result="pass",
                variant="default",
                created_at=created_at,
            )
        )
    return ident


def _seed(store: Store) -> dict[str, str]:
    """Old and recent rows of alice and bob; `shared` is used by an old and a recent row."""
    with store.engine.begin() as conn:
        only_old = _image(conn, png((1, 0, 0)))
        shared = _image(conn, png((2, 0, 0)))
        recent = _image(conn, png((3, 0, 0)))
        bob_old = _image(conn, png((4, 0, 0)))
        return {
            "alice_old": _row(conn, only_old, "alice", OLD),
            "alice_old_shared": _row(conn, shared, "alice", OLD - timedelta(hours=1)),
            "alice_recent_shared": _row(conn, shared, "alice", RECENT),
            "bob_recent": _row(conn, recent, "bob", RECENT, dependents=False),
            "bob_old": _row(conn, bob_old, "bob", OLD),
            "img_only_old": only_old,
            "img_shared": shared,
            "img_recent": recent,
            "img_bob_old": bob_old,
        }


def _counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t.name: int(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()) for t in TABLES}


def _ids(engine: sa.Engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(sa.select(extractions.c.id)).scalars())


def _shas(engine: sa.Engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(sa.select(images.c.sha256)).scalars())


def _purge(store: Store, *args: str) -> int:
    return main(["db", "purge", *args, "--db", database_url(store.engine)])


def test_every_table_referring_to_extractions_is_purged() -> None:
    # A new table that refers to extractions indirectly would need purge to learn about it.
    assert {t.name for t, _ in dependents()} == {
        "corrections",
        "reviews",
        "review_leases",
        "shadow_results",
        "online_results",
    }
    # Every table is either purged or holds nothing about sellers (signed-out admin sessions, rollout state).
    unrelated = {"revoked_sessions", "rollouts", "rollout_events", "routing"}
    assert {t.name for t in metadata.sorted_tables} == {t.name for t in TABLES} | unrelated


def test_purge_by_age(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    seeded = _seed(store)
    assert _counts(store.engine) == {
        "images": 4,
        "extractions": 5,
        "corrections": 4,
        "reviews": 8,
        "review_leases": 4,
        "shadow_results": 4,
        "online_results": 4,
    }
    assert _purge(store, "--older-than", "90d") == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert (
        "deleted 3 extractions, 2 images, 3 corrections, 3 online_results, 3 review_leases, 6 reviews, 3 shadow_results"
        in out
    )
    assert _counts(store.engine) == {
        "images": 2,
        "extractions": 2,
        "corrections": 1,
        "reviews": 2,
        "review_leases": 1,
        "shadow_results": 1,
        "online_results": 1,
    }
    assert _ids(store.engine) == {seeded["alice_recent_shared"], seeded["bob_recent"]}
    # The shared image survives: a recent row still shows it.
    assert _shas(store.engine) == {seeded["img_shared"], seeded["img_recent"]}
    assert store.image(seeded["img_shared"]) is not None


def test_purge_by_user(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    seeded = _seed(store)
    assert _purge(store, "--user", "alice") == 0
    assert (
        "deleted 3 extractions, 2 images, 3 corrections, 3 online_results, 3 review_leases, 6 reviews, 3 shadow_results"
        in capsys.readouterr().out
    )
    assert _ids(store.engine) == {seeded["bob_recent"], seeded["bob_old"]}
    assert _shas(store.engine) == {seeded["img_recent"], seeded["img_bob_old"]}
    assert _counts(store.engine) == {
        "images": 2,
        "extractions": 2,
        "corrections": 1,
        "reviews": 2,
        "review_leases": 1,
        "shadow_results": 1,
        "online_results": 1,
    }


def test_purge_by_age_and_user_is_both(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    seeded = _seed(store)
    assert _purge(store, "--older-than", "90d", "--user", "alice") == 0
    assert (
        "deleted 2 extractions, 1 images, 2 corrections, 2 online_results, 2 review_leases, 4 reviews, 2 shadow_results"
        in capsys.readouterr().out
    )
    assert _ids(store.engine) == {seeded["alice_recent_shared"], seeded["bob_recent"], seeded["bob_old"]}
    assert _shas(store.engine) == {seeded["img_shared"], seeded["img_recent"], seeded["img_bob_old"]}


def test_a_shared_image_goes_with_its_last_row(store: Store) -> None:
    seeded = _seed(store)
    purge(store.engine, Criteria(before=NOW - timedelta(days=90)))
    assert seeded["img_shared"] in _shas(store.engine)
    purge(store.engine, Criteria(user_id="alice"))
    assert seeded["img_shared"] not in _shas(store.engine)
    assert _ids(store.engine) == {seeded["bob_recent"]}


def test_small_batches_delete_the_same(store: Store) -> None:
    _seed(store)
    purged = purge(store.engine, Criteria(user_id="alice"), batch_size=1)
    assert purged.counts == {
        "extractions": 3,
        "images": 2,
        "corrections": 3,
        "reviews": 6,
        "review_leases": 3,
        "shadow_results": 3,
        "online_results": 3,
    }


@pytest.mark.parametrize(
    "args", [["--older-than", "90d"], ["--user", "alice"], ["--older-than", "90d", "--user", "bob"]]
)
def test_dry_run_counts_and_changes_nothing(store: Store, capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    _seed(store)
    before, ids, shas = _counts(store.engine), _ids(store.engine), _shas(store.engine)
    assert _purge(store, *args, "--dry-run") == 0
    predicted = capsys.readouterr().out
    assert predicted.startswith("listingeval: would delete ")
    assert (_counts(store.engine), _ids(store.engine), _shas(store.engine)) == (before, ids, shas)
    assert _purge(store, *args) == 0
    done = capsys.readouterr().out
    assert done.replace("deleted", "would delete").split(" (rows")[0] == predicted.split(" (rows")[0]


def test_nothing_matching_deletes_nothing(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    _seed(store)
    before = _counts(store.engine)
    assert _purge(store, "--user", "carol") == 0
    assert _purge(store, "--older-than", "365d") == 0
    assert "deleted 0 extractions, 0 images" in capsys.readouterr().out
    assert _counts(store.engine) == before


def test_rows_made_through_the_api_are_purged(client: TestClient, store: Store) -> None:
    kept = upload(client, png((9, 9, 9)), user="keeper").json()["id"]
    gone = upload(client, png((8, 8, 8)), user="leaver").json()["id"]
    assert client.post(f"/v1/extractions/{gone}/feedback", json={"rating": "down"}).status_code == 204
    final = {**DEFAULT_LISTING, "title": "Guitar, barely played"}
    assert client.post(f"/v1/extractions/{gone}/final", json=final).status_code == 204
    assert _purge(store, "--user", "leaver") == 0
    assert _ids(store.engine) == {kept}
    assert client.get(f"/v1/extractions/{gone}", headers=AUTH).status_code == 404
    assert client.get(f"/dashboard/extractions/{kept}/image", headers=AUTH).status_code == 200


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "say what to purge"),
        (["--older-than", "90"], "not a duration"),
        (["--older-than", "90x"], "not a duration"),
        (["--older-than=-5d"], "not a duration"),
        (["--older-than", "0d"], "more than zero"),
        (["--user", ""], "must not be empty"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    store: Store, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    _seed(store)
    before = _counts(store.engine)
    assert _purge(store, *args) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and message in captured.err
    assert captured.err.startswith("listingeval: ")
    assert _counts(store.engine) == before


def test_a_missing_sqlite_file_is_not_created(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "typo.db"
    assert main(["db", "purge", "--user", "a", "--db", f"sqlite:///{path}"]) == 2
    assert not path.exists() and "no database file" in capsys.readouterr().err


def test_durations() -> None:
    assert parse_duration("90d") == timedelta(days=90)
    assert parse_duration("12h") == timedelta(hours=12)
    assert parse_duration("30m") == timedelta(minutes=30)
    for bad in ("", "d", "1.5d", "10s", "1w", "9999999d"):
        with pytest.raises(PurgeError):
            parse_duration(bad)
    with pytest.raises(PurgeError):
        Criteria()


# PostgreSQL only: SQLite serialises writers, so a purge cannot interleave with an upload there.
@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)
def test_an_upload_racing_a_purge_keeps_its_image(store: Store) -> None:
    assert store.engine.url.get_backend_name() == "postgresql"
    seeded = _seed(store)
    racing = store.engine.connect()
    transaction = racing.begin()
    # An upload of the old photo, not committed yet: its row holds a key lock on the image.
    newcomer = _row(racing, seeded["img_only_old"], "carol", NOW, dependents=False)
    purged: list[Purged] = []
    worker = threading.Thread(target=lambda: purged.append(purge(store.engine, Criteria(user_id="alice"))))
    worker.start()
    time.sleep(0.5)  # the purge now waits on that lock
    transaction.commit()
    racing.close()
    worker.join(timeout=30)
    assert purged and purged[0]["extractions"] == 3
    assert seeded["img_only_old"] in _shas(store.engine) and newcomer in _ids(store.engine)
    assert purged[0]["images"] == 1  # only the shared photo, whose last row was alice's
