"""The SKOS vocabularies under ontology/vocab/: structure, labels and hierarchy.

These tests read the Turtle files directly with rdflib, so they check the data itself, not the
code that loads it. The label checks fold text the way ingest does (see ontology/README.md):
lower case, punctuation and whitespace folded to single spaces.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import pytest
import rdflib
from rdflib import RDF, Literal, URIRef
from rdflib.namespace import SKOS

ROOT = Path(__file__).resolve().parents[2]
VOCAB_DIR = ROOT / "ontology" / "vocab"
BASE = "https://w3id.org/medkg/"
MKG = rdflib.Namespace(BASE + "ontology#")
# every property whose values name a concept (mkg:cellLabel: in cells and headings only)
LABELS = (SKOS.prefLabel, SKOS.altLabel, SKOS.hiddenLabel, MKG.cellLabel)
KIND_CLASS = {
    "anatomy": MKG.AnatomicalEntity,
    "modality": MKG.ImagingModality,
    "stain": MKG.Stain,
    "task": MKG.Task,
    "venue": MKG.Venue,
}
KINDS = sorted(KIND_CLASS)
LOCAL_ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


def fold(text: str) -> str:
    """Lower-case and fold punctuation and whitespace, as ingest matching does."""
    return re.sub(r"[^0-9a-z]+", " ", text.lower()).strip()


def scheme_iri(kind: str) -> URIRef:
    return URIRef(f"{BASE}scheme/{kind}")


def concept_iri(kind: str, local_id: str) -> URIRef:
    return URIRef(f"{BASE}{kind}/{local_id}")


@pytest.fixture(scope="module")
def graphs() -> dict[str, rdflib.Graph]:
    loaded = {}
    for kind in KINDS:
        loaded[kind] = rdflib.Graph().parse(VOCAB_DIR / f"{kind}.ttl", format="turtle")
    return loaded


def concepts(graph: rdflib.Graph, kind: str) -> set[URIRef]:
    return set(graph.subjects(SKOS.inScheme, scheme_iri(kind)))


def test_vocabulary_folder_holds_exactly_the_five_schemes() -> None:
    assert sorted(p.stem for p in VOCAB_DIR.glob("*.ttl")) == KINDS


@pytest.mark.parametrize("kind", KINDS)
def test_scheme_is_declared_and_has_concepts(graphs: dict[str, rdflib.Graph], kind: str) -> None:
    graph = graphs[kind]
    assert (scheme_iri(kind), RDF.type, SKOS.ConceptScheme) in graph
    assert len(list(graph.objects(scheme_iri(kind), SKOS.prefLabel))) == 1
    assert len(concepts(graph, kind)) >= 10


@pytest.mark.parametrize("kind", KINDS)
def test_every_concept_has_type_one_preflabel_and_one_definition(
    graphs: dict[str, rdflib.Graph], kind: str
) -> None:
    graph = graphs[kind]
    typed = set(graph.subjects(RDF.type, KIND_CLASS[kind]))
    members = concepts(graph, kind)
    assert typed == members, "every typed concept is in the scheme and vice versa"
    for concept in members:
        assert (concept, RDF.type, SKOS.Concept) in graph
        for prop in (SKOS.prefLabel, SKOS.definition):
            values = list(graph.objects(concept, prop))
            assert len(values) == 1, f"{concept} has {len(values)} {prop}"
            assert isinstance(values[0], Literal) and values[0].language == "en"
            assert str(values[0]).strip()
        for prop in (SKOS.altLabel, SKOS.hiddenLabel, MKG.cellLabel):
            for label in graph.objects(concept, prop):
                assert isinstance(label, Literal) and label.language == "en", (concept, label)


@pytest.mark.parametrize("kind", KINDS)
def test_concept_iris_follow_the_contract(graphs: dict[str, rdflib.Graph], kind: str) -> None:
    for concept in concepts(graphs[kind], kind):
        prefix = f"{BASE}{kind}/"
        assert str(concept).startswith(prefix), concept
        assert LOCAL_ID.match(str(concept)[len(prefix):]), concept


@pytest.mark.parametrize("kind", KINDS)
def test_broader_targets_are_declared_concepts(graphs: dict[str, rdflib.Graph], kind: str) -> None:
    graph = graphs[kind]
    members = concepts(graph, kind)
    dangling = {(c, b) for c, b in graph.subject_objects(SKOS.broader) if b not in members}
    assert not dangling


@pytest.mark.parametrize("kind", KINDS)
def test_roots_are_exactly_the_top_concepts(graphs: dict[str, rdflib.Graph], kind: str) -> None:
    graph = graphs[kind]
    members = concepts(graph, kind)
    roots = {c for c in members if graph.value(c, SKOS.broader) is None}
    assert set(graph.subjects(SKOS.topConceptOf, scheme_iri(kind))) == roots
    assert set(graph.objects(scheme_iri(kind), SKOS.hasTopConcept)) == roots


@pytest.mark.parametrize("kind", KINDS)
def test_broader_hierarchy_has_no_cycle(graphs: dict[str, rdflib.Graph], kind: str) -> None:
    graph = graphs[kind]
    parents: dict[URIRef, set[URIRef]] = defaultdict(set)
    for child, parent in graph.subject_objects(SKOS.broader):
        parents[child].add(parent)
    for start in concepts(graph, kind):
        seen: set[URIRef] = set()
        stack = list(parents[start])
        while stack:
            node = stack.pop()
            assert node != start, f"cycle through {start}"
            if node not in seen:
                seen.add(node)
                stack.extend(parents[node])


@pytest.mark.parametrize("kind", KINDS)
def test_no_label_names_two_concepts_of_one_scheme(
    graphs: dict[str, rdflib.Graph], kind: str
) -> None:
    graph = graphs[kind]
    owners: dict[str, set[URIRef]] = defaultdict(set)
    for prop in LABELS:
        for concept, label in graph.subject_objects(prop):
            owners[fold(str(label))].add(concept)
    shared = {label: sorted(c) for label, c in owners.items() if len(c) > 1}
    assert not shared


def match_concepts(graph: rdflib.Graph, text: str) -> set[str]:
    """Ids of the concepts whose labels occur in `text`: longest label first, on word boundaries.

    A matched stretch of text is used up, so a shorter label inside it ("MRI" in "T1-MRI")
    does not match again.
    """
    labels = [
        (fold(str(label)), str(concept).rsplit("/", 1)[1])
        for prop in LABELS
        for concept, label in graph.subject_objects(prop)
    ]
    padded = f" {fold(text)} "
    found = set()
    for folded, local_id in sorted(labels, key=lambda pair: -len(pair[0])):
        if folded and f" {folded} " in padded:
            found.add(local_id)
            padded = padded.replace(f" {folded} ", " | ")
    return found


# Text exactly as the five source lists write it, and the concept it must resolve to.
LIST_SPELLINGS = [
    ("anatomy", "Head and Neck", "head-and-neck"),
    ("anatomy", "Chest", "thorax"),
    ("anatomy", "Adominal Organ Segmentation", "abdomen"),
    ("anatomy", "Bones", "bone"),
    ("anatomy", "brone", "bone"),
    ("anatomy", "Marrow", "bone-marrow"),
    ("anatomy", "Uterine cervix", "uterine-cervix"),
    ("anatomy", "Multiple (Breast, Colon, Protate)", "prostate"),
    ("anatomy", "Cervical Cancer", "uterine-cervix"),
    ("anatomy", "RSNA 2022 Cervical Spine Fracture Detection", "cervical-spine"),
    ("anatomy", "oesophageal adenocarcinomas", "esophagus"),
    ("anatomy", "Renal Cell Carcinoma", "kidney"),
    ("anatomy", "CRC", "colorectum"),
    ("anatomy", "Body Fluid Cytology Smears", "bodily-fluid"),
    ("anatomy", "SMIR_Choclea", "cochlea"),
    ("anatomy", "Optical disk and cup segmentation", "optic-disc"),
    ("anatomy", "Whole Body", "whole-body"),
    ("modality", "3D MR", "mri"),
    ("modality", "T1-MRI", "t1-mri"),
    ("modality", "Cine-MRI", "cine-mri"),
    ("modality", "PET-CT", "pet-ct"),
    ("modality", "Derm", "dermoscopy"),
    ("modality", "Retinal", "fundus-photography"),
    ("modality", "Scope", "endoscopy"),
    ("modality", "Xray", "radiography"),
    ("modality", "2D Pathological Imaging", "histopathology"),
    ("modality", "2D Histology Imaging", "histopathology"),
    ("modality", "2D Cell Fluorescence Microscopy Imaging", "fluorescence-microscopy"),
    ("modality", "2D Pathological Sections", "histopathology"),
    ("modality", "2D Blood Smear", "blood-smear"),
    ("modality", "Ultrasound Video", "ultrasound-video"),
    ("modality", "Intra-oral scan", "intra-oral-scan"),
    ("stain", "HE stained pathology images", "he"),
    ("stain", "Haematoxylin and Eosin", "he"),
    ("stain", "IHC (CD3)", "ihc-cd3"),
    ("stain", "Wright's stain", "wright"),
    ("stain", "May-Grünwald-Giemsa/Pappenheim", "may-grunwald-giemsa"),
    ("stain", "ThinPrep Pap-stained", "papanicolaou"),
    ("stain", "Leishman stained", "leishman"),
    ("stain", "Stained with AgNOR.", "agnor"),
    ("task", "seg", "segmentation"),
    ("task", "3D Segmention", "segmentation"),
    ("task", "classi (7)", "classification"),
    ("task", "tissue semantic seg", "semantic-segmentation"),
    ("task", "Multi-Annotator Seg.", "multi-annotator-segmentation"),
    ("task", "Scribbles", "scribble-segmentation"),
    ("task", "Centerlines", "centerline-extraction"),
    ("task", "RG", "report-generation"),
    ("task", "VQA", "vqa"),
    ("task", "Caption", "captioning"),
    ("venue", "ICIAR'2018", "iciar"),
    ("venue", "Medical Segmentation Decathlon", "msd"),
    ("venue", "RSNA-ASNR-MICCAI'2021", "miccai"),
]


@pytest.mark.parametrize(("kind", "text", "expected"), LIST_SPELLINGS)
def test_list_spellings_resolve_to_their_concept(
    graphs: dict[str, rdflib.Graph], kind: str, text: str, expected: str
) -> None:
    assert expected in match_concepts(graphs[kind], text)


REACHES = [
    ("anatomy", child, "digestive-system")
    for child in ("colon", "stomach", "liver", "esophagus", "rectum", "small-intestine")
] + [
    ("modality", child, "mri")
    for child in ("t1-mri", "t2-mri", "flair", "dwi", "fmri", "cine-mri", "mpmri")
] + [("stain", child, "ihc") for child in ("ihc-her2", "ihc-ki67", "ihc-cd3")]

ASK_BROADER = "ASK { ?child skos:broader* ?ancestor }"


@pytest.mark.parametrize(("kind", "child", "ancestor"), REACHES)
def test_broader_path_reaches_its_group(
    graphs: dict[str, rdflib.Graph], kind: str, child: str, ancestor: str
) -> None:
    result = graphs[kind].query(
        ASK_BROADER,
        initNs={"skos": SKOS},
        initBindings={"child": concept_iri(kind, child), "ancestor": concept_iri(kind, ancestor)},
    )
    assert result.askAnswer


@pytest.mark.parametrize(
    ("kind", "child", "ancestor"),
    [("anatomy", "brain", "digestive-system"), ("modality", "ct", "mri"), ("stain", "he", "ihc")],
)
def test_broader_path_does_not_cross_groups(
    graphs: dict[str, rdflib.Graph], kind: str, child: str, ancestor: str
) -> None:
    result = graphs[kind].query(
        ASK_BROADER,
        initNs={"skos": SKOS},
        initBindings={"child": concept_iri(kind, child), "ancestor": concept_iri(kind, ancestor)},
    )
    assert not result.askAnswer


def test_anatomy_covers_the_organs_the_lists_name(graphs: dict[str, rdflib.Graph]) -> None:
    assert len(concepts(graphs["anatomy"], "anatomy")) >= 80


def test_longer_label_wins_over_its_ambiguous_part(graphs: dict[str, rdflib.Graph]) -> None:
    found = match_concepts(graphs["anatomy"], "Cervical Spine Fracture Detection")
    assert found == {"cervical-spine"}
