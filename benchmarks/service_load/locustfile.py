"""Locust users for the service load benchmark: each posts one photo, then rates a few."""

from __future__ import annotations

import io
import json
import os
import random
import uuid
from pathlib import Path
from typing import Any

from locust import HttpUser, between, events, task
from PIL import Image


def _photo() -> bytes:
    """A 1024x768 JPEG with a gradient (the service re-encodes it like a real photo)."""
    image = Image.new("RGB", (1024, 768))
    image.putdata([(x % 256, y % 256, (x + y) % 256) for y in range(768) for x in range(1024)])
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85)
    return out.getvalue()


PHOTO = _photo()
THINK_S = float(os.environ.get("BENCH_THINK_S", "0"))
EXTRACT = "POST /v1/extractions"
# Exact response times (locust's own percentiles are rounded to two significant digits).
SAMPLES: list[float] = []


@events.request.add_listener
def _record(name: str, response_time: float, exception: Any, **_: Any) -> None:
    if name == EXTRACT and exception is None:
        SAMPLES.append(response_time)


@events.quitting.add_listener
def _save(**_: Any) -> None:
    target = os.environ.get("BENCH_SAMPLES")
    if target:
        Path(target).write_text(json.dumps(SAMPLES))


class Seller(HttpUser):
    """A seller uploading photos; a tenth of them leave a thumb."""

    wait_time = between(THINK_S, THINK_S)

    def on_start(self) -> None:
        """Each simulated seller has a stable user id, so it sticks to one variant."""
        self.user_id = f"bench-{uuid.uuid4().hex[:12]}"

    @task
    def extract(self) -> None:
        """POST /v1/extractions with the photo."""
        files = {"image": ("photo.jpg", PHOTO, "image/jpeg")}
        with self.client.post(
            "/v1/extractions",
            files=files,
            headers={"X-User-Id": self.user_id},
            name=EXTRACT,
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code}: {response.text[:200]}")
                return
            extraction = response.json()["id"]
        if random.random() < 0.1:
            self.client.post(
                f"/v1/extractions/{extraction}/feedback",
                json={"rating": "up"},
                name="POST /v1/extractions/{id}/feedback",
            )
