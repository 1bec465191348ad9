"""The query UI in a real headless Chromium: run a query in YASGUI and read the result table.

Skips cleanly when chromium / chromedriver or selenium are not installed
(`apt-get install chromium chromium-driver`, `pip install selenium`).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator

import pytest

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER), reason="chromium and chromedriver are not installed"
)
WAIT_SECONDS = 30
QUERY = (
    "PREFIX mkg: <https://w3id.org/medkg/ontology#>\n"
    "PREFIX dcterms: <http://purl.org/dc/terms/>\n"
    "SELECT ?title WHERE { ?d a mkg:Dataset ; dcterms:title ?title } ORDER BY ?title"
)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    profile = tempfile.mkdtemp(prefix="medkg-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--window-size=1280,1000",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(CHROMEDRIVER))
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def _result_cells(driver) -> list[str]:
    cells = driver.find_elements(By.CSS_SELECTOR, ".yasr table.dataTable tbody td")
    return [cell.text for cell in cells]


def test_query_runs_in_the_ui_and_fills_the_result_table(server, browser):
    browser.get(server.url + "/")
    wait = WebDriverWait(browser, WAIT_SECONDS)
    wait.until(lambda d: d.execute_script("return !!window.medkgYasgui"))
    browser.execute_script(
        "var tab = window.medkgYasgui.getTab(); tab.setQuery(arguments[0]); tab.query();", QUERY
    )
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, ".yasr table.dataTable tbody td")))
    wait.until(lambda d: any("CAMELYON16" in text for text in _result_cells(d)))
    texts = _result_cells(browser)
    for title in ("Breast CT Set", "CAMELYON16", "Tricky <b>bold</b> set"):
        assert any(title in text for text in texts), (title, texts)
    # the HTML in a title is shown as text, not rendered
    assert not browser.find_elements(By.CSS_SELECTOR, ".yasr table.dataTable tbody td b")


def test_example_button_runs_its_query(server, browser):
    browser.get(server.url + "/")
    wait = WebDriverWait(browser, WAIT_SECONDS)
    wait.until(lambda d: d.execute_script("return !!window.medkgYasgui"))
    buttons = browser.find_elements(By.CSS_SELECTOR, "button.example")
    assert buttons, "the page lists example questions"
    buttons[0].click()
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, ".yasr table.dataTable tbody td")))
    first_example = browser.execute_script(
        "return JSON.parse(document.getElementById('example-data').textContent)[0]"
    )
    assert browser.execute_script("return window.medkgYasgui.getTab().getQuery()") == first_example
    assert not buttons[0].text.startswith("#") and not buttons[0].text.lower().startswith("title")


NARROW_PAGES = ("/browse", "/dataset/camelyon16", "/graph/source/histo")


@pytest.mark.parametrize("path", NARROW_PAGES)
def test_pages_fit_a_400_pixel_wide_screen(server, browser, path):
    """At phone width nothing (facet column, property table, long IRIs) widens the page."""
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 400, "height": 800, "deviceScaleFactor": 1, "mobile": False},
    )
    try:
        browser.get(server.url + path)
        WebDriverWait(browser, WAIT_SECONDS).until(
            lambda d: d.execute_script("return document.readyState") == "complete"
        )
        widths = browser.execute_script(
            "var e = document.documentElement; return [e.scrollWidth, e.clientWidth];"
        )
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    assert widths[0] <= widths[1], f"{path} is {widths[0]} px wide in a {widths[1]} px window"


def test_the_query_editor_is_named_and_says_how_to_leave_it(server, browser):
    """Tab indents inside the editor, so it must have a name and say that Esc leaves it."""
    browser.get(server.url + "/")
    WebDriverWait(browser, WAIT_SECONDS).until(
        lambda d: d.execute_script("return !!window.medkgYasgui")
    )
    field = browser.find_element(By.CSS_SELECTOR, "#yasgui .CodeMirror textarea")
    assert field.get_attribute("aria-label") == "SPARQL query"
    hint = browser.find_element(By.ID, field.get_attribute("aria-describedby") or "missing")
    assert "Esc" in hint.text and hint.is_displayed()
    browser.execute_script("window.medkgYasgui.getTab().getYasqe().focus()")
    ActionChains(browser).send_keys(Keys.ESCAPE, Keys.TAB, Keys.TAB).perform()
    focused = browser.switch_to.active_element
    assert "yasqe_queryButton" in (focused.get_attribute("class") or "")  # "Run query"
