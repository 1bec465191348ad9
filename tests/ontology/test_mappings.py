"""ontology/mappings-verified.tsv against the vocabularies and against the sources it cites.

The table must list exactly the mappings and DICOM notations the Turtle files state. Where an
offline copy of the target vocabulary is installed (cellxgene-ontology-guide for UBERON, ChEBI
and EFO, pydicom for DICOM and the SNOMED CT codes DICOM uses, edam-ontology for EDAM, rdflib for
schema.org), each identifier is looked up and its recorded label compared; otherwise that check
is skipped.
"""

from __future__ import annotations

import csv
import importlib.resources
import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import rdflib
from rdflib import Literal, URIRef
from rdflib.namespace import SKOS

ROOT = Path(__file__).resolve().parents[2]
ONTOLOGY = ROOT / "ontology"
TABLE = ONTOLOGY / "mappings-verified.tsv"
REFERENCE = Path("/work/shared/reference/ontology-terms.json")
COLUMNS = [
    "concept", "predicate", "object", "object_label", "source", "verification", "justification",
]  # fmt: skip
MAPPING_PREDICATES = {
    "skos:exactMatch": SKOS.exactMatch,
    "skos:closeMatch": SKOS.closeMatch,
    "skos:broadMatch": SKOS.broadMatch,
    "skos:narrowMatch": SKOS.narrowMatch,
    "skos:relatedMatch": SKOS.relatedMatch,
}
DICOM_MODALITY_CODE = URIRef("https://w3id.org/medkg/ontology#dicomModalityCode")
OBO = "http://purl.obolibrary.org/obo/"
# Namespaces a mapping may point into, with the shape of a local identifier.
TARGET_PATTERNS = [
    re.compile(r"^http://purl\.obolibrary\.org/obo/UBERON_\d{7}$"),
    re.compile(r"^http://purl\.obolibrary\.org/obo/(CHEBI|NCIT)_C?\d+$"),
    re.compile(r"^http://purl\.obolibrary\.org/obo/(OBI|CHMO)_\d{7}$"),
    re.compile(r"^http://purl\.obolibrary\.org/obo/FBbi_\d{8}$"),
    re.compile(r"^http://purl\.obolibrary\.org/obo/EFO_\d{7}$"),
    re.compile(r"^http://snomed\.info/id/\d+$"),
    re.compile(r"^http://dicom\.nema\.org/resources/ontology/DCM/\d+$"),
    re.compile(r"^http://edamontology\.org/(operation|topic|data)_\d{4}$"),
    re.compile(r"^https://schema\.org/[A-Za-z]+$"),
    re.compile(r"^http://www\.wikidata\.org/entity/Q\d+$"),
]


def read_table() -> list[dict[str, str]]:
    with TABLE.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def table_by_namespace(prefix: str) -> list[dict[str, str]]:
    return [row for row in read_table() if row["object"].startswith(prefix)]


def vocabulary_statements() -> set[tuple[str, str, str]]:
    """(concept, predicate, object) for every mapping and DICOM notation in ontology/vocab/."""
    found = set()
    for path in sorted((ONTOLOGY / "vocab").glob("*.ttl")):
        graph = rdflib.Graph().parse(path, format="turtle")
        for name, prop in MAPPING_PREDICATES.items():
            for concept, target in graph.subject_objects(prop):
                found.add((str(concept), name, str(target)))
        for concept, code in graph.subject_objects(SKOS.notation):
            assert isinstance(code, Literal), (concept, code)
            assert code.datatype == DICOM_MODALITY_CODE, (concept, code)
            found.add((str(concept), "skos:notation", f"DCM:{code}"))
    return found


def test_table_has_the_agreed_columns_and_is_sorted() -> None:
    with TABLE.open(encoding="utf-8") as handle:
        header = handle.readline().rstrip("\n").split("\t")
    assert header == COLUMNS
    rows = read_table()
    keys = [tuple(row[c] for c in COLUMNS) for row in rows]
    assert keys == sorted(keys)
    assert len({key[:3] for key in keys}) == len(keys), "one row per mapping"


def test_every_row_is_complete() -> None:
    for row in read_table():
        assert all(row[c].strip() for c in COLUMNS), row
        assert row["predicate"] in {*MAPPING_PREDICATES, "skos:notation"}, row
        assert row["verification"] in {"V1", "V2", "checked"}, row
        assert row["concept"].startswith("https://w3id.org/medkg/"), row


