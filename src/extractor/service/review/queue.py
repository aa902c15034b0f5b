"""The review queue: which extraction an annotator sees next, leased so no one else gets it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal, get_args

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Select,
    and_,
    exists,
    false,
    func,
    insert,
    not_,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from extractor.service.storage.db import write_transaction
from extractor.service.storage.records import utcnow
from extractor.service.storage.tables import corrections, extractions, review_leases, reviews

Strategy = Literal["uniform", "thumbs_down", "corrected", "stratified", "flagged"]
STRATEGIES: tuple[str, ...] = get_args(Strategy)
# How many candidates one round tries to lease before reading the queue again.
BATCH = 20
ROUNDS = 3


class ReviewQueue:
    """Serves reviewable extractions (status ok) by a sampling strategy, one lease at a time."""

    def __init__(self, engine: Engine, lease_s: float):
        self.engine = engine
        self.lease = timedelta(seconds=lease_s)

    def next(
        self,
        annotator: str,
        strategy: Strategy = "uniform",
        include_reviewed: bool = False,
        now: datetime | None = None,
    ) -> str | None:
        """The id this annotator reviews now (their live lease, or a new one); None when nothing is left."""
        now = now or utcnow()
        held = self.held(annotator, now)
        if held is not None:
            return held
        for _ in range(ROUNDS):
            candidates = self._candidates(annotator, strategy, include_reviewed, now)
            if not candidates:
                return None
            for extraction_id in candidates:
                if self._take(extraction_id, annotator, now):
                    return extraction_id
        return None

    def held(self, annotator: str, now: datetime | None = None) -> str | None:
        """The extraction this annotator holds a live, unskipped lease on, if any."""
        query = (
            select(review_leases.c.extraction_id)
            .where(
                review_leases.c.annotator == annotator,
                review_leases.c.expires_at > (now or utcnow()),
                review_leases.c.skipped == false(),
            )
            .order_by(review_leases.c.taken_at.desc())
            .limit(1)
        )
        with self.engine.connect() as conn:
            found: str | None = conn.execute(query).scalar_one_or_none()
        return found

    def skip(self, extraction_id: str, annotator: str) -> None:
        """Pass on an item: others may take it at once; this annotator gets it back after the lease expires."""
        with write_transaction(self.engine) as conn:
            conn.execute(
                update(review_leases)
                .where(review_leases.c.extraction_id == extraction_id, review_leases.c.annotator == annotator)
                .values(skipped=True)
            )

    def _take(self, extraction_id: str, annotator: str, now: datetime) -> bool:
        """Lease one extraction atomically: replace an expired or skipped lease, or create one."""
        values = {"annotator": annotator, "taken_at": now, "expires_at": now + self.lease, "skipped": False}
        free = or_(
            review_leases.c.expires_at <= now,
            and_(review_leases.c.skipped == true(), review_leases.c.annotator != annotator),
        )
        with write_transaction(self.engine) as conn:
            # On PostgreSQL a concurrent UPDATE re-checks this WHERE on the row it waited for,
            # and a concurrent INSERT waits for the other and then does nothing: one winner.
            taken = conn.execute(
                update(review_leases)
                .where(review_leases.c.extraction_id == extraction_id, free)
                .values(values)
                .returning(review_leases.c.extraction_id)
            ).first()
            if taken is not None:
                return True
            return _insert_ignore(conn, {"extraction_id": extraction_id, **values})

    def _candidates(self, annotator: str, strategy: Strategy, include_reviewed: bool, now: datetime) -> list[str]:
        base = _reviewable(annotator, include_reviewed, now)
        with self.engine.connect() as conn:
            if strategy == "stratified":
                return _stratified(conn, base)
            first: list[str] = []
            if strategy != "uniform":
                flag = _priority(strategy)
                query = base.where(flag).order_by(extractions.c.created_at, extractions.c.id).limit(BATCH)
                first = [str(i) for i in conn.execute(query).scalars()]
            rest = [str(i) for i in conn.execute(base.order_by(func.random()).limit(BATCH)).scalars()]
        return list(dict.fromkeys(first + rest))


def _priority(strategy: Strategy) -> ColumnElement[bool]:
    if strategy == "thumbs_down":
        return extractions.c.rating == "down"
    if strategy == "flagged":
        # Set by `cases promote --from-online`: an online check failed on the row.
        return extractions.c.review_flag.is_not(None)
    return exists().where(corrections.c.extraction_id == extractions.c.id)


def _reviewable(annotator: str, include_reviewed: bool, now: datetime) -> Select[Any]:
    """Ids of ok extractions nobody else holds, that this annotator has not reviewed nor just skipped."""
    leased = exists().where(
        review_leases.c.extraction_id == extractions.c.id,
        review_leases.c.expires_at > now,
        or_(review_leases.c.skipped == false(), review_leases.c.annotator == annotator),
    )
    mine = exists().where(reviews.c.extraction_id == extractions.c.id, reviews.c.annotator == annotator)
    conditions = [extractions.c.status == "ok", not_(leased), not_(mine)]
    if not include_reviewed:
        conditions.append(not_(exists().where(reviews.c.extraction_id == extractions.c.id)))
    return select(extractions.c.id).where(*conditions)


def _stratified(conn: Connection, base: Select[Any]) -> list[str]:
    """Candidates from the least-reviewed variant first (ties by name), random within a variant."""
    pending = base.subquery()
    open_variants: list[str] = [
        str(v)
        for v in conn.execute(
            select(extractions.c.variant).where(extractions.c.id.in_(select(pending.c.id))).distinct()
        ).scalars()
    ]
    counts = select(reviews.c.variant, func.count(func.distinct(reviews.c.extraction_id))).group_by(reviews.c.variant)
    reviewed = {str(row[0]): int(row[1]) for row in conn.execute(counts)}
    ordered = sorted(open_variants, key=lambda v: (reviewed.get(v, 0), v))
    found: list[str] = []
    for variant in ordered[:2]:
        query = base.where(extractions.c.variant == variant).order_by(func.random()).limit(BATCH)
        found += [str(i) for i in conn.execute(query).scalars()]
    return found


def _insert_ignore(conn: Connection, values: dict[str, Any]) -> bool:
    """Insert a lease unless one exists for that extraction; whether this call inserted it."""
    # RETURNING tells reliably whether the row went in (some drivers report rowcount -1 here).
    if conn.dialect.name == "postgresql":
        statement: Any = postgresql.insert(review_leases).values(values).on_conflict_do_nothing()
    elif conn.dialect.name == "sqlite":
        statement = sqlite.insert(review_leases).values(values).on_conflict_do_nothing()
    else:
        exists_now = select(review_leases.c.extraction_id).where(
            review_leases.c.extraction_id == values["extraction_id"]
        )
        if conn.execute(exists_now).first() is not None:
            return False
        statement = insert(review_leases).values(values)
    return conn.execute(statement.returning(review_leases.c.extraction_id)).first() is not None
