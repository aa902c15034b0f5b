"""Rows the API no longer writes, stored directly for tests that need them on a page."""

from __future__ import annotations

import hashlib
import uuid

from fastapi.testclient import TestClient

from extractor.service.extraction.runner import Runner
from extractor.service.storage.records import Finished, Pending, Upload, utcnow
from tests.service.conftest import service_app


def stored_invalid_image(client: TestClient, user_id: str, data: bytes = b"nope") -> str:
    """Store an `invalid_image` row with its bytes, as older versions did for a refused upload; its id."""
    runner: Runner = service_app(client).state.runner
    variant = runner.assignment(user_id)[1].variant
    upload = Upload(data=data, sha256=hashlib.sha256(data).hexdigest(), content_type="application/octet-stream")
    pending = Pending(
        id=uuid.uuid4().hex,
        user_id=user_id,
        variant=variant.name,
        model=variant.model,
        prompt_id=f"{variant.prompt}-seed",
        upload=upload,
        created_at=utcnow(),
    )
    runner.store.start(pending)
    message = "the file is not an image Pillow can read"
    runner.store.finish(pending.id, Finished("invalid_image", error_type="invalid_image", error_message=message))
    return pending.id
