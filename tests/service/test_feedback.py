"""Thumbs and published listings: stored, counted, and the corrected fields computed right."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from extractor.service.extraction.corrections import corrected_fields, normalise
from extractor.service.storage.store import Store
from pytest_listingeval.fake_openai import FakeOpenAI, faults
from tests.fakes.listing import DEFAULT_LISTING
from tests.service.conftest import AUTH, upload

pytestmark = pytest.mark.service


def _metrics(client: TestClient) -> str:
    return client.get("/metrics", headers=AUTH).text


def test_feedback_is_stored_and_counted(client: TestClient, store: Store) -> None:
    extraction = upload(client).json()["id"]
    response = client.post(f"/v1/extractions/{extraction}/feedback", json={"rating": "down", "comment": "wrong colour"})
    assert response.status_code == 204 and response.content == b""
    row = store.get(extraction)
    assert row is not None and (row.rating, row.comment) == ("down", "wrong colour")
    assert 'listingeval_feedback_total{rating="down",variant="default"} 1.0' in _metrics(client)


def test_feedback_unknown_id_is_404(client: TestClient) -> None:
    response = client.post("/v1/extractions/nope/feedback", json={"rating": "up"})
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found"


@pytest.mark.parametrize(
    "body",
    [
        {"rating": "meh"},
        {},
        {"rating": "up", "extra": 1},
        "not json",
        {"rating": "up", "comment": 5},
    ],
)
def test_bad_feedback_body_is_400_json(client: TestClient, body: Any) -> None:
    extraction = upload(client).json()["id"]
    if isinstance(body, str):
        response = client.post(
            f"/v1/extractions/{extraction}/feedback",
            content=body,
            headers={"Content-Type": "application/json"},
        )
    else:
        response = client.post(f"/v1/extractions/{extraction}/feedback", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "bad_request"


def test_final_listing_records_corrected_fields(client: TestClient, store: Store) -> None:
    extraction = upload(client).json()["id"]
    final = {
        **DEFAULT_LISTING,
        "title": "  WOODEN   acoustic guitar ",  # same after normalisation
        "description": "Solid spruce top, light wear.",  # changed
        "color": "beige",  # changed
        "brand": "",  # null and empty are the same
    }
    response = client.post(f"/v1/extractions/{extraction}/final", json=final)
    assert response.status_code == 204
    row = store.get(extraction)
    assert row is not None
    assert row.corrected_fields == ["description", "color"]
    assert row.final_listing is not None and row.final_listing["color"] == "beige"
    text = _metrics(client)
    assert 'listingeval_corrections_total{field="color",variant="default"} 1.0' in text
    assert 'listingeval_finals_total{variant="default"} 1.0' in text
    # Publishing again replaces the earlier corrections.
    assert client.post(f"/v1/extractions/{extraction}/final", json=DEFAULT_LISTING).status_code == 204
    again = store.get(extraction)
    assert again is not None and again.corrected_fields == []


def test_final_after_a_failed_extraction_counts_every_filled_field(
    client: TestClient, store: Store, fake_openai: FakeOpenAI
) -> None:
    fake_openai.enqueue(faults.refusal())
    extraction = upload(client).json()["error"]["id"]
    assert client.post(f"/v1/extractions/{extraction}/final", json=DEFAULT_LISTING).status_code == 204
    row = store.get(extraction)
    assert row is not None
    assert row.corrected_fields == ["title", "description", "category", "color", "condition"]


@pytest.mark.parametrize(
    "body",
    [{**DEFAULT_LISTING, "category": "spaceship"}, {"title": "x"}, {**DEFAULT_LISTING, "x": 1}],
)
def test_invalid_final_listing_is_400(client: TestClient, body: dict[str, Any]) -> None:
    extraction = upload(client).json()["id"]
    response = client.post(f"/v1/extractions/{extraction}/final", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "bad_request"


def test_final_unknown_id_is_404(client: TestClient) -> None:
    assert client.post("/v1/extractions/nope/final", json=DEFAULT_LISTING).status_code == 404


def test_normalise_and_diff() -> None:
    assert normalise("  \uff26\uff45nder\tStratocaster ") == "fender stratocaster"
    assert normalise("") is None and normalise(None) is None
    assert normalise("STRASSE") == normalise("straße")
    assert corrected_fields({"brand": None, "title": "A"}, {"brand": " ", "title": "a"}) == []
    output = {**DEFAULT_LISTING}
    assert corrected_fields(output, {**output, "condition": "new"}) == ["condition"]
