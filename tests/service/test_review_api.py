"""POST /v1/reviews (validation, auth) and the /review annotator page with its plain-form fallback."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from extractor.service.review.queue import ReviewQueue
from extractor.service.review.store import ReviewStore
from extractor.service.storage.store import Store
from tests.fakes.listing import DEFAULT_LISTING
from tests.service.conftest import AUTH, ClientFactory, StubExtractor
from tests.service.test_review_helpers import seed
from tests.service.test_session_helpers import OWN, csrf_of, sign_in

pytestmark = pytest.mark.service


@pytest.fixture
def service(make_client: ClientFactory) -> TestClient:
    """A service whose model is a stub (the rows are seeded directly)."""
    return make_client(extractor=StubExtractor())


def _body(extraction_id: str, **fields: Any) -> dict[str, Any]:
    return {"extraction_id": extraction_id, "annotator": "alice", "fields": fields}


def test_review_is_stored_with_the_right_values_and_releases_the_lease(service: TestClient, store: Store) -> None:
    extraction_id = seed(store, output={**DEFAULT_LISTING, "brand": "Yamaha"})
    queue = ReviewQueue(store.engine, 600)
    assert queue.next("alice") == extraction_id
    body = _body(
        extraction_id,
        title={"correct": True},
        category={"correct": False, "value": "home_garden"},
        brand={"correct": False, "value": "  "},  # blank brand: no brand visible
        color={"correct": True, "value": "ignored when right"},
    )
    body["comment"] = "a teapot"
    response = service.post("/v1/reviews", json=body, headers=AUTH)
    assert response.status_code == 201, response.text
    stored = response.json()
    assert stored["extraction_id"] == extraction_id and stored["variant"] == "control"
    assert stored["fields"] == {
        "title": {"correct": True, "value": DEFAULT_LISTING["title"]},
        "category": {"correct": False, "value": "home_garden"},
        "brand": {"correct": False, "value": None},
        "color": {"correct": True, "value": DEFAULT_LISTING["color"]},
    }
    assert queue.held("alice") is None
    latest = ReviewStore(store.engine).latest(extraction_id)
    assert latest is not None and latest.comment == "a teapot" and latest.fields["category"].value == "home_garden"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"colour": {"correct": True}}, "fields.colour: unknown field"),
        ({"color": {"correct": False, "value": "teal"}}, "fields.color: value 'teal' is not allowed"),
        ({"condition": {"correct": False, "value": "mint"}}, "fields.condition: value 'mint' is not allowed"),
        ({"title": {"correct": False, "value": "x" * 81}}, "at most 80 characters"),
        ({"title": {"correct": False, "value": ""}}, "at least 1 character"),
        ({"category": {"correct": False}}, "fields.category: a field marked wrong needs its right value"),
        ({"color": {"correct": "yes"}}, "fields.color.correct: Input should be a valid boolean"),
        ({"color": {"correct": True, "sure": 1}}, "fields.color.sure: Extra inputs are not permitted"),
        ({"color": {"correct": False, "value": "BROWN"}}, "is not allowed"),
        ({"brand": {"correct": False, "value": None}}, "fields.brand: marked wrong, but the value is the model's own"),
        ({}, "fields: Dictionary should have at least 1 item"),
    ],
)
def test_bad_reviews_are_400_with_a_message(
    service: TestClient, store: Store, fields: dict[str, Any], message: str
) -> None:
    extraction_id = seed(store)
    response = service.post("/v1/reviews", json=_body(extraction_id, **fields), headers=AUTH)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "bad_request" and message in error["message"]
    assert ReviewStore(store.engine).latest(extraction_id) is None


def test_malformed_bodies_and_unknown_or_failed_extractions(service: TestClient, store: Store) -> None:
    ok = seed(store)
    for raw in (b"", b"{", b"[]", b'{"extraction_id": "x"}'):
        response = service.post("/v1/reviews", content=raw, headers={**AUTH, "Content-Type": "application/json"})
        assert response.status_code == 400 and response.json()["error"]["type"] == "bad_request"
    extra = {**_body(ok, color={"correct": True}), "score": 3}
    assert service.post("/v1/reviews", json=extra, headers=AUTH).status_code == 400
    missing = service.post("/v1/reviews", json=_body("nope", color={"correct": True}), headers=AUTH)
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found"
    failed = seed(store, status="error")
    conflict = service.post("/v1/reviews", json=_body(failed, color={"correct": True}), headers=AUTH)
    assert conflict.status_code == 409 and conflict.json()["error"]["type"] == "not_reviewable"


def test_reviews_need_the_admin_token(make_client: ClientFactory, store: Store) -> None:
    extraction_id = seed(store)
    body = _body(extraction_id, color={"correct": True})
    service = make_client(extractor=StubExtractor())
    assert service.post("/v1/reviews", json=body).status_code == 401
    wrong = service.post("/v1/reviews", json=body, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.json()["error"]["type"] == "unauthorized"
    assert service.get("/review?annotator=a").status_code == 401
    assert service.post("/review", data={"extraction_id": extraction_id}).status_code == 401
    off = make_client(extractor=StubExtractor(), admin_token=None)
    assert off.post("/v1/reviews", json=body).status_code == 503
    assert off.get("/review").status_code == 503


def test_signed_in_browser_uses_the_page_and_the_api(make_client: ClientFactory, store: Store) -> None:
    service = make_client(extractor=StubExtractor(), allow_plain_http=True)
    extraction_id = seed(store)
    login = sign_in(service, "/review?annotator=bob")
    assert login.status_code == 303 and login.headers["location"] == "/review?annotator=bob"
    page = service.get("/review?annotator=bob")  # the cookie alone now
    assert page.status_code == 200 and f'value="{extraction_id}"' in page.text
    token = csrf_of(page.text)
    assert 'headers["X-CSRF-Token"] = form.elements.csrf_token.value' in page.text  # what the page's script sends
    body = {**_body(extraction_id, color={"correct": True}), "annotator": "bob"}
    posted = service.post("/v1/reviews", json=body, headers={**OWN, "X-CSRF-Token": token})
    assert posted.status_code == 201


def test_page_asks_for_a_name_then_shows_the_leased_item(service: TestClient, store: Store) -> None:
    extraction_id = seed(store, rating="down")
    start = service.get("/review", headers=AUTH)
    assert start.status_code == 200 and 'name="annotator"' in start.text and "<script" not in start.text
    page = service.get("/review?annotator=carol&strategy=thumbs_down", headers=AUTH)
    html = page.text
    assert f'src="/dashboard/extractions/{extraction_id}/image"' in html
    assert DEFAULT_LISTING["title"] in html and 'name="title.right"' in html and 'name="color.value"' in html
    assert '<option value="brown" selected>' in html
    nonce = re.search(r'<script nonce="([^"]+)">', html)
    assert nonce and f"script-src 'nonce-{nonce.group(1)}'" in page.headers["content-security-policy"]
    assert re.search(r'id="skip" href="/review\?annotator=carol&amp;strategy=thumbs_down&amp;skip=\w+"', html)
    assert ReviewQueue(store.engine, 600).held("carol") == extraction_id
    assert service.get("/review?annotator=dave", headers=AUTH).text.count('id="queue-empty"') == 1
    bad = service.get("/review?annotator=carol&strategy=newest", headers=AUTH)
    assert bad.status_code == 400 and "strategy must be one of" in bad.json()["error"]["message"]


def test_skip_link_serves_another_item(service: TestClient, store: Store) -> None:
    first, second = seed(store, age_s=2), seed(store, age_s=1)
    page = service.get("/review?annotator=erin", headers=AUTH).text
    shown = re.findall(r'name="extraction_id" value="(\w+)"', page)[0]
    after = service.get(f"/review?annotator=erin&skip={shown}", headers=AUTH).text
    assert re.findall(r'name="extraction_id" value="(\w+)"', after) == [second if shown == first else first]


def test_plain_form_post_stores_the_review_and_redirects_to_the_next(service: TestClient, store: Store) -> None:
    extraction_id = seed(store)
    form = {
        "extraction_id": extraction_id,
        "annotator": "frank",
        "strategy": "corrected",
        "comment": "",
        "title.right": "on",
        "title.value": DEFAULT_LISTING["title"],
        "description.right": "on",
        "description.value": "whatever",
        "category.right": "on",
        "category.value": "musical_instruments",
        "color.value": "black",  # the box is unticked: wrong, and this is the right colour
        "brand.value": "Yamaha",
        "condition.right": "on",
        "condition.value": "used",
    }
    response = service.post("/review", data=form, headers=AUTH, follow_redirects=False)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/review?annotator=frank&strategy=corrected"
    review = ReviewStore(store.engine).latest(extraction_id)
    assert review is not None and review.annotator == "frank" and review.comment is None
    assert {n: (v.correct, v.value) for n, v in review.fields.items()} == {
        "title": (True, DEFAULT_LISTING["title"]),
        "description": (True, DEFAULT_LISTING["description"]),
        "category": (True, "musical_instruments"),
        "color": (False, "black"),
        "brand": (False, "Yamaha"),
        "condition": (True, "used"),
    }
    bad = service.post("/review", data={**form, "color.value": "teal"}, headers=AUTH, follow_redirects=False)
    assert bad.status_code == 400 and "fields.color" in bad.json()["error"]["message"]
