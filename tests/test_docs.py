"""The ontology documentation pages (`medkg docs`): they reflow on a narrow screen.

The width check runs the pages in a headless Chromium and skips cleanly without it
(`apt-get install chromium chromium-driver`, `pip install selenium`); the structural checks
need no browser.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from medkg.config import Settings
from medkg.docs import build_docs

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
NARROW = 400  # px: a phone held upright


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The documentation of the project's own ontology and vocabularies."""
    from medkg.config import load_settings

    settings: Settings = load_settings(store=tmp_path_factory.mktemp("store"),
                                       home=Path(__file__).resolve().parents[1])
    out = tmp_path_factory.mktemp("docs")
    build_docs(settings, out)
    return out


def test_every_page_sets_the_viewport_and_a_narrow_screen_layout(docs: Path) -> None:
    pages = sorted(docs.glob("*.html"))
    assert len(pages) > 1  # the index and the scheme pages
    for page in pages:
        html = page.read_text(encoding="utf-8")
        # without it a phone lays the page out 980 px wide and shrinks it to illegible
        assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
        assert "@media (max-width:" in html, page.name
        # long IRIs (code, the .iri lines) may break anywhere rather than widen the page
        assert re.search(r"code[^{]*\{[^}]*overflow-wrap:anywhere", html), page.name


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    webdriver = pytest.importorskip("selenium.webdriver")
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("chromium and chromedriver are not installed")
    profile = tempfile.mkdtemp(prefix="medkg-docs-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--no-first-run",
                 f"--user-data-dir={profile}", f"--window-size={NARROW},800"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(CHROMEDRIVER))
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": NARROW, "height": 800, "deviceScaleFactor": 1, "mobile": False},
    )
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def test_the_pages_fit_a_400_pixel_wide_screen(docs: Path, browser) -> None:
    """No long IRI or definition list widens a page past a phone's width."""
    too_wide = {}
    for page in sorted(docs.glob("*.html")):
        browser.get(page.as_uri())
        scroll, client = browser.execute_script(
            "var e = document.documentElement; return [e.scrollWidth, e.clientWidth];"
        )
        if scroll > client:
            too_wide[page.name] = f"{scroll} px in a {client} px window"
    assert not too_wide, too_wide
