"""The API reference at /docs renders in a browser with no internet: Swagger UI comes from the
service itself, under a CSP without inline scripts."""

from __future__ import annotations

from playwright.sync_api import expect

from ..serving import Service
from .support import Watched


def test_docs_page_renders_every_operation_from_local_assets(open_page, service: Service) -> None:  # type: ignore[no-untyped-def]
    watched: Watched = open_page(f"{service.url}/docs")
    page = watched.page
    expect(page.locator(".opblock").first).to_be_visible(timeout=20_000)
    summaries = page.locator(".opblock-summary-path").all_inner_texts()
    assert "/v1/ask" in summaries and "/v1/jobs/{job_id}" in summaries
    outside = [url for url in watched.requests if not url.startswith(service.url)]
    assert outside == [], f"the docs page fetched from elsewhere: {outside}"
    assert not [e for e in watched.errors if "Content Security Policy" in e or "pageerror" in e], watched.errors
