"""Forged requests with the annotator's cookie (a page on another port of the same host) store nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.datastructures import Headers

from extractor.service.security.csrf import cross_site_problem, own_origin
from extractor.service.storage.store import Store
from tests.fakes.listing import DEFAULT_LISTING
from tests.service.conftest import AUTH, ClientFactory, StubExtractor, png
from tests.service.test_review_helpers import seed
from tests.service.test_session_helpers import OWN, SAME_SITE, csrf_of, review_count, sign_in

pytestmark = pytest.mark.service


@pytest.fixture
def annotator(make_client: ClientFactory) -> TestClient:
    """A browser signed in as the annotator (the session cookie is in its jar)."""
    client = make_client(extractor=StubExtractor(), allow_plain_http=True)
    assert sign_in(client).status_code == 303
    return client


def _form(extraction_id: str, **extra: str) -> dict[str, str]:
    fields = {f"{name}.right": "on" for name in ("title", "description", "category", "brand", "condition")}
    return {"extraction_id": extraction_id, "annotator": "mallory", "color.value": "black", **fields, **extra}


def _json(extraction_id: str) -> dict[str, Any]:
    return {"extraction_id": extraction_id, "annotator": "mallory", "fields": {"color": {"correct": True}}}


def test_forged_same_site_form_post_is_refused_and_stores_nothing(annotator: TestClient, store: Store) -> None:
    extraction_id = seed(store)
    token = csrf_of(annotator.get("/review?annotator=a").text)
    forged = [
        (SAME_SITE, {}),  # what the page on 127.0.0.1:9999 sends when it auto-submits
        (SAME_SITE, {"csrf_token": token}),  # even a leaked token does not make another site's post ours
        ({"Sec-Fetch-Site": "cross-site"}, {}),
        ({"Origin": "http://127.0.0.1:9999"}, {"csrf_token": token}),  # a browser without Sec-Fetch-*
        ({"Origin": "null"}, {}),
        ({}, {}),  # no Origin, no Sec-Fetch-Site (an old browser): the missing token refuses it
        ({}, {"csrf_token": "not-the-token"}),
        (OWN, {"csrf_token": token[:-1]}),
    ]
    for headers, extra in forged:
        form = _form(extraction_id, **extra)
        response = annotator.post("/review", data=form, headers=headers, follow_redirects=False)
        assert response.status_code == 403, (headers, extra, response.text)
        assert response.json()["error"]["type"] == "csrf"
    assert review_count(store) == 0


def test_forged_text_plain_review_is_refused_and_stores_nothing(annotator: TestClient, store: Store) -> None:
    extraction_id = seed(store)
    token = csrf_of(annotator.get("/review?annotator=a").text)
    body = json.dumps(_json(extraction_id))
    plain = annotator.post("/v1/reviews", content=body, headers={"Content-Type": "text/plain"})
    assert plain.status_code == 415 and plain.json()["error"]["type"] == "unsupported_media_type"
    with_token = annotator.post(
        "/v1/reviews", content=body, headers={"Content-Type": "text/plain", "X-CSRF-Token": token}
    )
    assert with_token.status_code == 415  # JSON only, whatever else comes with it
    for content_type in ("application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/json"):
        assert annotator.post("/v1/reviews", content=body, headers={"Content-Type": content_type}).status_code == 415
    assert annotator.post("/v1/reviews", content=body).status_code == 415  # no Content-Type at all
    same_site = annotator.post("/v1/reviews", content=body, headers={**SAME_SITE, "Content-Type": "text/plain"})
    assert same_site.status_code == 403
    no_token = annotator.post("/v1/reviews", json=_json(extraction_id))  # JSON, cookie, but no CSRF header
    assert no_token.status_code == 403 and no_token.json()["error"]["type"] == "csrf"
    assert review_count(store) == 0


def test_legit_form_post_with_the_pages_token_is_accepted(annotator: TestClient, store: Store) -> None:
    extraction_id = seed(store)
    page = annotator.get("/review?annotator=mallory&strategy=corrected")
    assert f'name="extraction_id" value="{extraction_id}"' in page.text
    token = csrf_of(page.text)
    form = _form(extraction_id, csrf_token=token, strategy="corrected")
    response = annotator.post("/review", data=form, headers=OWN, follow_redirects=False)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/review?annotator=mallory&strategy=corrected"
    assert review_count(store) == 1
    json_review = annotator.post("/v1/reviews", json=_json(extraction_id), headers={**OWN, "X-CSRF-Token": token})
    assert json_review.status_code == 201, json_review.text
    assert review_count(store) == 2


def test_a_token_of_another_session_is_refused(make_client: ClientFactory, store: Store) -> None:
    extraction_id = seed(store)
    first, second = (make_client(extractor=StubExtractor(), allow_plain_http=True) for _ in range(2))
    sign_in(first)
    sign_in(second)
    other = csrf_of(second.get("/review?annotator=b").text)
    assert other != csrf_of(first.get("/review?annotator=a").text)
    response = first.post("/review", data=_form(extraction_id, csrf_token=other), headers=OWN)
    assert response.status_code == 403
    assert review_count(store) == 0


def test_bearer_requests_need_no_csrf_token(make_client: ClientFactory, store: Store) -> None:
    service = make_client(extractor=StubExtractor())
    extraction_id = seed(store)
    assert service.post("/v1/reviews", json=_json(extraction_id), headers=AUTH).status_code == 201
    form = service.post("/review", data=_form(extraction_id), headers=AUTH, follow_redirects=False)
    assert form.status_code == 303
    assert review_count(store) == 2
    text = service.post("/v1/reviews", content=json.dumps(_json(extraction_id)), headers=AUTH)
    assert text.status_code == 415


def test_sign_in_and_sign_out_from_another_site_are_refused(annotator: TestClient) -> None:
    token = csrf_of(annotator.get("/dashboard").text)
    assert annotator.post("/logout", data={"csrf_token": token}, headers=SAME_SITE).status_code == 403
    assert annotator.get("/dashboard").status_code == 200
    login = annotator.post("/login", data={"token": "x", "next": "/"}, headers={"Sec-Fetch-Site": "cross-site"})
    assert login.status_code == 403


def test_a_skip_link_from_another_site_is_refused(annotator: TestClient, store: Store) -> None:
    extraction_id = seed(store)
    page = annotator.get("/review?annotator=a")
    assert extraction_id in page.text
    forged = annotator.get(f"/review?annotator=a&skip={extraction_id}", headers={"Sec-Fetch-Site": "same-site"})
    assert forged.status_code == 403
    ours = annotator.get(f"/review?annotator=a&skip={extraction_id}", headers={"Sec-Fetch-Site": "same-origin"})
    assert ours.status_code == 200 and 'id="queue-empty"' in ours.text  # skipped, and nothing else to serve


def test_another_site_cannot_lease_items_through_the_review_page(annotator: TestClient, store: Store) -> None:
    extraction_id = seed(store)
    for name in ("made-up-1", "made-up-2"):  # an <img src="/review?annotator=..."> per name
        forged = annotator.get(f"/review?annotator={name}", headers={"Sec-Fetch-Site": "same-site"})
        assert forged.status_code == 403
    assert annotator.get("/review", headers={"Sec-Fetch-Site": "same-site"}).status_code == 200  # the start form
    ours = annotator.get("/review?annotator=a", headers={"Sec-Fetch-Site": "same-origin"})
    assert ours.status_code == 200 and extraction_id in ours.text  # nothing was leased to the made-up names


def test_unknown_admin_routes_are_guarded_too(annotator: TestClient) -> None:
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        assert annotator.request(method, "/dashboard/anything", headers=SAME_SITE).status_code == 403


def test_the_public_api_is_unchanged(client: TestClient) -> None:
    cross = {"Origin": "https://shop.example", "Sec-Fetch-Site": "cross-site"}
    created = client.post("/v1/extractions", files={"image": ("a.png", png(), "image/png")}, headers=cross)
    assert created.status_code == 200, created.text
    extraction_id = created.json()["id"]
    feedback = client.post(f"/v1/extractions/{extraction_id}/feedback", json={"rating": "up"}, headers=cross)
    assert feedback.status_code == 204
    final = client.post(f"/v1/extractions/{extraction_id}/final", json=DEFAULT_LISTING, headers=cross)
    assert final.status_code == 204


@pytest.mark.parametrize(
    ("scheme", "host", "origin"),
    [
        ("http", "127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("https", "Review.Example:443", "https://review.example"),
        ("http", "review.example:80", "http://review.example"),
        ("https", "review.example:8443", "https://review.example:8443"),
        ("http", "[::1]:8000", "http://[::1]:8000"),
    ],
)
def test_own_origin(scheme: str, host: str, origin: str) -> None:
    assert own_origin(scheme, host) == origin


def test_a_configured_public_origin_is_accepted_behind_a_proxy() -> None:
    headers = Headers({"host": "10.0.0.5:8000", "origin": "https://review.example", "sec-fetch-site": "same-origin"})
    assert cross_site_problem(headers, "http", None) is not None
    assert cross_site_problem(headers, "http", "https://review.example") is None
    other = Headers({"host": "10.0.0.5:8000", "origin": "https://evil.example"})
    assert cross_site_problem(other, "http", "https://review.example") is not None


def test_another_site_cannot_halt_or_advance_a_rollout_with_the_cookie(annotator: TestClient, store: Store) -> None:
    from extractor.service.rollout.store import RolloutStore

    rollouts = RolloutStore(store.engine)
    rollouts.start("default", "default-control", (50.0, 100.0), "ada", "test")
    for action in ("halt", "advance", "ship"):
        path = f"/v1/rollout/{action}"
        assert annotator.post(path, content=b"{}", headers={**SAME_SITE, "Content-Type": "text/plain"}).status_code in (
            403,
            415,
        )
        assert annotator.post(path, json={}, headers=SAME_SITE).status_code == 403
        assert annotator.post(path, json={}).status_code == 403  # the cookie alone, without the CSRF header
    current = rollouts.current()
    assert current is not None and (current.state, current.step_percent) == ("running", 50.0)
    assert [e.kind for e in rollouts.events(current.id)] == ["start"]
