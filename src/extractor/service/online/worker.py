"""The background worker that scores finished rows: claim, check, judge a sample within the budget, write once.

It runs beside the app (started by `Runner.background`) and a user's request does nothing for
it but `wake` it. Database work runs in threads under the worker's own limiter and judge calls
on their own thread pool, so neither takes a thread a request would use. The judge lanes take
rows from a bounded queue; when they fall that far behind, claiming waits (the backlog gauge
shows it) rather than holding more rows in memory.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import TypeVar

import anyio
from sqlalchemy import Engine

from extractor.judge import Grade
from extractor.service.extraction.metrics import Metrics
from extractor.service.online import store
from extractor.service.online.grader import Grader
from extractor.service.online.scoring import Result, Verdict, clip, judge_sampled, score
from extractor.service.online.settings import JudgeRubric, OnlineSettings
from extractor.service.online.store import Budget, Claimed, Scored, Written
from extractor.service.storage.durability import TRANSIENT_ERRORS, Throttle, describe
from extractor.service.storage.records import as_utc, utcnow
from pytest_listingeval.paths import value_at

T = TypeVar("T")
log = logging.getLogger(__name__)
BATCH = 100
# Rows waiting for a judge lane, per lane.
QUEUE_PER_LANE = 4
# After a wake-up, wait this long so a burst of finishing requests is claimed in one pass.
COALESCE_S = 0.05
# Older rows get their checks but no judge: turning online evaluation on over a long history, or
# catching up after an outage, must not spend the day's judge budget on old traffic.
JUDGE_MAX_AGE = timedelta(days=1)


class OnlineWorker:
    """Scores every finished extraction once; several replicas share the work through leases."""

    def __init__(self, settings: OnlineSettings, engine: Engine, metrics: Metrics, grader: Grader | None):
        self.settings = settings
        self.engine = engine
        self.metrics = metrics
        self.grader = grader
        self.budget = Budget.of(settings)
        self.lanes = settings.judge_max_concurrency if settings.judges and grader is not None else 0
        self._pool = ThreadPoolExecutor(max(1, self.lanes), thread_name_prefix="listingeval-judge")
        self._queue: asyncio.Queue[Scored] = asyncio.Queue(max(1, self.lanes * QUEUE_PER_LANE))
        self._wake = asyncio.Event()
        self._changed = asyncio.Condition()
        self._limiter: anyio.CapacityLimiter | None = None
        self._judging = 0
        self._started = 0
        self._idle_after = -1

    def wake(self) -> None:
        """Look for rows to score now (a request just finished); never waits."""
        self._wake.set()

    async def run_forever(self) -> None:
        """Score passes until cancelled: at once, then whenever woken or every `interval_s` seconds."""
        self._limiter = anyio.CapacityLimiter(1 + self.lanes)
        unavailable = Throttle(log, every_s=max(10.0, self.settings.interval_s))
        async with anyio.create_task_group() as group:
            for _ in range(self.lanes):
                group.start_soon(self._judge_lane, unavailable)
            while True:
                self._started += 1
                number, claimed = self._started, 0
                try:
                    claimed = await self._pass()
                    waiting = await self._in_thread(lambda: store.backlog(self.engine))
                    self.metrics.online_backlog.set(waiting)
                except TRANSIENT_ERRORS as exc:
                    unavailable.warning(f"online scoring: database unavailable ({describe(exc)})")
                except Exception:
                    # A worker that dies would silently stop scoring; keep going.
                    log.exception("online scoring: a pass failed")
                if claimed == 0 and self._judging == 0:
                    self._idle_after = number
                    async with self._changed:
                        self._changed.notify_all()
                if claimed < BATCH:
                    await self._rest()

    async def drain(self) -> None:
        """Wait until a pass started after this call found nothing to claim and no judge call is left."""
        after = self._started
        self.wake()
        async with self._changed:
            await self._changed.wait_for(lambda: self._idle_after > after)

    def close(self) -> None:
        """Stop taking judge calls; a call already running finishes in the background, unstored."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def _rest(self) -> None:
        with anyio.move_on_after(self.settings.interval_s):
            await self._wake.wait()
        self._wake.clear()
        await anyio.sleep(COALESCE_S)

    async def _pass(self) -> int:
        """Claim a batch, store the rows that need no judge, queue the sampled ones; how many were claimed."""
        claimed, queued, written = await self._in_thread(self._claim_and_score)
        self._count(written)
        for item in queued:
            self._judging += 1
            await self._queue.put(item)
        return claimed

    def _claim_and_score(self) -> tuple[int, list[Scored], Written]:
        """(Blocking) claim, apply the checks, and write the rows that need no judge in one transaction."""
        now = utcnow()
        rows = store.claim(self.engine, BATCH, self.settings.claim_lease_s, now)
        plain: list[Scored] = []
        queued: list[Scored] = []
        for row in rows:
            # Only a served listing is checked: other statuses have no output the user saw.
            if row.status != "ok" or not isinstance(row.output, dict):
                plain.append(Scored(row, ()))
                continue
            item = Scored(row, tuple(score(row.output, self.settings.checks)))
            recent = as_utc(row.created_at) >= now - JUDGE_MAX_AGE
            sampled = self.lanes and recent and judge_sampled(row.id, self.settings.judge_sample)
            (queued if sampled else plain).append(item)
        written = store.finish(self.engine, plain, utcnow()) if plain else Written()
        return len(rows), queued, written

    async def _judge_lane(self, unavailable: Throttle) -> None:
        while True:
            item = await self._queue.get()
            try:
                await self._judge(item)
            except TRANSIENT_ERRORS as exc:
                # The row keeps its claim; once the lease lapses a pass claims it again.
                unavailable.warning(f"online judge: database unavailable ({describe(exc)})")
            except Exception:
                log.exception("online judge: extraction %s was not judged", item.row.id)
            finally:
                self._judging -= 1
                if self._judging == 0:
                    self.wake()

    async def _judge(self, item: Scored) -> None:
        row = item.row
        judges = self.settings.judges
        reservation = await self._in_thread(lambda: store.reserve(self.engine, row, judges, self.budget, utcnow()))
        if reservation is None:
            return  # another replica holds the row now
        for _ in reservation.over_budget:
            self.metrics.online_judge.labels(row.variant, "over_budget").inc()
        verdicts = list(item.verdicts)
        if reservation.admitted:
            photo = await self._in_thread(lambda: store.image(self.engine, row.image_sha256))
            for judge in reservation.admitted:
                grade = await self._grade(photo, judge, row)
                verdicts.append(self._verdict(judge, grade))
        written = await self._in_thread(lambda: store.finish(self.engine, [Scored(row, tuple(verdicts))], utcnow()))
        self._count(written)

    async def _grade(self, photo: bytes | None, judge: JudgeRubric, row: Claimed) -> Grade:
        if photo is None:
            return Grade(None, "the photo is no longer stored")
        assert self.grader is not None and row.output is not None
        grader, value = self.grader, value_at(row.output, judge.field).value
        call = self._pool.submit(grader.grade, photo, judge.rubric, judge.field, value, self.settings.judge_model)
        try:
            return await asyncio.wrap_future(call)
        except Exception as exc:  # a grader's own failure is an error verdict, never the worker's
            return Grade(None, f"the judge failed: {type(exc).__name__}: {exc}")

    def _verdict(self, judge: JudgeRubric, grade: Grade) -> Verdict:
        price = self.settings.judge_price
        cost = None if price is None else price.cost(grade.usage.input_tokens, grade.usage.output_tokens)
        result: Result = "error" if grade.passed is None else "pass" if grade.passed else "fail"
        reason = clip(grade.reason) if grade.reason else result
        return Verdict(judge.name, judge.field, "judge", result, reason, judge.version, cost)

    def _count(self, written: Written) -> None:
        for item in written.scored:
            for verdict in item.verdicts:
                if verdict.kind == "judge":
                    self.metrics.online_judge.labels(item.row.variant, verdict.result).inc()
                else:
                    self.metrics.online_checks.labels(item.row.variant, verdict.check, verdict.result).inc()
        for variant, count in written.interrupted.items():
            self.metrics.online_judge.labels(variant, "error").inc(count)

    async def _in_thread(self, func: Callable[[], T]) -> T:
        return await anyio.to_thread.run_sync(func, limiter=self._limiter)
