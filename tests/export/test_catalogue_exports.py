"""CSV, DCAT, schema.org and Croissant exports, each read back by an independent parser, offline."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import rdflib
from export_helpers import medkg_validate, oxigraph_jsonld, pyld_graph, rdflib_jsonld
from rdflib import RDF, Namespace, URIRef
from rdflib.compare import isomorphic

from medkg.export import FORMATS, ExportError, export
from medkg.export.context import load_context

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
    jsonld, turtle = medkg_validate(jsonld, monkeypatch), medkg_validate(turtle, monkeypatch)
    assert jsonld.exit_code != 2, jsonld.output
    assert (jsonld.exit_code, jsonld.output) == (turtle.exit_code, turtle.output)


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
    for path in sorted(folder.iterdir()):
        result = subprocess.run(
            ["mlcroissant", "validate", "--jsonld", str(path)],
            capture_output=True, text=True, check=False, timeout=300,
        )  # fmt: skip
        assert result.returncode == 0, (path.name, result.stderr[-2000:])
        assert "error(s)" not in result.stderr
