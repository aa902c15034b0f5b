"""Flagging extractions an online check failed for review first (`cases promote --from-online CHECK`)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Engine, and_, exists, func, not_, select, update

from extractor.service.storage.db import write_transaction
from extractor.service.storage.tables import extractions, online_results, reviews

FLAG_PREFIX = "online:"
FLAG_LENGTH = 200
KNOWN_SHOWN = 10


class UnknownCheck(Exception):
    """No online result names this check; the message lists some that do."""


@dataclass(frozen=True)
class Flagged:
    """What one run flagged, and how many matching rows an earlier run had flagged already."""

    check: str
    flagged: int
    already: int


def review_flag(check: str) -> str:
    """The `review_flag` written for rows this check failed."""
    return f"{FLAG_PREFIX}{check}"[:FLAG_LENGTH]


def _waiting(check: str) -> ColumnElement[bool]:
    """Reviewable (ok) extractions the check failed on and nobody has reviewed."""
    failed = exists().where(
        online_results.c.extraction_id == extractions.c.id,
        online_results.c.check == check,
        online_results.c.result == "fail",
    )
    reviewed = exists().where(reviews.c.extraction_id == extractions.c.id)
    return and_(extractions.c.status == "ok", failed, not_(reviewed))


def _known(engine: Engine, check: str) -> None:
    """Refuse a check no online result names: a typo would otherwise flag nothing, silently."""
    with engine.connect() as conn:
        if conn.execute(select(online_results.c.check).where(online_results.c.check == check).limit(1)).first():
            return
        names = [
            str(n)
            for n in conn.execute(
                select(online_results.c.check).distinct().order_by(online_results.c.check).limit(KNOWN_SHOWN + 1)
            ).scalars()
        ]
    if not names:
        raise UnknownCheck("the database holds no online check result yet (is online evaluation running?)")
    shown = ", ".join(names[:KNOWN_SHOWN]) + (" and more" if len(names) > KNOWN_SHOWN else "")
    raise UnknownCheck(f"no online result for check {check!r}; checks with results: {shown}")


def flag_failed(engine: Engine, check: str, limit: int | None = None) -> Flagged:
    """Flag the unreviewed extractions `check` failed on (the newest first, at most `limit`); keeps existing flags."""
    _known(engine, check)
    waiting = _waiting(check)
    chosen = (
        select(extractions.c.id)
        .where(waiting, extractions.c.review_flag.is_(None))
        .order_by(extractions.c.created_at.desc(), extractions.c.id)
        .limit(limit)
    )
    with write_transaction(engine) as conn:
        ids = conn.execute(
            update(extractions)
            .where(extractions.c.id.in_(chosen), extractions.c.review_flag.is_(None))
            .values(review_flag=review_flag(check))
            .returning(extractions.c.id)
        ).all()
        already = conn.execute(
            select(func.count()).select_from(extractions).where(waiting, extractions.c.review_flag.is_not(None))
        ).scalar_one()
    return Flagged(check, len(ids), int(already) - len(ids))
