"""Lists the project has never seen ingest with no code change (or a manifest entry only)."""

from __future__ import annotations

import shutil
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pyoxigraph as ox
import pytest

from medkg.build import build
from medkg.config import Settings, load_settings
from medkg.namespaces import Namespaces
from medkg.query import run
from medkg.store import open_read_only

ROOT = Path(__file__).resolve().parents[1]
NEW = Path(__file__).parent / "fixtures" / "new-lists"
DS = "https://w3id.org/medkg/dataset/"


def rows(settings: Settings, query: str) -> list[tuple[str, ...]]:
    result = run(open_read_only(settings.store), query, Namespaces(settings.base))
    assert isinstance(result, ox.QuerySolutions)
    names = [v.value for v in result.variables]
    return [tuple(r[n].value if r[n] is not None else "" for n in names) for r in result]


@pytest.fixture(scope="module")
def with_new_lists(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, dict]:
    """The five real lists plus the two new ones: the radiology list given with --sources, the
    bullet list through a manifest entry that declares its scope."""
    home = tmp_path_factory.mktemp("home")
    shutil.copytree(ROOT / "data", home / "data")
    shutil.copytree(ROOT / "ontology", home / "ontology")
    shutil.copy(NEW / "bullet-atlas.md", home / "data" / "sources" / "bullet-atlas.md")
    with open(home / "data" / "manifest.toml", "a", encoding="utf-8") as manifest:
        manifest.write('\n[[source]]\nid = "bullet-atlas"\ntitle = "Bullet Atlas"\n'
                       'path = "sources/bullet-atlas.md"\norigin = "written for the tests"\n'
                       'received = "2026-11-22"\n[source.scope]\nmodality = "fluorescence microscopy"\n')
    settings = load_settings(store=home / "store", home=home)
    report = build(settings, extra=[str(NEW / "radiology-roundup.md")])
    return settings, report


def test_other_columns_heading_context_and_name_links(with_new_lists) -> None:
    settings, _ = with_new_lists
    found = rows(settings, f"""SELECT ?page ?organ ?year WHERE {{
        <{DS}glioma-growth-atlas> dcat:landingPage ?page ; mkg:organ/skos:prefLabel ?organ ;
            dcterms:issued ?year }}""")
    assert found == [("https://example.org/gga", "brain", "2021")]
    tasks = {r[0] for r in rows(settings, f"""SELECT ?t WHERE {{
        <{DS}glioma-growth-atlas> mkg:task/skos:prefLabel ?t }}""")}
    assert {"segmentation", "classification"} <= tasks
    kinds = {r[0] for r in rows(settings, f"""SELECT ?m WHERE {{
        <{DS}glioma-growth-atlas> mkg:modality ?m }}""")}
    assert {"https://w3id.org/medkg/modality/t1-mri", "https://w3id.org/medkg/modality/flair"} <= kinds


def test_summary_table_and_pointer_bullets_are_skipped_and_reported(with_new_lists) -> None:
    _, report = with_new_lists
    radiology = next(s for s in report["sources"] if s["id"] == "radiology-roundup")
    assert radiology["entries"] == 4
    assert any("without a dataset-name column" in s["reason"] and s["line"] == 10
               for s in radiology["skipped"])
    atlas = next(s for s in report["sources"] if s["id"] == "bullet-atlas")
    assert atlas["entries"] == 3
    reasons = {s["line"]: s["reason"] for s in atlas["skipped"]}
    assert "table of contents" in reasons[6] and "bare link" in reasons[20]


def test_new_entries_merge_with_known_datasets(with_new_lists) -> None:
    settings, _ = with_new_lists
    for slug, new_list in (("segthor", "radiology-roundup"), ("pannuke", "bullet-atlas")):
        lists = {r[0] for r in rows(settings, f"""SELECT ?l WHERE {{
            <{DS}{slug}> prov:wasDerivedFrom/mkg:inList ?l }}""")}
        assert f"https://w3id.org/medkg/source/{new_list}" in lists and len(lists) >= 2


def test_look_alike_names_stay_apart(with_new_lists) -> None:
    settings, _ = with_new_lists
    found = rows(settings, f"""SELECT ?l WHERE {{
        <{DS}segthorax-extended> prov:wasDerivedFrom/mkg:inList ?l }}""")
    assert found == [("https://w3id.org/medkg/source/radiology-roundup",)]


