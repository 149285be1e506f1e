"""The pages, driven in a real headless Chromium (Debian's, through Playwright): each role signs in with a
token, does its work, sees what it may and nothing else; axe-core finds no serious accessibility violation.

Chromium comes from ``CHROMIUM`` or ``/usr/bin/chromium``; without one the tests skip, unless
``LEDGER_REQUIRE_BROWSER=1`` (as in CI) makes that a failure.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.serving import make_server

from tests.api.conftest import build_service

pytestmark = [pytest.mark.browser]
playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect


def chromium() -> str:
    found = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        if os.environ.get("LEDGER_REQUIRE_BROWSER") == "1":
            pytest.fail("no Chromium to drive the pages with (LEDGER_REQUIRE_BROWSER is set)")
        pytest.skip("no Chromium (apt-get install chromium)")
    return found


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[dict[str, Any]]:
    """The service on a real port, filled by the demo, with the tokens it printed (and an outsider's)."""
    from tests.conftest import Store

    folder = tmp_path_factory.mktemp("site")
    service = build_service(Store("sqlite", f"sqlite:///{folder}/ledger.sqlite3"), folder,
                            PROJECTIONS_MODE="inline", CLOCK=None)
    result = service.app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    lines = [line.split("\t") for line in result.stdout.splitlines() if line.count("\t") == 3]
    tokens = {kind: (principal, token) for kind, (_, principal, token, _) in
              zip(("coordinator", "auditor", "mentor", "mentee"), lines, strict=True)}
    tokens["outsider"] = ("outsider@example.org", service.app.extensions["tokens"].issue("outsider@example.org",
                                                                                      "participant"))
    server = make_server("127.0.0.1", 0, service.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield {"url": f"http://127.0.0.1:{server.server_port}", "tokens": tokens, "service": service}
    finally:
        server.shutdown()
        service.app.extensions["ledger"].close()


@pytest.fixture(scope="module")
def browser(site) -> Iterator[Any]:
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def as_role(site, browser) -> Iterator[Any]:
    contexts = []

    def open_as(kind: str, viewport: dict[str, int] | None = None) -> Any:
        context = browser.new_context(viewport=viewport or {"width": 1200, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(site["url"] + "/app/")
        page.get_by_label("Token").fill(site["tokens"][kind][1])
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_load_state()
        return page

    yield open_as
    for context in contexts:
        context.close()


def serious_violations(page: Any) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [f"{v['id']} ({v['impact']}): {v['help']}" for v in results.response["violations"]
            if v["impact"] in ("serious", "critical")]


def test_sign_in_takes_a_token_and_keeps_only_a_session_cookie(site, browser):
    context = browser.new_context()
    page = context.new_page()
    page.goto(site["url"] + "/app/program")
    assert "/app/sign-in" in page.url  # signed out: sent to sign in, then back
    assert serious_violations(page) == []
    page.get_by_label("Token").fill("mlt_00000000_not-a-real-token-at-all")
    page.get_by_role("button", name="Sign in").click()
    assert "not valid" in page.get_by_role("alert").inner_text()
    page.get_by_label("Token").fill(site["tokens"]["coordinator"][1])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/app/program"))
    (cookie,) = [c for c in context.cookies() if c["name"] == "ledger_session"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert site["tokens"]["coordinator"][1] not in cookie["value"]
    page.get_by_role("button", name="Sign out").click()
    page.goto(site["url"] + "/app/program")
    assert "/app/sign-in" in page.url
    context.close()
    copied = browser.new_context()  # a copy of the signed-out cookie signs no one in
    copied.add_cookies([cookie])
    again = copied.new_page()
    again.goto(site["url"] + "/app/program")
    assert "/app/sign-in" in again.url
    copied.close()


def test_the_coordinator_sees_the_program_worst_first_with_reasons_and_twelve_weeks(as_role):
    page = as_role("coordinator")
    assert page.get_by_role("heading", name="Program health").is_visible()
    chart = page.locator("svg[role=img]").first
    assert "week by week" in chart.get_attribute("aria-label")
    cards = page.locator("ol.cards > li")
    assert cards.count() >= 30
    assert "at risk" in cards.first.inner_text() and "Pulled down by" in cards.first.inner_text()
    statuses = page.locator(".counts li").all_inner_texts()
    assert all(not text.startswith("0 ") for text in statuses), statuses  # every status is represented
    assert serious_violations(page) == []


def test_the_replay_slider_shows_the_state_and_health_at_any_version(as_role):
    page = as_role("coordinator")
    page.locator("ol.cards > li a").first.click()
    page.wait_for_url(re.compile(r"/app/relationships/"))
    slider = page.get_by_label(re.compile("Replay"))
    latest = int(slider.get_attribute("max"))
    assert page.locator("#panel h2").inner_text().startswith(f"At version {latest} of {latest}")
    slider.focus()
    page.keyboard.press("Home")  # keyboard only
    expect(page.locator("#panel h2")).to_have_text(re.compile(r"^At version 1 of "))
    assert "too early" in page.locator("#panel").inner_text()
    assert "version=1" in page.url
    assert serious_violations(page) == []


def test_a_coordinator_pauses_a_relationship_from_its_page(as_role, site):
    page = as_role("coordinator")
    page.goto(site["url"] + "/app/program?program_id=autumn-2026")
    page.locator("ol.cards > li").filter(has_text="healthy").first.locator("a").click()
    page.get_by_label("Reason").first.fill("Mentee on holiday")
    page.get_by_role("button", name="Pause").click()
    page.wait_for_load_state()
    assert "paused" in page.locator("#panel").inner_text()
    assert "RelationshipPaused" in page.locator(".timeline").inner_text()


def test_feedback_is_given_acknowledged_and_its_action_completed_and_health_follows(as_role, site):
    mentor_id, mentee_id = site["tokens"]["mentor"][0], site["tokens"]["mentee"][0]
    mentee = as_role("mentee")
    assert mentee.get_by_role("heading", name="My mentoring").is_visible()
    mentee.get_by_role("link", name=re.compile("→")).first.click()
    relationship = mentee.url
    mentor_of_mentee = mentee.locator("h1").inner_text().split(" (mentor)")[0].strip()
    before = int(mentee.locator("#score").inner_text())
    acknowledged_before = mentee.locator("#panel").inner_text()
    # the mentee gives feedback to their mentor, with an action item the mentor will own
    mentee.get_by_role("textbox", name="Feedback", exact=True).fill("Thank you for the walkthrough; more examples next time, please.")
    mentee.get_by_label("improvement", exact=True).check()
    mentee.get_by_label("Skills (separated by commas)").fill("teaching, examples")
    mentee.get_by_label("Action 1").fill("Bring two worked examples")
    mentee.get_by_role("button", name="Give feedback").click()
    mentee.wait_for_load_state()
    assert "Thank you for the walkthrough" in mentee.locator(".timeline").inner_text()
    # the mentee acknowledges what was waiting for them, and completes their open actions
    mentee.goto(site["url"] + "/app/me")
    waiting = mentee.locator("#waiting ~ article")
    count = waiting.count()
    assert count >= 1
    first = waiting.first
    first.get_by_label("My reflection").fill("Fair; I will try it on Thursday.")
    first.get_by_label("How useful (1 to 5)").select_option("4")
    first.get_by_role("button", name="Acknowledge").click()
    mentee.wait_for_load_state()
    assert mentee.locator("#waiting ~ article").count() == count - 1
    actions = mentee.locator("#open-actions ~ article")
    open_before = actions.count()
    assert open_before >= 1
    actions.first.get_by_label("Outcome").fill("Done and shared")
    actions.first.get_by_role("button", name="Mark as done").click()
    mentee.wait_for_load_state()
    assert mentee.locator("#open-actions ~ article").count() == open_before - 1
    assert mentee.locator("svg[role=img]").count() >= 1  # growth over time
    assert serious_violations(mentee) == []
    mentee.goto(relationship)
    assert int(mentee.locator("#score").inner_text()) != before or \
        mentee.locator("#panel").inner_text() != acknowledged_before  # the health changed with the work
    assert mentor_of_mentee and mentor_id and mentee_id


def test_the_auditor_verifies_with_progress_filters_and_exports(as_role, site):
    page = as_role("auditor")
    assert page.get_by_role("heading", name="Audit trail").is_visible()
    page.get_by_role("button", name="Verify the chain").click()
    expect(page.locator("#verify-status")).to_have_text(re.compile(r"^All is well"))
    page.get_by_label("Type").select_option("RelationshipEnded")
    page.get_by_role("button", name="Filter").click()
    types = page.locator("table.entries tbody td:nth-child(3)").all_inner_texts()
    assert types and set(types) == {"RelationshipEnded"}
    with page.expect_download() as download:
        page.get_by_role("link", name="CSV").click()
    with open(download.value.path(), encoding="utf-8") as exported:
        text = exported.read()
    assert text.startswith('"position"') and "RelationshipEnded" in text and "FeedbackGiven" not in text
    assert serious_violations(page) == []


def test_one_role_never_sees_another_roles_pages_or_data(as_role, site):
    coordinator = as_role("coordinator")
    coordinator.locator("ol.cards > li a").first.click()
    someone_elses = coordinator.url
    outsider = as_role("outsider")
    outsider.goto(someone_elses)
    assert "Not found" in outsider.locator("h1").inner_text()
    for path in ("/app/program", "/app/audit", "/app/audit/export.csv"):
        response = outsider.goto(site["url"] + path)
        assert response.status == 403, path
    outsider.goto(site["url"] + "/app/me")
    assert "You are in no relationship yet" in outsider.locator("main").inner_text()
    mentee = as_role("mentee")
    mentee_id = site["tokens"]["mentee"][0]
    names = mentee.locator("#rels ~ ul li").all_inner_texts()
    assert names and all(mentee_id in text for text in names)


def test_pages_read_well_on_a_phone(as_role, site):
    page = as_role("mentee", viewport={"width": 375, "height": 740})
    for path in ("/app/me", "/app/relationships/" + site["service"].client.get(
            "/v1/relationships", headers=site["service"].headers(None, Authorization="Bearer "
                                                                 + site["tokens"]["mentee"][1])).json["items"][0]["id"]):
        page.goto(site["url"] + path)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), path


def test_the_api_docs_work_offline_from_bundled_assets(site, browser):
    context = browser.new_context()
    page = context.new_page()
    outside: list[str] = []
    page.route(re.compile(r"^https?://(?!127\.0\.0\.1)"), lambda route: (outside.append(route.request.url),
                                                                         route.abort()))
    page.goto(site["url"] + "/docs")
    page.wait_for_selector(".opblock", timeout=15_000)
    assert page.locator(".opblock").count() >= 20
    assert "POST/v1/participants/{participant_id}/erasure" in page.locator("body").inner_text().replace("\n", "")
    assert outside == []
    context.close()


def test_odd_form_values_are_refused_as_pages_not_errors(as_role, site):
    """(Found by probing: these were 500s or silently dropped.)"""
    page = as_role("mentee")
    for path in ("/app/audit?after=%C2%B2", "/app/audit?after=99999999999999999999999", "/app/nowhere"):
        response = page.goto(site["url"] + path)
        assert response.status in (403, 404) and "text/html" in response.headers["content-type"], path
    auditor = as_role("auditor")
    response = auditor.goto(site["url"] + "/app/audit?after=99999999999999999999999&until=2999-99-99&type=Bogus")
    assert response.status == 200 and "not a date" in auditor.locator("main").inner_text()
    page.goto(site["url"] + "/app/me")
    form = page.locator("#waiting ~ article form").first
    csrf = form.locator("input[name=csrf_token]").get_attribute("value")
    action = form.get_attribute("action")
    for bad in ("²", "-1", "abc", "6"):
        answer = page.request.post(site["url"] + action, form={"csrf_token": csrf, "usefulness": bad})
        assert answer.status == 422, bad
    signed_out = page.context.browser.new_context().new_page()
    signed_out.goto(site["url"] + "/app/sign-in?next=/app/me%0D%0Ax")
    signed_out.get_by_label("Token").fill(site["tokens"]["mentee"][1])
    signed_out.get_by_role("button", name="Sign in").click()
    assert signed_out.url.endswith("/app/me")