def test_mapping_targets_are_full_iris_of_known_vocabularies() -> None:
    for row in read_table():
        if row["predicate"] == "skos:notation":
            assert re.fullmatch(r"DCM:[A-Z0-9]+", row["object"]), row
        else:
            assert any(p.match(row["object"]) for p in TARGET_PATTERNS), row["object"]


def test_table_and_vocabularies_state_the_same_mappings() -> None:
    in_table = {(row["concept"], row["predicate"], row["object"]) for row in read_table()}
    in_vocab = vocabulary_statements()
    assert in_vocab - in_table == set(), "mapped in the vocabularies but not in the table"
    assert in_table - in_vocab == set(), "in the table but not in the vocabularies"


# --- checks against the offline copies of the target vocabularies -------------------------


def load_cellxgene_ontology(name: str, version: str) -> dict[str, Any]:
    """One ontology file shipped by cellxgene-ontology-guide, e.g. UBERON v2026-04-01."""
    guide = pytest.importorskip("cellxgene_ontology_guide")
    zstandard = pytest.importorskip("zstandard")
    path = Path(guide.__file__).parent / "data" / f"{name}-ontology-{version}.json.zst"
    if not path.is_file():
        pytest.skip(f"cellxgene-ontology-guide has no {path.name}")
    with path.open("rb") as handle:
        return json.loads(zstandard.ZstdDecompressor().stream_reader(handle).read())


def version_in_source(rows: list[dict[str, str]], name: str) -> str:
    """The release named in the source column, e.g. 'UBERON v2026-04-01' -> 'v2026-04-01'."""
    versions = {re.search(rf"{name} (\S+)", row["source"]).group(1) for row in rows}
    assert len(versions) == 1, f"{name} rows cite several releases: {versions}"
    return versions.pop()


def obo_curie(iri: str) -> str:
    prefix, local = iri[len(OBO):].split("_", 1)
    return f"{prefix}:{local}"


@pytest.fixture(scope="module")
def uberon() -> dict[str, Any]:
    rows = table_by_namespace(OBO + "UBERON_")
    return load_cellxgene_ontology("UBERON", version_in_source(rows, "UBERON"))


def test_uberon_classes_exist_undeprecated_with_recorded_label(uberon: dict[str, Any]) -> None:
    rows = table_by_namespace(OBO + "UBERON_")
    assert len(rows) >= 80
    for row in rows:
        term = uberon.get(obo_curie(row["object"]))
        assert term is not None, row["object"]
        assert not term.get("deprecated"), row["object"]
        assert term["label"] == row["object_label"], row["object"]


def test_anatomy_broader_links_are_uberon_ancestor_links(uberon: dict[str, Any]) -> None:
    uberon_of: dict[str, set[str]] = defaultdict(set)
    for row in table_by_namespace(OBO + "UBERON_"):
        if row["predicate"] in ("skos:exactMatch", "skos:closeMatch"):
            uberon_of[row["concept"]].add(obo_curie(row["object"]))
    graph = rdflib.Graph().parse(ONTOLOGY / "vocab" / "anatomy.ttl", format="turtle")
    checked = 0
    for child, parent in graph.subject_objects(SKOS.broader):
        for child_id in uberon_of.get(str(child), ()):
            for parent_id in uberon_of.get(str(parent), ()):
                assert parent_id in uberon[child_id]["ancestors"], (child, parent)
                checked += 1
    assert checked >= 80


@pytest.mark.parametrize("name", ["CHEBI", "EFO"])
def test_obo_terms_in_cellxgene_exist_undeprecated_with_recorded_label(name: str) -> None:
    """ChEBI and EFO rows against the release the source column names, e.g. 'EFO v3.90.0'."""
    rows = table_by_namespace(f"{OBO}{name}_")
    assert rows
    ontology = load_cellxgene_ontology(name, version_in_source(rows, name))
    for row in rows:
        term = ontology.get(obo_curie(row["object"]))
        assert term is not None, row["object"]
        assert not term.get("deprecated"), row["object"]
        assert term["label"] == row["object_label"], row["object"]


