"""Photos stored before uploads were stripped lose their metadata (EXIF with GPS, XMP, ICC, comments, text).

Each image is stripped exactly as an upload is today (`strip_metadata`). A photo whose bytes
change gets the key of its new bytes: the clean row is added (or found, when the same photo was
uploaded again later), every extraction pointing at the old key is moved to it, and the old row,
metadata and all, is deleted. Photos without metadata are left byte for byte.
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op

from extractor.service.api.uploads import sniff, strip_metadata

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BATCH = 100
# Re-encoding (a photo with an orientation tag) keeps at most this many bytes, as the default upload limit does.
MAX_BYTES = 20 * 1024 * 1024

_images = sa.table(
    "images",
    sa.column("sha256", sa.String),
    sa.column("data", sa.LargeBinary),
    sa.column("size", sa.Integer),
    sa.column("content_type", sa.String),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
_extractions = sa.table("extractions", sa.column("image_sha256", sa.String))


def upgrade() -> None:
    """Strip every stored photo, re-keying the ones whose bytes change."""
    bind = op.get_bind()
    written: set[str] = set()
    after = ""
    while True:
        rows = bind.execute(
            sa.select(_images).where(_images.c.sha256 > after).order_by(_images.c.sha256).limit(BATCH)
        ).all()
        if not rows:
            return
        after = rows[-1].sha256
        for row in rows:
            if row.sha256 in written:
                continue  # already the clean copy of another row
            data = bytes(row.data)
            clean = strip_metadata(data, max(MAX_BYTES, len(data)))
            if clean == data:
                continue
            key = hashlib.sha256(clean).hexdigest()
            written.add(key)
            values = {
                "sha256": key,
                "data": clean,
                "size": len(clean),
                "content_type": sniff(clean),
                "created_at": row.created_at,
            }
            if bind.execute(sa.select(_images.c.sha256).where(_images.c.sha256 == key)).first() is None:
                bind.execute(sa.insert(_images).values(values))
            bind.execute(
                sa.update(_extractions).where(_extractions.c.image_sha256 == row.sha256).values(image_sha256=key)
            )
            bind.execute(sa.delete(_images).where(_images.c.sha256 == row.sha256))


def downgrade() -> None:
    """Nothing to undo: the metadata is gone on purpose."""