def test_scope_from_manifest_and_bullet_fields(with_new_lists) -> None:
    settings, _ = with_new_lists
    cta = f"<{DS}cell-tracking-alpha>"
    assert rows(settings, f"SELECT ?d WHERE {{ {cta} mkg:dimension ?d }}") == [("2D+time",)]
    assert ("https://w3id.org/medkg/modality/fluorescence-microscopy",) in rows(
        settings, f"SELECT ?m WHERE {{ {cta} mkg:modality ?m }}")
    kidney = rows(settings, f"""SELECT ?s ?o WHERE {{ <{DS}kidney-glomeruli-fluo> mkg:stain ?s ;
        mkg:organ ?o }}""")
    assert {r[0] for r in kidney} == {"https://w3id.org/medkg/stain/dapi"}
    assert "https://w3id.org/medkg/anatomy/kidney" in {r[1] for r in kidney}


@pytest.fixture
def served_list(tmp_path: Path):
    shutil.copy(NEW / "radiology-roundup.md", tmp_path / "roundup.md")
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(SimpleHTTPRequestHandler, directory=str(tmp_path)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/roundup.md"
    server.shutdown()


def test_url_source_builds_with_provenance(mini_settings: Settings, served_list: str) -> None:
    build(mini_settings, extra=[served_list])
    found = rows(mini_settings, """SELECT ?origin ?when WHERE {
        <https://w3id.org/medkg/source/roundup> prov:wasDerivedFrom ?origin ; prov:generatedAtTime ?when }""")
    assert len(found) == 1 and found[0][0] == served_list and found[0][1].startswith("20")


@pytest.fixture(scope="module")
def plain_url_atlas(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, dict]:
    """The mini data plus a list whose datasets are HTML anchors and bare URLs."""
    home = tmp_path_factory.mktemp("plain-home")
    shutil.copytree(Path(__file__).parent / "fixtures" / "mini" / "data", home / "data")
    shutil.copytree(ROOT / "ontology", home / "ontology")
    settings = load_settings(store=home / "store", home=home)
    return settings, build(settings, extra=[str(NEW / "plain-url-atlas.md")])


def _names_and_pages(settings: Settings) -> set[tuple[str, str]]:
    return set(rows(settings, """SELECT ?name ?page WHERE { ?e mkg:inList
        <https://w3id.org/medkg/source/plain-url-atlas> . ?d prov:wasDerivedFrom ?e ;
        dcterms:title ?name ; dcat:landingPage ?page }"""))


def test_html_anchor_and_bare_url_bullets_are_datasets(plain_url_atlas) -> None:
    settings, report = plain_url_atlas
    atlas = next(s for s in report["sources"] if s["id"] == "plain-url-atlas")
    assert atlas["entries"] == 4
    assert _names_and_pages(settings) == {
        ("Fundus Quartz", "https://example.org/fundus-quartz?v=1&s=2"),
        ("OCT Pebble", "https://example.org/oct-pebble"),
        ("Plain Retina Set (OCT, fundus)", "https://example.org/plain-retina"),
        ("Knee Slate", "https://example.org/knee-slate"),
    }
    papers = rows(settings, f"SELECT ?p WHERE {{ <{DS}fundus-quartz> mkg:paper ?p }}")
    assert papers == [("https://pubmed.ncbi.nlm.nih.gov/00000001",)]


def test_bullets_without_a_dataset_link_are_reported(plain_url_atlas) -> None:
    _, report = plain_url_atlas
    atlas = next(s for s in report["sources"] if s["id"] == "plain-url-atlas")
    reasons = {s["line"]: s["reason"] for s in atlas["skipped"]}
    assert "without a link" in reasons[18] and "bare link" in reasons[19]
    assert set(reasons) == {18, 19}


def test_a_bullets_release_year_is_not_a_count_or_a_future_number(plain_url_atlas) -> None:
    settings, _ = plain_url_atlas
    fundus = rows(settings, f"SELECT ?y WHERE {{ <{DS}fundus-quartz> dcterms:issued ?y }}")
    assert fundus == [("2019",)]
    assert rows(settings, f"SELECT ?y WHERE {{ <{DS}oct-pebble> dcterms:issued ?y }}") == []
