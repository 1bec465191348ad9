"""robots.txt and the sitemaps that lead dataset-search crawlers to every dataset page."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlsplit

import pyoxigraph as ox
import pytest

from medkg.store import StagedVersion, open_read_only, read_report
from medkg_server import crawlers
from medkg_server.app import create_app

SM = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
MKG_DATASET = ox.NamedNode("https://w3id.org/medkg/ontology#Dataset")
RDF_TYPE = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")


@pytest.fixture(scope="module")
def client(built_store: Path):  # type: ignore[no-untyped-def]
    return create_app({"STORE": str(built_store), "EXECUTORS": 1}).test_client()


def _dataset_paths(store: Path) -> set[str]:
    db = open_read_only(store)
    iris = {q.subject.value for q in db.quads_for_pattern(None, RDF_TYPE, MKG_DATASET)}
    return {"/" + iri.removeprefix("https://w3id.org/medkg/") for iri in iris}


def _locs(client, url: str, tag: str) -> list[str]:  # type: ignore[no-untyped-def]
    answer = client.get(url)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/xml; charset=utf-8"
    root = ET.fromstring(answer.data)
    assert root.tag == f"{SM}{tag}"
    return [loc.text for loc in root.iter(f"{SM}loc")]


def _pages(client) -> list[str]:  # type: ignore[no-untyped-def]
    pages = []
    for sitemap in _locs(client, "/sitemap.xml", "sitemapindex"):
        pages += _locs(client, sitemap, "urlset")
    return pages


def test_robots_names_the_sitemap_and_keeps_queries_out(client) -> None:  # type: ignore[no-untyped-def]
    answer = client.get("/robots.txt")
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/plain")
    lines = answer.get_data(as_text=True).splitlines()
    assert "Sitemap: http://localhost/sitemap.xml" in lines
    assert {"Disallow: /sparql", "Disallow: /store", "Disallow: /browse?"} <= set(lines)
    assert "Disallow: /dataset" not in "\n".join(lines)


def test_every_dataset_page_is_in_the_sitemap_and_answers(  # type: ignore[no-untyped-def]
    client, built_store: Path
) -> None:
    pages = _pages(client)
    assert len(pages) == len(set(pages))
    paths = {urlsplit(page).path for page in pages}
    datasets = _dataset_paths(built_store)
    assert datasets and datasets <= paths
    assert {"/", "/browse", "/stats"} <= paths
    for page in pages:
        assert client.get(page).status_code == 200, page


def test_large_catalogues_get_several_sitemap_files(
    monkeypatch: pytest.MonkeyPatch, built_store: Path
) -> None:
    monkeypatch.setattr(crawlers, "PER_SITEMAP", 1)
    client = create_app({"STORE": str(built_store), "EXECUTORS": 1}).test_client()
    count = len(_dataset_paths(built_store))
    files = _locs(client, "/sitemap.xml", "sitemapindex")
    assert len(files) == count
    pages = _pages(client)
    assert {urlsplit(p).path for p in pages} >= _dataset_paths(built_store)
    assert client.get(f"/sitemap/{count + 1}.xml").status_code == 404
    assert client.get("/sitemap/0.xml").status_code == 404


def test_sitemap_addresses_follow_the_host_asked_for(client) -> None:  # type: ignore[no-untyped-def]
    answer = client.get("/sitemap/1.xml", headers={"Host": "medkg.example.org"})
    locs = [loc.text for loc in ET.fromstring(answer.data).iter(f"{SM}loc")]
    assert locs and all(loc.startswith("http://medkg.example.org/") for loc in locs)
    etag = answer.headers["ETag"]
    again = client.get(
        "/sitemap/1.xml", headers={"Host": "medkg.example.org", "If-None-Match": etag}
    )
    assert again.status_code == 304
    other = client.get("/sitemap/1.xml", headers={"If-None-Match": etag})
    assert other.status_code == 200  # another host has other addresses, so another ETag


def test_no_store_yet_is_503(tmp_path: Path) -> None:
    client = create_app({"STORE": str(tmp_path / "empty"), "EXECUTORS": 1}).test_client()
    assert client.get("/sitemap.xml").status_code == 503
    assert client.get("/robots.txt").status_code == 200


def _with_written_datasets(built_store: Path, tmp_path: Path) -> Path:
    """A copy of the test store plus datasets a build never makes but Graph Store or SPARQL
    writes can: a blank node, an IRI outside the base (no page here) and an IRI with
    characters a URI must percent-encode."""
    store = tmp_path / "store"
    shutil.copytree(built_store, store, symlinks=True)
    graph = ox.NamedNode("urn:test:written")
    extra = [ox.BlankNode(), ox.NamedNode("https://example.org/ds/x"),
             ox.NamedNode("https://w3id.org/medkg/dataset/caf\u00e9-\u00fcn\u00ef")]
    staged = StagedVersion(store)
    staged.load_quads(open_read_only(store))
    staged.load_quads(ox.Quad(d, RDF_TYPE, MKG_DATASET, graph) for d in extra)
    staged.publish(read_report(store) or {})
    return store


def test_browse_lists_written_datasets_and_leaves_blank_nodes_out(
    built_store: Path, tmp_path: Path
) -> None:
    store = _with_written_datasets(built_store, tmp_path)
    client = create_app({"STORE": str(store), "EXECUTORS": 1}).test_client()
    assert client.get("/browse").status_code == 200
    listed = client.get("/browse?format=json").get_json()["datasets"]
    assert "https://example.org/ds/x" in {d["iri"] for d in listed}
    assert not [d for d in listed if not d["iri"].startswith("http")]  # a blank node has no page


def test_sitemaps_of_written_datasets_give_only_addresses_that_answer(
    built_store: Path, tmp_path: Path
) -> None:
    store = _with_written_datasets(built_store, tmp_path)
    client = create_app({"STORE": str(store), "EXECUTORS": 1}).test_client()
    pages = _pages(client)
    assert "http://localhost/dataset/caf%C3%A9-%C3%BCn%C3%AF" in pages
    for page in pages:
        parts = urlsplit(page)
        assert parts.scheme == "http" and parts.netloc == "localhost" and page.isascii(), page
        assert client.get(parts.path).status_code == 200, page


def test_behind_a_trusted_proxy_links_name_its_scheme_and_host(built_store: Path) -> None:
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "medkg.example.org"}
    client = create_app({"STORE": str(built_store), "EXECUTORS": 1, "PROXY_HOPS": 1}).test_client()
    proxied = client.get("/sitemap.xml", headers=forwarded)
    locs = [loc.text for loc in ET.fromstring(proxied.data).iter(f"{SM}loc")]
    assert locs and all(loc.startswith("https://medkg.example.org/") for loc in locs)
    # the same host over plain http, not through the proxy: its own links, not the kept answer
    plain = client.get("/sitemap.xml", headers={"Host": "medkg.example.org"})
    assert b"http://medkg.example.org/" in plain.data and b"https://" not in plain.data
    untrusting = create_app({"STORE": str(built_store), "EXECUTORS": 1}).test_client()
    ignored = untrusting.get("/sitemap.xml", headers=forwarded)
    assert b"https://medkg.example.org" not in ignored.data  # no proxy trusted: headers ignored
