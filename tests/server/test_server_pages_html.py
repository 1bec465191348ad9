"""The HTML pages people read: well formed, one heading, labelled inputs, named links, offline."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest
import requests

# Elements with no end tag, and those whose end tag HTML lets the parser imply.
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}
OPTIONAL_END = {"p", "li", "dt", "dd", "tr", "td", "th", "option"}
PAGES = ("/", "/browse", "/browse?q=breast", "/stats", "/download/", "/dataset/camelyon16",
         "/challenge/miccai-2016", "/source/histo", "/modality/wsi", "/no/such/page")


@dataclass
class _Link:
    attrs: dict[str, str | None]
    text: str = ""


@dataclass
class PageCheck(HTMLParser):
    """Collects what a reader (or a screen reader) relies on while parsing one page."""

    problems: list[str] = field(default_factory=list)
    open_tags: list[tuple[str, tuple[int, int]]] = field(default_factory=list)
    h1: int = 0
    lang: str | None = None
    label_for: set[str] = field(default_factory=set)
    inputs: list[dict[str, str | None]] = field(default_factory=list)
    remote: list[str] = field(default_factory=list)
    link: _Link | None = None

    def __post_init__(self) -> None:
        HTMLParser.__init__(self)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.h1 += tag == "h1"
        if tag == "html":
            self.lang = a.get("lang")
        if tag == "label" and a.get("for"):
            self.label_for.add(a["for"] or "")
        if tag in {"input", "select", "textarea"} and a.get("type") != "hidden":
            self.inputs.append(a)
        for name in ("src", "href"):
            value = a.get(name) or ""
            if tag in {"script", "link", "img", "iframe"} and re.match(r"(https?:)?//", value):
                self.remote.append(value)
        if tag == "a":
            self.link = _Link(a)
        if tag not in VOID:
            self.open_tags.append((tag, self.getpos()))

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self.link is not None:
            if not self.link.text.strip() and not self.link.attrs.get("aria-label"):
                self.problems.append(f"a link with no text: {self.link.attrs}")
            self.link = None
        if tag in VOID:
            return
        names = [name for name, _ in self.open_tags]
        if tag not in names:
            self.problems.append(f"</{tag}> closes nothing at {self.getpos()}")
            return
        while self.open_tags[-1][0] != tag:
            name, where = self.open_tags.pop()
            if name not in OPTIONAL_END:
                self.problems.append(f"<{name}> opened at {where} is never closed")
        self.open_tags.pop()

    def handle_data(self, data: str) -> None:
        if self.link is not None:
            self.link.text += data


def check_page(html: str) -> list[str]:
    """What is wrong with one page, as short sentences (empty when nothing is)."""
    page = PageCheck()
    page.feed(html)
    page.close()
    problems = list(page.problems)
    problems += [f"<{n}> opened at {w} is never closed" for n, w in page.open_tags
                 if n not in OPTIONAL_END]
    if page.h1 != 1:
        problems.append(f"{page.h1} h1 headings")
    if not page.lang:
        problems.append("no lang on <html>")
    for attrs in page.inputs:
        if attrs.get("id") not in page.label_for and not attrs.get("aria-label"):
            problems.append(f"an input with no label: {attrs}")
    problems += [f"loads {url} from another server" for url in page.remote]
    return problems


@pytest.mark.parametrize("path", PAGES)
def test_pages_are_well_formed_labelled_and_offline(server, path):
    reply = requests.get(server.url + path, headers={"Accept": "text/html"}, timeout=30)
    assert reply.headers["Content-Type"].startswith("text/html")
    assert check_page(reply.text) == []


def test_pages_name_an_icon_the_server_has(server):
    """Pages declare their icon, so browsers do not ask for /favicon.ico and get a 404."""
    page = requests.get(server.url + "/browse", timeout=30).text
    icon = re.search(r'<link rel="icon" type="image/svg\+xml" href="([^"]+)"', page)
    assert icon, "the page names no icon"
    reply = requests.get(server.url + icon.group(1), timeout=30)
    assert reply.status_code == 200 and reply.headers["Content-Type"].startswith("image/svg+xml")
    assert reply.text.lstrip().startswith("<svg")


def _title(path: str, server) -> str:
    page = requests.get(server.url + path, timeout=30).text
    return re.search(r"<title>(.*?)</title>", page, re.S).group(1)


def test_a_browse_title_names_the_search_and_the_chosen_values(server):
    assert _title("/browse", server) == "Browse datasets · medkg"
    breast = "https%3A%2F%2Fw3id.org%2Fmedkg%2Fanatomy%2Fbreast"
    assert _title(f"/browse?q=set&organ={breast}&year=2019", server) == (
        "Browse datasets: “set”, breast, 2019 · medkg"
    )
    assert _title("/browse?q=%3Cb%3E", server) == "Browse datasets: “&lt;b&gt;” · medkg"


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [({"page": "9"}, 404, "no page 9: the selection has 1"),
     ({"year": "19"}, 400, "year must be four digits")],
)
def test_a_bad_browse_address_gives_a_browser_the_site_error_page(server, args, status, message):
    """A stale "next" link or mistyped filter keeps the site's navigation; scripts get text."""
    page = requests.get(server.url + "/browse", params=args, headers={"Accept": "text/html"},
                        timeout=30)
    assert page.status_code == status and page.headers["Content-Type"].startswith("text/html")
    assert message in page.text and 'href="/browse">Browse</a>' in page.text
    assert re.search(rf"<title>{status} \w[\w ]+ · medkg</title>", page.text)
    assert check_page(page.text) == []
    script = requests.get(server.url + "/browse", params={**args, "format": "json"}, timeout=30)
    assert script.status_code == status
    assert script.headers["Content-Type"].startswith("text/plain") and message in script.text


CSS = Path(__file__).resolve().parents[2] / "server" / "medkg_server" / "static" / "medkg.css"
# Text rules read on the page background, with WCAG's AA minimum for normal-size text.
TEXT_ON_PAGE = ("body", ".muted", ".count", "footer", "a", "table.props th")
AA_CONTRAST = 4.5


def _css_colours(css: str) -> dict[str, dict[str, str]]:
    """{selector: {property: #hex}} for the colour and background declarations of medkg.css."""
    rules: dict[str, dict[str, str]] = {}
    for selectors, body in re.findall(r"([^{}]+)\{([^{}]*)\}", re.sub(r"/\*.*?\*/", "", css)):
        found = dict(re.findall(r"(?:^|;)\s*(color|background)\s*:\s*(#[0-9a-fA-F]{3,6})", body))
        for selector in selectors.split(","):
            rules.setdefault(selector.strip(), {}).update(found)
    return rules


def _luminance(hex_colour: str) -> float:
    digits = hex_colour.lstrip("#")
    digits = "".join(c * 2 for c in digits) if len(digits) == 3 else digits
    channels = [int(digits[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(one: str, other: str) -> float:
    light, dark = sorted((_luminance(one), _luminance(other)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


@pytest.mark.parametrize("selector", TEXT_ON_PAGE)
def test_text_colours_are_readable_on_the_page_background(selector):
    rules = _css_colours(CSS.read_text(encoding="utf-8"))
    background = rules["body"]["background"]
    colour = rules[selector]["color"]
    assert _contrast(colour, background) >= AA_CONTRAST, (selector, colour, background)
