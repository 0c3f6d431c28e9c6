"""The HTML report in a real browser: no console errors, no network requests, hostile text inert."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tests.output.browser import Browser
from tests.output.conftest import IMG, SCRIPT, Written

CHECKS = {
    "pwned": "typeof window.__pwned",
    "scripts": "document.scripts.length",
    "images": "document.images.length",
    "handlers": "[...document.querySelectorAll('*')].filter(e => [...e.attributes].some(a => "
                "a.name.startsWith('on'))).length",
    "text": "document.body.innerText",
    "title": "document.title",
    "svgs": "document.querySelectorAll('svg').length",
    "sections": "[...document.querySelectorAll('section[id]')].map(s => s.id)",
    "external": "[...document.querySelectorAll('[src],[href]')].map(e => e.getAttribute('src') || "
                "e.getAttribute('href')).filter(u => !u.startsWith('#'))",
}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        pytest.fail("chromium is not installed (scripts/debian-test-packages.txt lists it)")
    b = Browser(binary)
    try:
        yield b
    finally:
        b.close()


def assert_clean(load: object, page: str) -> None:
    errors = [m for m in load.console if m.get("type") in ("error", "assert", "warning")]  # type: ignore[attr-defined]
    assert not errors, f"console messages: {errors}"
    assert not load.exceptions, f"uncaught exceptions: {load.exceptions}"  # type: ignore[attr-defined]
    bad_log = [e for e in load.log if e.get("level") in ("error", "warning")]  # type: ignore[attr-defined]
    assert not bad_log, f"log entries (CSP violations land here): {bad_log}"
    others = [u for u in load.requests if u != page and not u.startswith("data:")]  # type: ignore[attr-defined]
    assert not others, f"network requests: {others}"


def test_demo_report_renders_cleanly_and_offline(browser: Browser, demo_reports: Written) -> None:
    path = demo_reports.path("html")
    load = browser.load(path, CHECKS)
    assert_clean(load, path.resolve().as_uri())
    assert load.values["scripts"] == 0
    assert load.values["external"] == []
    assert load.values["svgs"] >= 3  # coverage donut, namespaces, RPO (and the schedule heatmap)
    for section in ("summary", "scope", "frameworks", "coverage", "recovery", "schedules", "storage", "credentials",
                    "findings", "exceptions", "signoff", "integrity", "appendix-volumes", "appendix-rules"):
        assert section in load.values["sections"]
    assert "demo-prod" in load.values["title"]


def test_hostile_names_are_shown_as_text_and_nothing_runs(browser: Browser, hostile_reports: Written) -> None:
    path = hostile_reports.path("html")
    load = browser.load(path, CHECKS)
    assert_clean(load, path.resolve().as_uri())
    assert load.values["pwned"] == "undefined"
    assert load.values["scripts"] == 0
    assert load.values["images"] == 0
    assert load.values["handlers"] == 0
    text = load.values["text"]
    assert SCRIPT in text  # the namespace, verbatim as text
    assert IMG in text  # the PVC name and the exception's reason
    assert "<b>evil</b>" in load.values["title"]
