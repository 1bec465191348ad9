"""Dereferenceable IRIs, dataset pages with schema.org markup, browse facets and statistics."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pyoxigraph as ox
import pytest
import requests
from medkg_server import create_app

CAMELYON = "https://w3id.org/medkg/dataset/camelyon16"


def get(server, path: str, accept: str | None = None, **params: str) -> requests.Response:
    headers = {"Accept": accept} if accept else {}
    return requests.get(server.url + path, headers=headers, params=params, timeout=30)


class _JsonLdScripts(HTMLParser):
    """Collects the bodies of <script type="application/ld+json"> elements."""

    def __init__(self) -> None:
        super().__init__()
        self.blocks: list[str] = []
        self._inside = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._inside = tag == "script" and ("type", "application/ld+json") in attrs

    def handle_endtag(self, tag: str) -> None:
        self._inside = False

    def handle_data(self, data: str) -> None:
        if self._inside:
            self.blocks.append(data)


@pytest.mark.parametrize(
    ("accept", "media_type", "rdf_format"),
    [
        ("text/turtle", "text/turtle", ox.RdfFormat.TURTLE),
        ("application/ld+json", "application/ld+json", ox.RdfFormat.JSON_LD),
        ("application/n-triples", "application/n-triples", ox.RdfFormat.N_TRIPLES),
        ("application/rdf+xml", "application/rdf+xml", ox.RdfFormat.RDF_XML),
        ("text/turtle; charset=utf-8", "text/turtle", ox.RdfFormat.TURTLE),
        ('application/ld+json; profile="http://www.w3.org/ns/json-ld#compacted"',
         "application/ld+json", ox.RdfFormat.JSON_LD),
    ],
)
def test_dataset_iri_negotiates_rdf(server, accept, media_type, rdf_format):
    answer = get(server, "/dataset/camelyon16", accept)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == f"{media_type}; charset=utf-8"
    assert "Accept" in answer.headers["Vary"]
    assert 'rel="alternate"; type="text/turtle"' in answer.headers["Link"]
    triples = list(ox.parse(answer.content, format=rdf_format))
    subjects = {t.subject.value for t in triples}
    assert CAMELYON in subjects
    # the dataset's size statement travels with it
    assert any(s.startswith(CAMELYON + "/count/") for s in subjects)


def test_browsers_get_html_and_format_parameter_overrides(server):
    page = get(server, "/dataset/camelyon16", "text/html,application/xhtml+xml,*/*;q=0.8")
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    turtle = get(server, "/dataset/camelyon16", "text/html", format="ttl")
    assert turtle.headers["Content-Type"].startswith("text/turtle")


def test_a_page_format_parameter_naming_nothing_known_is_406(server):
    assert get(server, "/dataset/camelyon16", format="turtel").status_code == 406
    assert get(server, "/dataset/camelyon16", format="ttl").status_code == 200
    assert get(server, "/void", format="turtel").status_code == 406


def test_dataset_page_shows_what_a_researcher_needs(server):
    page = get(server, "/dataset/camelyon16", "text/html").text
    for expected in (
        "CAMELYON16",
        "Whole-slide images of sentinel lymph node",
        "lymph node",
        "whole slide imaging",
        "hematoxylin and eosin",
        "segmentation",
        "MICCAI 2016",
        "2016",
        "400 wsis",
        "https://camelyon16.grand-challenge.org/",
        "Histopathology datasets",
        "line 12",
        "http://purl.obolibrary.org/obo/UBERON_0000029",
    ):
        assert expected in page, expected
    assert 'href="/anatomy/lymph-node"' in page  # base IRIs link to this server
    # the label classes a list names (in alphabetical order: RDF keeps none), with its count
    assert '<th>Label classes</th><td class="label-classes">2 classes: normal, tumor</td>' in page


def test_dataset_page_embeds_schema_org_dataset(server):
    parser = _JsonLdScripts()
    parser.feed(get(server, "/dataset/camelyon16", "text/html").text)
    doc = json.loads(parser.blocks[0])
    assert doc["@type"] == "Dataset" and doc["@context"] == "https://schema.org/"
    assert doc["name"] == "CAMELYON16"
    assert doc["description"]
    assert "whole slide imaging" in doc["measurementTechnique"]
    assert doc["sameAs"] == ["https://camelyon16.grand-challenge.org/"]
    assert doc["alternateName"] == ["Camelyon 2016"]


def test_every_real_dataset_page_has_markup_search_engines_accept(real_settings):
    from medkg.build import build
    from medkg.store import open_read_only

    build(real_settings, run_validation=False)
    kind = ox.NamedNode("https://w3id.org/medkg/ontology#Dataset")
    rdf_type = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
    datasets = sorted({q.subject.value for q in open_read_only(real_settings.store)
                       .quads_for_pattern(None, rdf_type, kind, None)})
    assert len(datasets) > 500
    app = create_app({"STORE": str(real_settings.store), "EXECUTORS": 1})
    client = app.test_client()
    try:
        for iri in datasets:
            page = client.get(iri.replace("https://w3id.org/medkg", ""),
                              headers={"Accept": "text/html"}).get_data(as_text=True)
            parser = _JsonLdScripts()
            parser.feed(page)
            doc = json.loads(parser.blocks[0])
            assert len(doc["description"]) >= 50, (iri, doc["description"])
            assert doc["name"] not in doc.get("alternateName", []), iri
            row = re.search(r"<th>Also known as</th><td>([^<]*)</td>", page)
            assert row is None or doc["name"] not in row.group(1).split(", "), iri
    finally:
        app.extensions["medkg"].executor.close()


def test_json_ld_block_cannot_be_broken_out_of(server):
    parser = _JsonLdScripts()
    page = get(server, "/dataset/tricky", "text/html").text
    parser.feed(page)
    doc = json.loads(parser.blocks[0])
    assert doc["description"].startswith("<script>alert")  # the text survives, as data
    assert "</script>alert" not in page


def test_other_iris_dereference(server):
    for path in (
        "/anatomy/breast",
        "/challenge/miccai-2016",
        "/source/histo",
        "/source/histo/entry/12",
        "/ontology",
        "/catalogue",
        "/scheme/anatomy",
    ):
        assert get(server, path, "text/html").status_code == 200, path
        assert get(server, path, "text/turtle").status_code == 200, path
    ontology = get(server, "/ontology", "application/n-triples").text
    assert "<https://w3id.org/medkg/ontology#Dataset>" in ontology
    graph = get(server, "/graph/catalogue", "application/n-triples")
    assert CAMELYON in graph.text


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/graph/source/histo", "Histopathology datasets"),  # the list's dcterms:title
        ("/graph/source/imaging", "Biomedical imaging datasets"),
        ("/graph/catalogue", "Catalogue"),
        ("/graph/vocabulary", "Vocabulary"),
        ("/graph/ontology", "Ontology"),
    ],
)
def test_a_named_graph_page_is_titled_by_name_not_by_iri(server, path, name):
    page = get(server, path, "text/html").text
    assert re.search(r"<title>(.*?)</title>", page).group(1) == f"{name} · medkg"
    assert re.search(r"<h1>(.*?)</h1>", page).group(1) == name
    assert f"<code>https://w3id.org/medkg{path}</code>" in page  # the IRI is still shown


def test_unknown_iri_is_404(server):
    assert get(server, "/dataset/no-such-dataset", "text/turtle").status_code == 404
    assert get(server, "/dataset/no-such-dataset", "text/html").status_code == 404


def test_conditional_get_on_pages(server):
    first = get(server, "/dataset/camelyon16", "text/turtle")
    again = requests.get(
        server.url + "/dataset/camelyon16",
        timeout=30,
        headers={"Accept": "text/turtle", "If-None-Match": first.headers["ETag"]},
    )
    assert again.status_code == 304


def _facet_counts(html: str, facet: str) -> dict[str, int]:
    section = html.split(f'data-facet="{facet}"', 1)[1].split("</section>", 1)[0]
    pairs = re.findall(r'>([^<>]+)</a> <span class="count">(\d+)</span>', section)
    return {label: int(n) for label, n in pairs}


def test_browse_facets_count_and_filter(server):
    page = get(server, "/browse").text
    assert re.search(r'<strong id="total">3</strong>', page)
    assert _facet_counts(page, "organ") == {"breast": 2, "lymph node": 1}
    assert _facet_counts(page, "stain") == {"hematoxylin and eosin": 2}
    assert _facet_counts(page, "year") == {"2021": 1, "2019": 1, "2016": 1}
    filtered = get(server, "/browse", organ="https://w3id.org/medkg/anatomy/breast").text
    assert re.search(r'<strong id="total">2</strong>', filtered)
    assert _facet_counts(filtered, "modality") == {"computed tomography": 1}
    by_year = get(server, "/browse", year="2019").text
    assert re.search(r'<strong id="total">1</strong>', by_year) and "Tricky" in by_year


def test_a_chosen_value_stays_listed_when_nothing_matches(server):
    breast = "https://w3id.org/medkg/anatomy/breast"
    page = get(server, "/browse", organ=breast, year="2016", q="no such text anywhere").text
    assert re.search(r'<strong id="total">0</strong>', page)
    # each choice is still there (count 0), as a link that drops that choice alone
    assert _facet_counts(page, "organ") == {"breast": 0}
    assert _facet_counts(page, "year") == {"2016": 0}
    organ = page.split('data-facet="organ"', 1)[1].split("</section>", 1)[0]
    toggle = re.search(r'href="\?([^"]*)" class="selected">breast<', organ).group(1)
    assert "organ=" not in toggle and "year=2016" in toggle and "q=no" in toggle


def test_a_year_is_four_ascii_digits(server):
    assert get(server, "/browse", year="\uff12\uff10\uff12\uff10").status_code == 400
    assert get(server, "/browse", year="2019").status_code == 200


def test_a_page_past_the_last_is_not_found(server):
    assert get(server, "/browse", page="1").status_code == 200
    assert get(server, "/browse", page="2").status_code == 404  # 3 datasets: one page
    none = get(server, "/browse", q="no such text anywhere", page="1")
    assert none.status_code == 200  # an empty selection still has its first page


def test_browse_search_ignores_how_many_spaces_were_typed(server):
    page = get(server, "/browse", q="sentinel   lymph").text  # the description has one space
    assert re.search(r'<strong id="total">1</strong>', page) and "CAMELYON16" in page


def test_browse_text_search(server):
    page = get(server, "/browse", q="SENTINEL").text  # matches a description, any case
    assert re.search(r'<strong id="total">1</strong>', page) and "CAMELYON16" in page
    assert get(server, "/browse", organ="not an iri").status_code == 400


def test_browse_as_json_gives_the_same_counts_and_datasets(server):
    breast = "https://w3id.org/medkg/anatomy/breast"
    answer = get(server, "/browse", accept="application/json", organ=breast)
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "application/json"
    assert "Accept" in answer.headers["Vary"]
    data = answer.json()
    assert data["selection"] == {"organ": breast}
    assert data["total"] == 2 and data["page"] == 1 and data["pages"] == 1
    assert len(data["datasets"]) == 2 and all(d["iri"] and d["title"] for d in data["datasets"])
    modality = next(f for f in data["facets"] if f["key"] == "modality")
    assert {v["label"]: v["count"] for v in modality["values"]} == {"computed tomography": 1}
    organ = next(f for f in data["facets"] if f["key"] == "organ")
    assert [v["selected"] for v in organ["values"] if v["value"] == breast] == [True]
    by_parameter = get(server, "/browse", organ=breast, format="json")
    assert by_parameter.json() == data
    page = get(server, "/browse", organ=breast).text  # the HTML page says where its JSON is
    assert 'rel="alternate" type="application/json"' in page and "format=json" in page


def test_pages_offer_html_or_json_and_nothing_else(server):
    assert get(server, "/browse", format="xml").status_code == 406
    assert get(server, "/stats", format="csv").status_code == 406
    html = get(server, "/browse", accept="text/html, application/json")
    assert html.headers["Content-Type"].startswith("text/html")  # a tie goes to the page
    assert get(server, "/stats", accept="*/*").headers["Content-Type"].startswith("text/html")
    json_first = get(server, "/stats", accept="application/json, text/html;q=0.5")
    assert json_first.headers["Content-Type"] == "application/json"
    kinds = ("text/html", "application/json")
    etags = {get(server, "/stats", accept=kind).headers["ETag"] for kind in kinds}
    assert len(etags) == 2  # a cache must not give one for the other


def test_statistics_as_json(server):
    data = get(server, "/stats", format="json").json()
    assert data["totals"]["datasets"] == 3
    systems = {item["label"]: item["count"] for item in data["organ_system"]}
    assert "immune system" in systems and "chest region" in systems
    assert {item["label"] for item in data["year"]} == {"2016", "2019", "2021"}


def test_statistics_page_draws_charts(server):
    page = get(server, "/stats").text
    assert page.count("<svg") == 3
    assert "Datasets per organ system" in page
    # organ systems are the top concepts reached through skos:broader
    assert "immune system" in page and "chest region" in page
    assert re.search(r"<title>breast", page) is None  # organs roll up, they are not listed


def test_ld_prefix_maps_the_base_to_another_path(built_store):
    app = create_app({"STORE": str(built_store), "LD_PREFIX": "/ld/", "EXECUTORS": 1})
    client = app.test_client()
    try:
        answer = client.get("/ld/dataset/camelyon16", headers={"Accept": "text/turtle"})
        assert answer.status_code == 200 and CAMELYON.encode() in answer.data
        page = client.get("/ld/dataset/camelyon16", headers={"Accept": "text/html"})
        assert b'href="/ld/anatomy/lymph-node"' in page.data
        assert client.get("/dataset/camelyon16").status_code == 404
    finally:
        app.extensions["medkg"].executor.close()


def test_page_links_follow_the_mount_point_and_host_of_each_request(built_store):
    app = create_app({"STORE": str(built_store), "EXECUTORS": 1})
    client = app.test_client()
    try:
        # the same page reached three ways, in an order that would reuse a wrong entry
        for root, host in [("", "a.example"), ("/medkg", "a.example"), ("/medkg", "b.example"),
                           ("", "a.example")]:
            page = client.get("/dataset/camelyon16", base_url=f"http://{host}{root}",
                              headers={"Accept": "text/html"})
            assert page.status_code == 200
            assert f'href="{root}/static/medkg.css"'.encode() in page.data
            assert f'href="{root}/browse">Browse'.encode() in page.data
            assert f'href="{root}/sparql?format=ttl"'.encode() in page.data
            assert f"<code>http://{host}{root}/sparql</code>".encode() in page.data
    finally:
        app.extensions["medkg"].executor.close()


def test_every_iri_under_the_base_dereferences(real_settings):
    """Each IRI a build of the real lists names under the base answers, as HTML and Turtle."""
    from medkg.build import build
    from medkg.store import open_read_only

    build(real_settings, run_validation=False)
    built_store = real_settings.store
    base = "https://w3id.org/medkg/"
    iris = set()
    for quad in open_read_only(built_store):
        for term in (quad.subject, quad.predicate, quad.object, quad.graph_name):
            if isinstance(term, ox.NamedNode) and term.value.startswith(base):
                iris.add(term.value.split("#", 1)[0])  # ontology terms live in one document
    assert f"{base}team" in iris and len(iris) > 50
    app = create_app({"STORE": str(built_store), "EXECUTORS": 1})
    client = app.test_client()
    try:
        failed = []
        for iri in sorted(iris):
            path = "/" + iri[len(base):]
            for accept in ("text/html", "text/turtle"):
                status = client.get(path, headers={"Accept": accept}).status_code
                if status not in (200, 303):  # the ontology sends browsers to its documentation
                    failed.append((path, accept, status))
        assert failed == []
        # a version the store does not have is not there
        assert client.get("/ontology/9.9.9", headers={"Accept": "text/turtle"}).status_code == 404
    finally:
        app.extensions["medkg"].executor.close()


def test_a_very_long_name_is_cut_in_the_title_but_whole_in_the_heading(tmp_path):
    from medkg.store import StagedVersion

    name = "Long " * 1000  # 5,000 characters
    staged = StagedVersion(tmp_path)
    dataset = ox.NamedNode(CAMELYON)
    graph = ox.NamedNode("https://w3id.org/medkg/graph/catalogue")
    staged.load_quads([
        ox.Quad(dataset, ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type"),
                ox.NamedNode("https://w3id.org/medkg/ontology#Dataset"), graph),
        ox.Quad(dataset, ox.NamedNode("http://purl.org/dc/terms/title"), ox.Literal(name), graph),
    ])
    staged.publish({"test": True})
    app = create_app({"STORE": str(tmp_path), "EXECUTORS": 1})
    try:
        page = app.test_client().get("/dataset/camelyon16", headers={"Accept": "text/html"})
        text = page.get_data(as_text=True)
        title = re.search(r"<title>(.*?)</title>", text, re.S).group(1)
        assert len(title) < 200 and title.startswith("Long Long") and "…" in title
        assert name.strip() in text  # the heading keeps the whole name
    finally:
        app.extensions["medkg"].executor.close()


LYMPH_NODE = "https://w3id.org/medkg/anatomy/lymph-node"


def test_a_concept_page_lists_what_points_to_it_and_links_to_browse_them_all(server) -> None:
    page = get(server, "/anatomy/lymph-node", "text/html").text
    assert "Referenced by" in page and 'href="/dataset/camelyon16"' in page
    browse = re.search(r'<a href="(/browse\?organ=[^"]+)">All datasets with this organ</a>', page)
    assert browse is not None
    listed = get(server, browse.group(1).replace("&amp;", "&"), "text/html")
    assert listed.status_code == 200 and 'href="/dataset/camelyon16"' in listed.text
    source = get(server, "/source/histo", "text/html").text
    assert "All datasets with this" not in source  # no browse facet points to a list


def test_a_long_list_of_what_points_here_says_it_is_cut(
    built_store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from medkg_server import catalogue

    monkeypatch.setattr(catalogue, "INBOUND_SHOWN", 1)
    client = create_app({"STORE": str(built_store), "EXECUTORS": 1}).test_client()
    page = client.get("/anatomy/breast", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert "The first 1 resources that point here" in page  # two datasets have this organ
    referenced = page[page.index("Referenced by"):]
    assert referenced.count("<tr><th>") == 1