def dicom_meanings(scheme: str) -> dict[str, tuple[str, list[int]]]:
    """code -> (code meaning, context groups) for one coding scheme in pydicom's tables."""
    pytest.importorskip("pydicom")
    from pydicom.sr._concepts_dict import concepts

    return {
        code: (meaning, cids)
        for entry in concepts[scheme].values()
        for code, (meaning, cids) in entry.items()
    }


def test_dicom_modality_notations_are_in_cid_29_or_33_with_recorded_label() -> None:
    meanings = dicom_meanings("DCM")
    from pydicom.sr._cid_dict import cid_concepts
    from pydicom.sr._concepts_dict import concepts

    rows = [row for row in read_table() if row["predicate"] == "skos:notation"]
    assert len(rows) >= 15
    modality_names = set(cid_concepts[29]["DCM"]) | set(cid_concepts[33]["DCM"])
    modality_codes = {code for name in modality_names for code in concepts["DCM"][name]}
    for row in rows:
        code = row["object"].removeprefix("DCM:")
        assert code in modality_codes, row["object"]
        assert meanings[code][0] == row["object_label"], row["object"]


def test_snomed_and_dcm_codes_are_in_pydicom_with_recorded_label() -> None:
    checked = 0
    for prefix, scheme in (
        ("http://snomed.info/id/", "SCT"),
        ("http://dicom.nema.org/resources/ontology/DCM/", "DCM"),
    ):
        meanings = dicom_meanings(scheme)
        for row in table_by_namespace(prefix):
            code = row["object"].removeprefix(prefix)
            assert code in meanings, row["object"]
            assert meanings[code][0] == row["object_label"], row["object"]
            checked += 1
    assert checked >= 15


def test_edam_terms_exist_unobsolete_with_recorded_label() -> None:
    edam = pytest.importorskip("edam_ontology")
    rows = table_by_namespace("http://edamontology.org/")
    assert rows
    cited = {m.group(1) for row in rows if (m := re.search(r"edam-ontology (\S+)", row["source"]))}
    if cited - {edam.__version__}:
        pytest.skip(f"rows cite edam-ontology {cited}, {edam.__version__} is installed")
    with importlib.resources.files(edam).joinpath("EDAM.tsv").open(encoding="utf-8") as handle:
        terms = {term["Class ID"]: term for term in csv.DictReader(handle, delimiter="\t")}
    for row in rows:
        term = terms.get(row["object"])
        assert term is not None, row["object"]
        assert term["Obsolete"] == "FALSE", row["object"]
        assert term["Preferred Label"] == row["object_label"], row["object"]


def test_schema_org_terms_exist_in_rdflib() -> None:
    from rdflib.namespace import SDO

    rows = table_by_namespace("https://schema.org/")
    assert rows
    for row in rows:
        term = row["object"].removeprefix("https://schema.org/")
        assert hasattr(SDO, term), term
        assert row["object_label"] == term


def reference_terms() -> dict[str, dict[str, str]]:
    """CURIE -> row of the team's verified-terms reference (facts at levels V1 and V2)."""
    if not REFERENCE.is_file():
        pytest.skip("the shared reference folder is absent")
    data = json.loads(REFERENCE.read_text(encoding="utf-8"))
    terms: dict[str, dict[str, str]] = {}
    for section in ("modalities", "stains"):
        for concept in data[section]:
            for term in concept["terms"]:
                terms.setdefault(term["id"], term)
    for group in ("edam_stable", "obi"):
        for term in data["tasks"][group]:
            terms.setdefault(term["id"], term)
    return terms


def reference_curie(iri: str) -> str:
    if iri.startswith(OBO):
        return obo_curie(iri)
    if iri.startswith("http://edamontology.org/"):
        return "EDAM:" + iri.removeprefix("http://edamontology.org/")
    return iri


def test_rows_resting_on_the_reference_match_its_v1_or_v2_entries() -> None:
    terms = reference_terms()
    rows = [row for row in read_table() if row["verification"] in ("V1", "V2")]
    assert rows
    for row in rows:
        term = terms.get(reference_curie(row["object"]))
        assert term is not None, row["object"]
        assert term["verification"] == row["verification"], row["object"]
        assert term["label"].lower().startswith(row["object_label"].lower()), row["object"]
