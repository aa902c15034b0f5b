"""What shadow calls found: per field, how often the shadow agrees with the answer users saw and with the seller."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select

from extractor.service.extraction.corrections import FIELDS, normalise
from extractor.service.storage.tables import extractions, shadow_results
from pytest_listingeval import wilson_interval


@dataclass(frozen=True)
class Agreement:
    """Matches out of comparisons, with a 95 % Wilson interval."""

    matches: int
    n: int

    @property
    def rate(self) -> float | None:
        """Share that matched."""
        return self.matches / self.n if self.n else None

    def to_json(self) -> dict[str, Any]:
        """Rate, counts and interval."""
        return {
            "rate": self.rate,
            "matches": self.matches,
            "n": self.n,
            "ci": wilson_interval(self.matches, self.n) if self.n else None,
        }


@dataclass(frozen=True)
class FieldAgreement:
    """One field: the shadow against the served answer, and each against the seller's published listing."""

    field: str
    with_served: Agreement
    shadow_with_final: Agreement
    served_with_final: Agreement


@dataclass(frozen=True)
class ShadowReport:
    """Shadow calls of one variant: how they ended and how their answers compare."""

    variant: str
    calls: int
    statuses: dict[str, int]
    fields: tuple[FieldAgreement, ...]

    def to_json(self) -> dict[str, Any]:
        """JSON for the status output and the API."""
        return {
            "variant": self.variant,
            "calls": self.calls,
            "statuses": self.statuses,
            "fields": {
                f.field: {
                    "with_served": f.with_served.to_json(),
                    "shadow_with_final": f.shadow_with_final.to_json(),
                    "served_with_final": f.served_with_final.to_json(),
                }
                for f in self.fields
            },
        }


def shadow_report(engine: Engine, variant: str | None) -> ShadowReport | None:
    """The report for `variant`, or for the latest variant with shadow results; None when there are none."""
    with engine.connect() as conn:
        if variant is None:
            variant = conn.execute(
                select(shadow_results.c.variant).order_by(shadow_results.c.created_at.desc()).limit(1)
            ).scalar()
            if variant is None:
                return None
        rows = conn.execute(
            select(
                shadow_results.c.status,
                shadow_results.c.output.label("shadow"),
                extractions.c.status.label("served_status"),
                extractions.c.output.label("served"),
                extractions.c.final_listing,
            )
            .join(extractions, extractions.c.id == shadow_results.c.extraction_id)
            .where(shadow_results.c.variant == variant)
        ).all()
    statuses = Counter(row.status for row in rows)
    counts = {name: [0] * 5 for name in FIELDS}
    for row in rows:
        if row.status != "ok" or row.served_status != "ok" or not row.shadow or not row.served:
            continue
        for name in FIELDS:
            shadow, served = normalise(row.shadow.get(name)), normalise(row.served.get(name))
            tally = counts[name]
            tally[0] += shadow == served
            tally[1] += 1
            if row.final_listing is not None:
                final = normalise(row.final_listing.get(name))
                tally[2] += shadow == final
                tally[3] += served == final
                tally[4] += 1
    fields = tuple(
        FieldAgreement(name, Agreement(t[0], t[1]), Agreement(t[2], t[4]), Agreement(t[3], t[4]))
        for name, t in counts.items()
    )
    return ShadowReport(variant, len(rows), dict(sorted(statuses.items())), fields)
