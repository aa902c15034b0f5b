"""Dashboard pages: per-variant figures, the log browser, one extraction with its diff and image."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from extractor.service.config import Variant
from pytest_listingeval.fake_openai import FakeOpenAI, faults
from tests.fakes.listing import DEFAULT_LISTING
from tests.service.conftest import AUTH, ClientFactory, StubExtractor, png, upload
from tests.service.seeds import stored_invalid_image

pytestmark = pytest.mark.service


@pytest.fixture
def seeded(make_client: ClientFactory, fake_openai: FakeOpenAI) -> tuple[TestClient, dict[str, str]]:
    """A service with a few ok, failed, rated and published extractions."""
    client = make_client(
        variants=(
            Variant("control", "gpt-4.1-mini", "default", 1),
            Variant("concise", "gpt-4.1", "concise", 1),
        )
    )
    ids: dict[str, str] = {}
    ids["ok"] = upload(client, user="u1").json()["id"]
    ids["ok2"] = upload(client, png((1, 2, 3)), user="u1").json()["id"]
    fake_openai.enqueue(faults.server_error(), faults.server_error())
    ids["error"] = upload(client, user="u1").json()["error"]["id"]
    ids["bad"] = stored_invalid_image(client, "u1")
    client.post(
        f"/v1/extractions/{ids['ok']}/feedback",
        json={"rating": "up", "comment": "<script>x</script>"},
    )
    client.post(f"/v1/extractions/{ids['ok2']}/feedback", json={"rating": "down"})
    client.post(f"/v1/extractions/{ids['ok']}/final", json={**DEFAULT_LISTING, "color": "black"})
    return client, ids


def _cell_row(html: str, variant: str) -> list[str]:
    match = re.search(rf"<tr><td>{variant}</td>(.*?)</tr>", html, re.S)
    assert match, variant
    return re.findall(r'<td class="num">(.*?)</td>', match.group(1))


def test_overview_shows_figures_per_variant(seeded: tuple[TestClient, dict[str, str]]) -> None:
    client, _ = seeded
    response = client.get("/dashboard?window=1h", headers=AUTH)
    assert response.status_code == 200
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    html = response.text
    variant = "control" if '<tr><td>control</td><td class="num">4' in html else "concise"
    cells = _cell_row(html, variant)
    # requests, error, empty, refusal, invalid images, p50, p95, thumbs up, rated, published
    assert cells[0] == "4"
    assert cells[1] == "33.3%"  # one error out of three served (the bad image is excluded)
    assert cells[2] == "0.0%"
    assert cells[4] == "1"
    assert cells[5].endswith(" ms") and cells[6].endswith(" ms")
    assert cells[7] == "50.0%" and cells[8] == "2" and cells[9] == "1"
    assert "<svg" in html and "correction rate per field" in html
    for window in ("24h", "7d", "all"):
        assert client.get(f"/dashboard?window={window}", headers=AUTH).status_code == 200


def test_overview_rejects_unknown_window(client: TestClient) -> None:
    response = client.get("/dashboard?window=2y", headers=AUTH)
    assert response.status_code == 400 and response.json()["error"]["type"] == "bad_request"


def test_logs_filter_by_status_rating_and_variant(
    seeded: tuple[TestClient, dict[str, str]],
) -> None:
    client, ids = seeded
    html = client.get("/dashboard/logs", headers=AUTH).text
    assert "4 matching" in html and all(i in html for i in ids.values())
    html = client.get("/dashboard/logs?status=error", headers=AUTH).text
    assert "1 matching" in html and ids["error"] in html and ids["ok"] not in html
    html = client.get("/dashboard/logs?rating=up", headers=AUTH).text
    assert "1 matching" in html and ids["ok"] in html
    html = client.get("/dashboard/logs?rating=none", headers=AUTH).text
    assert "2 matching" in html
    html = client.get("/dashboard/logs?variant=nobody", headers=AUTH).text
    assert "0 matching" in html


def test_logs_paginate(make_client: ClientFactory) -> None:
    client = make_client(extractor=StubExtractor())
    for i in range(55):
        upload(client, png((i, 0, 0)))
    first = client.get("/dashboard/logs", headers=AUTH).text
    assert "page 1 of 2" in first and "older" in first
    second = client.get("/dashboard/logs?page=2", headers=AUTH).text
    assert second.count("/dashboard/extractions/") == 5


def test_extraction_page_shows_output_final_diff_and_image(
    seeded: tuple[TestClient, dict[str, str]],
) -> None:
    client, ids = seeded
    html = client.get(f"/dashboard/extractions/{ids['ok']}", headers=AUTH).text
    assert DEFAULT_LISTING["title"] in html
    assert '<tr class="changed"><td>color</td><td>brown</td>\n<td>black</td>' in html
    assert "&lt;script&gt;x&lt;/script&gt;" in html and "<script>x" not in html
    assert f'src="/dashboard/extractions/{ids["ok"]}/image"' in html
    image = client.get(f"/dashboard/extractions/{ids['ok']}/image", headers=AUTH)
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert image.content == png()
    assert image.headers["x-content-type-options"] == "nosniff"


def test_non_image_upload_is_served_as_a_download(
    seeded: tuple[TestClient, dict[str, str]],
) -> None:
    client, ids = seeded
    response = client.get(f"/dashboard/extractions/{ids['bad']}/image", headers=AUTH)
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-disposition"] == "attachment"


def test_unknown_extraction_is_404(client: TestClient) -> None:
    assert client.get("/dashboard/extractions/nope", headers=AUTH).status_code == 404
    assert client.get("/dashboard/extractions/nope/image", headers=AUTH).status_code == 404
    assert client.get("/v1/extractions/nope", headers=AUTH).status_code == 404


def test_admin_json_view_of_one_extraction(seeded: tuple[TestClient, dict[str, str]]) -> None:
    client, ids = seeded
    body = client.get(f"/v1/extractions/{ids['ok']}", headers=AUTH).json()
    assert body["status"] == "ok" and body["corrected_fields"] == ["color"] and body["rating"] == "up"


def test_healthz_and_unknown_route(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    response = client.get("/nowhere")
    assert response.status_code == 404 and response.json()["error"]["type"] == "not_found"
