"""Writing one eval case (YAML and image) from a stored extraction and its review or published listing."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from sqlalchemy import Engine, select

from extractor.promote.duplicates import ImageIndex
from extractor.promote.expected import expected_checks
from extractor.schema import Listing
from extractor.service.extraction.corrections import FIELDS
from extractor.service.review.store import ReviewStore
from extractor.service.storage.records import Row, as_utc, utcnow
from extractor.service.storage.store import Store
from extractor.service.storage.tables import extractions
from pytest_listingeval import CaseError, load_case, run_checks

Origin = Literal["review", "final"]
Problem = Literal["missing", "duplicate", "exists", "invalid"]
_SUFFIXES = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp", "image/gif": ".gif"}
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)*")
PREFIX = "production"


class PromoteError(Exception):
    """Why an extraction cannot become a case; `problem` tells a bulk run what to count."""

    def __init__(self, message: str, problem: Problem = "invalid"):
        super().__init__(message)
        self.problem = problem


@dataclass(frozen=True)
class Promoted:
    """A written case: its id, its YAML file and its image."""

    case_id: str
    case_path: Path
    image_path: Path
    extraction_id: str
    origin: Origin


class Promoter:
    """Promotes extractions from one database into one cases folder, refusing duplicates."""

    def __init__(self, engine: Engine, cases_dir: Path):
        self.store = Store(engine)
        self.reviews = ReviewStore(engine)
        self.cases_dir = cases_dir
        self._index: ImageIndex | None = None

    @property
    def index(self) -> ImageIndex:
        """The images already in the cases folder (read on first use)."""
        if self._index is None:
            self._index = ImageIndex(self.cases_dir)
        return self._index

    def resolve(self, ident: str) -> str:
        """The full extraction id for an id or a unique prefix of one."""
        if not re.fullmatch(r"[0-9a-fA-F-]{1,36}", ident):
            raise PromoteError(f"{ident!r} is not an extraction id", "missing")
        with self.store.engine.connect() as conn:
            found = list(
                conn.execute(select(extractions.c.id).where(extractions.c.id.startswith(ident.lower())).limit(3))
                .scalars()
                .all()
            )
        if ident.lower() in found:
            return ident.lower()
        if len(found) == 1:
            return str(found[0])
        if not found:
            raise PromoteError(f"no extraction with id {ident!r}", "missing")
        raise PromoteError(f"{ident!r} is the prefix of several extractions; give more of the id", "missing")

    def reviewed_since(self, since: datetime | None) -> list[str]:
        """Ids of extractions reviewed at or after `since`, oldest review first."""
        return self.reviews.reviewed_since(since)

    def promote(self, ident: str, origin: Origin = "review", case_name: str | None = None) -> Promoted:
        """Write `cases/<name>.yaml` and `cases/images/<name>.<ext>`; never overwrites anything."""
        extraction_id = self.resolve(ident)
        row = self.store.get(extraction_id)
        assert row is not None
        values, provenance = self._values(row, origin)
        name = case_name or f"{PREFIX}/{extraction_id[:8]}"
        if not _NAME.fullmatch(name) or ".." in name.split("/"):
            raise PromoteError(f"case id {name!r} must be a relative path of letters, digits, '_', '.', '-' and '/'")
        found = self.store.image(row.image_sha256) if row.image_sha256 else None
        if found is None:
            raise PromoteError(f"extraction {extraction_id} has no stored image", "missing")
        data, content_type = found
        suffix = _SUFFIXES.get(content_type)
        if suffix is None:
            raise PromoteError(f"extraction {extraction_id}: the upload is not a png, jpeg, webp or gif image")
        case_path = self.cases_dir / f"{name}.yaml"
        image_path = self.cases_dir / "images" / f"{name}{suffix}"
        for path in (case_path, image_path):
            if path.exists():
                raise PromoteError(f"{path.as_posix()} already exists; pick another --case-id", "exists")
        duplicate = self.index.duplicate_of(data)
        if duplicate is not None:
            raise PromoteError(f"extraction {extraction_id[:8]}: {duplicate}", "duplicate")
        document = {
            "image": Path(os.path.relpath(image_path, case_path.parent)).as_posix(),
            "expected": expected_checks(values),
            "tags": ["from-production", f"variant-{row.variant}"],
            "notes": f"Promoted from production extraction {extraction_id} ({row.variant}); {provenance}.",
            "source": _source(row, origin),
        }
        self._write(case_path, image_path, data, document, values)
        self.index.add(image_path, data)
        return Promoted(name, case_path, image_path, extraction_id, origin)

    def _values(self, row: Row, origin: Origin) -> tuple[dict[str, Any], str]:
        """The right value of each field and a phrase saying where they came from."""
        if origin == "final":
            if row.final_listing is None:
                raise PromoteError(f"extraction {row.id} has no published listing; try --from review", "missing")
            return {f: row.final_listing.get(f) for f in FIELDS}, "expected values from the seller's published listing"
        review = self.reviews.latest(row.id)
        if review is None:
            raise PromoteError(
                f"extraction {row.id} has no review; review it at /review or use --from final", "missing"
            )
        output = row.output or {}
        values = {f: output.get(f) if v.correct else v.value for f, v in review.fields.items() if f in FIELDS}
        when = as_utc(review.created_at).date().isoformat()
        note = f"expected values from the review by {review.annotator} on {when}"
        return values, note + (f" ({review.comment})" if review.comment else "")

    def _write(
        self, case_path: Path, image_path: Path, data: bytes, document: dict[str, Any], values: dict[str, Any]
    ) -> None:
        """Write both files (exclusively), then load the case back and check it passes on its own values."""
        image_path.parent.mkdir(parents=True, exist_ok=True)
        case_path.parent.mkdir(parents=True, exist_ok=True)
        text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=110)
        try:
            with image_path.open("xb") as image_file:
                image_file.write(data)
        except FileExistsError as exc:
            raise PromoteError(f"{image_path.as_posix()} already exists", "exists") from exc
        try:
            with case_path.open("x", encoding="utf-8") as case_file:
                case_file.write(text)
        except FileExistsError as exc:
            image_path.unlink()
            raise PromoteError(f"{case_path.as_posix()} already exists", "exists") from exc
        try:
            case = load_case(case_path, self.cases_dir, Listing)
            failed = [
                f for f, checks in case.checks.items() if not all(o.passed for o in run_checks(checks, values[f]))
            ]
        except CaseError as exc:
            failed = [str(exc)]
        if failed:
            case_path.unlink()
            image_path.unlink()
            raise PromoteError(f"the case built for {case_path.as_posix()} would not pass on its own values: {failed}")


def _source(row: Row, origin: Origin) -> dict[str, Any]:
    return {
        "extraction": row.id,
        "from": origin,
        "variant": row.variant,
        "model": row.model,
        "prompt_id": row.prompt_id,
        "created_at": as_utc(row.created_at).isoformat(),
        "image_sha256": row.image_sha256,
        "promoted_at": utcnow().replace(microsecond=0).isoformat(),
    }
