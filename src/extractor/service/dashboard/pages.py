"""Rendering of the server-side HTML pages (jinja2 with autoescape) and their security headers."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import jinja2
from fastapi.responses import HTMLResponse

from extractor.service.security.sessions import page_csrf
from extractor.service.storage.records import as_utc

# No script anywhere on the dashboard; the review page adds its own nonce-bound script.
CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; form-action 'self'"
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(resources.files("extractor.service.dashboard") / "templates")),
    autoescape=jinja2.select_autoescape(["html"]),
    undefined=jinja2.StrictUndefined,
)
_env.filters["pct"] = lambda v: "-" if v is None else f"{v:.1%}"
_env.filters["ms"] = lambda v: "-" if v is None else f"{v:,} ms"
_env.filters["when"] = lambda v: as_utc(v).strftime("%Y-%m-%d %H:%M:%S UTC")
_env.filters["pretty"] = lambda v: json.dumps(v, indent=2, ensure_ascii=False)
_env.filters["tojson"] = lambda v: json.dumps(v, ensure_ascii=False)


def render(name: str, headers: dict[str, str] | None = None, **context: Any) -> HTMLResponse:
    """An HTML response from a template, with the dashboard's security headers and the session's CSRF token."""
    context.setdefault("csrf_token", page_csrf())
    html = _env.get_template(name).render(**context)
    return HTMLResponse(html, headers=HEADERS | (headers or {}))
