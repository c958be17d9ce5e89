"""The rendered reports in a real browser (headless Chromium through Playwright): they show without
errors, load every image, ask nothing of the network, and print to a sane PDF.

Needs the ``playwright`` package (dev extra) and Debian's ``chromium``; no Playwright browser download.
Without them the tests skip, except on CI (``CI`` set), where they fail.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

# Debian's chromium; set CHROMIUM to use another binary.
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
DISTRICT_TITLE = "Mørkhøj: Social balance 2024"
INDEX_TITLE = "Social balance – Gladsaxe Kommune"


def _missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if importlib.util.find_spec("playwright") is None:
        return "the playwright package is missing (pip install -e '.[dev]')"
    if not Path(CHROMIUM).exists():
        return f"Chromium is missing at {CHROMIUM} (apt-get install chromium)"
    return None


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium; skips without it, fails on CI."""
    reason = _missing()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"{reason}: CI must run the browser tests")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM)
        yield chromium
        chromium.close()


class Visit:
    """A fresh page that records errors and blocks (and records) every request off this machine."""

    def __init__(self, browser):
        self.context = browser.new_context()
        self.page = self.context.new_page()
        self.page.set_default_timeout(30_000)
        self.errors: list[str] = []
        self.network: list[str] = []
        self.context.route("**/*", self._route)
        self.page.on("request", lambda request: self._record(request.url))
        self.page.on("websocket", lambda socket: self._record(socket.url))
        self.page.on("console", lambda msg: msg.type == "error" and self.errors.append(f"console: {msg.text}"))
        self.page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))

    @staticmethod
    def _local(url: str) -> bool:
        return url.startswith(("file:", "data:"))

    def _record(self, url: str) -> None:
        if not self._local(url) and url not in self.network:
            self.network.append(url)

    def _route(self, route) -> None:
        if self._local(route.request.url):
            route.continue_()
        else:
            self._record(route.request.url)
            route.abort()

    def open(self, path: Path):
        self.page.goto(path.as_uri(), wait_until="load")
        return self.page

    def assert_clean(self) -> None:
        assert not self.network, f"the page asked for the network: {self.network}"
        assert not self.errors, "\n".join(self.errors)

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def visit(browser):
    v = Visit(browser)
    yield v
    v.close()


@pytest.fixture(scope="session")
def reports(browser, rendered_reports) -> Path:
    """The output folder of the shared render (``browser`` first, so a skip costs no render)."""
    code, out = rendered_reports
    assert code == 0, "evaluering run failed"
    return out


def _images(page) -> list[dict]:
    return page.eval_on_selector_all(
        "img", "els => els.map(e => ({src: e.src.slice(0, 60), ok: e.complete && e.naturalWidth > 0}))")


def _broken_anchors(page) -> list[str]:
    """In-page links (table of contents, heading anchors) whose target is not in the document.

    As browsers do, a fragment matches an id as written or percent-decoded (nbconvert writes both forms)."""
    return page.eval_on_selector_all(
        'a[href^="#"]',
        "els => els.map(e => e.getAttribute('href'))"
        ".filter(h => h.length > 1 && !document.getElementById(h.slice(1))"
        "         && !document.getElementById(decodeURIComponent(h.slice(1))))")


WAVE_REPORTS = {  # every report of the 2024 wave and its heading
    "hoeje-gladsaxe.html": "Høje Gladsaxe: Social balance 2024",
    "vaerebro-park.html": "Værebro Park: Social balance 2024",
    "moerkhoej.html": DISTRICT_TITLE,
    "oversigt.html": "Social balance 2024: bydelene side om side",
    "overvaagning.html": "Overvågning af områderne i Gladsaxe Kommune 2024",
    "omraadeeffekter.html": "Områdeeffekter i Gladsaxe Kommune 2024",
}


@pytest.mark.parametrize("name", list(WAVE_REPORTS))
def test_every_report_renders_offline_without_errors(reports, visit, name):
    page = visit.open(reports / "2024" / name)
    assert page.inner_text("h1").strip() == WAVE_REPORTS[name]
    assert page.title()
    images = _images(page)
    assert images, "the report shows no figures"
    assert all(image["ok"] for image in images), [image["src"] for image in images if not image["ok"]]
    assert not _broken_anchors(page)
    visit.assert_clean()


def test_index_links_open_the_reports(reports, visit):
    page = visit.open(reports / "index.html")
    assert page.inner_text("h1").strip() == INDEX_TITLE
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
    assert "2024/moerkhoej.html" in hrefs
    missing = [h for h in hrefs if not h.startswith("#") and not (reports / h).is_file()]
    assert not missing, f"the index links to missing files: {missing}"
    with page.expect_navigation(wait_until="load"):
        page.click('a[href="2024/moerkhoej.html"]')
    assert page.url == (reports / "2024" / "moerkhoej.html").as_uri()
    assert page.inner_text("h1").strip() == DISTRICT_TITLE
    visit.assert_clean()


def test_district_report_prints(reports, visit):
    page = visit.open(reports / "2024" / "moerkhoej.html")
    pdf = page.pdf(format="A4", print_background=True)
    pages = len(re.findall(rb"/Type\s*/Page\b", pdf))
    assert 3 <= pages <= 60, f"{pages} printed pages"
    visit.assert_clean()


def test_requests_off_the_machine_are_blocked_and_recorded(browser, visit, tmp_path):
    """The guard itself: a page that reaches for the network is caught, and nothing gets through."""
    page_file = tmp_path / "online.html"
    page_file.write_text('<img src="https://example.invalid/x.png"><link rel="stylesheet" href="http://127.0.0.1:9/a.css">',
                         encoding="utf-8")
    visit.open(page_file)
    assert set(visit.network) == {"https://example.invalid/x.png", "http://127.0.0.1:9/a.css"}
    with pytest.raises(AssertionError, match="asked for the network"):
        visit.assert_clean()


# --- accessibility ---------------------------------------------------------------------------------

AXE = Path(__file__).with_name("accessibility") / "node_modules" / "axe-core" / "axe.min.js"
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
NBCONVERT_PLACEHOLDER = "No description has been provided for this image"


@pytest.fixture(scope="session")
def axe_script() -> Path:
    """axe-core from npm (``tests/accessibility``, installed by .ci/run); skips without it, fails on CI."""
    if not AXE.is_file():
        reason = f"axe-core is missing at {AXE} (npm ci --prefix tests/accessibility)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}: CI must run the accessibility check")
        pytest.skip(reason)
    return AXE


@pytest.mark.parametrize("name", [*WAVE_REPORTS, "index.html"])
def test_every_report_passes_the_wcag_21_aa_rules(reports, visit, axe_script, name):
    """axe-core's WCAG 2.1 A and AA rules find no violation, and every figure says in Danish what it shows."""
    page = visit.open(reports / ("2024" if name in WAVE_REPORTS else "") / name)
    page.add_script_tag(path=str(axe_script))
    result = page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_21_AA)
    violations = [f"{v['id']} ({v['impact']}): {v['help']} - {v['nodes'][0]['html'][:120]}"
                  for v in result["violations"]]
    assert not violations, "\n".join(violations)
    assert result["passes"], "axe-core checked nothing"
    alts = page.eval_on_selector_all("img", "els => els.map(e => e.getAttribute('alt') || '')")
    assert all(len(alt.split()) >= 8 and NBCONVERT_PLACEHOLDER not in alt for alt in alts), alts
    visit.assert_clean()
