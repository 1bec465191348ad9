"""Consistency of ontology/: medkg.ttl, shapes.ttl, the vocabularies and the README model agree.

Every class and property the shapes, the vocabularies or ontology/README.md use is declared in
medkg.ttl, every medkg term is documented, and every class of the built graph has a shape. The
HTML documentation generated from these files (medkg.docs) is tested at the end.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import rdflib
import rdflib.collection
from rdflib.namespace import OWL, RDF, RDFS, SH, SKOS

from medkg.build import assemble
from medkg.config import Settings, load_settings
from medkg.docs import build_docs
from medkg.ontology import ontology_graph, shapes_graph, vocabulary_graph
from medkg.tables import read_tsv
from medkg.validation import validate_graph

ROOT = Path(__file__).resolve().parents[1]
ONTOLOGY_IRI = rdflib.URIRef("https://w3id.org/medkg/ontology")
MKG = rdflib.Namespace("https://w3id.org/medkg/ontology#")
DCAT = rdflib.Namespace("http://www.w3.org/ns/dcat#")
DCTERMS = rdflib.Namespace("http://purl.org/dc/terms/")
SCHEMA = rdflib.Namespace("https://schema.org/")
PROV = rdflib.Namespace("http://www.w3.org/ns/prov#")
PROPERTY_TYPES = {OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty, RDF.Property}


@pytest.fixture(scope="module")
def settings() -> Settings:
    return load_settings(home=ROOT)


@pytest.fixture(scope="module")
def ontology(settings: Settings) -> rdflib.Graph:
    return ontology_graph(settings)


@pytest.fixture(scope="module")
def shapes(settings: Settings) -> rdflib.Graph:
    return shapes_graph(settings)


def declared_classes(ontology: rdflib.Graph) -> set[rdflib.term.Node]:
    return set(ontology.subjects(RDF.type, OWL.Class))


def declared_properties(ontology: rdflib.Graph) -> set[rdflib.term.Node]:
    return {s for t in PROPERTY_TYPES for s in ontology.subjects(RDF.type, t)}


def shape_paths(shapes: rdflib.Graph) -> set[rdflib.term.Node]:
    """Every predicate a shape's sh:path names, inverse paths included."""
    paths: set[rdflib.term.Node] = set()
    for path in shapes.objects(None, SH.path):
        inverse = shapes.value(path, SH.inversePath)
        paths.add(inverse if inverse is not None else path)
    return paths


def test_ontology_header(ontology: rdflib.Graph) -> None:
    assert (ONTOLOGY_IRI, RDF.type, OWL.Ontology) in ontology
    for prop in (
        OWL.versionInfo,
        OWL.versionIRI,
        DCTERMS.license,
        DCTERMS.title,
        DCTERMS.description,
        DCTERMS.creator,
    ):
        assert ontology.value(ONTOLOGY_IRI, prop) is not None, prop
    assert str(ontology.value(ONTOLOGY_IRI, OWL.versionIRI)).startswith(str(ONTOLOGY_IRI) + "/")


def test_every_medkg_term_is_documented(ontology: rdflib.Graph) -> None:
    terms = {s for s in ontology.subjects() if isinstance(s, rdflib.URIRef) and s.startswith(MKG)}
    assert len(terms) > 30
    for term in terms:
        assert ontology.value(term, RDFS.label) is not None, term
        assert ontology.value(term, SKOS.definition) is not None, term
        assert (term, RDFS.isDefinedBy, ONTOLOGY_IRI) in ontology, term


def test_every_medkg_property_has_domain_and_object_properties_ranges(
    ontology: rdflib.Graph,
) -> None:
    for prop in declared_properties(ontology):
        if not prop.startswith(MKG):
            continue
        assert ontology.value(prop, RDFS.domain) is not None, prop
        if (prop, RDF.type, OWL.DatatypeProperty) in ontology:
            assert ontology.value(prop, RDFS.range) is not None, prop


def test_reused_terms_are_not_redefined(ontology: rdflib.Graph) -> None:
    """medkg never states domains, ranges or superclasses for other vocabularies' terms."""
    for term in ontology.subjects():
        if isinstance(term, rdflib.URIRef) and not term.startswith(MKG):
            for prop in (RDFS.domain, RDFS.range, RDFS.subClassOf, RDFS.subPropertyOf):
                assert ontology.value(term, prop) is None, (term, prop)


@pytest.mark.parametrize(
    ("sub", "prop", "sup"),
    [
        (MKG.Dataset, RDFS.subClassOf, DCAT.Dataset),
        (MKG.Dataset, RDFS.subClassOf, SCHEMA.Dataset),
        (MKG.ListEntry, RDFS.subClassOf, PROV.Entity),
        (MKG.SourceList, RDFS.subClassOf, PROV.Entity),
        (MKG.SourceList, RDFS.subClassOf, DCAT.Catalog),
        (MKG.Challenge, RDFS.subClassOf, SCHEMA.Event),
        (MKG.AnatomicalEntity, RDFS.subClassOf, SKOS.Concept),
        (MKG.ImagingModality, RDFS.subClassOf, SKOS.Concept),
        (MKG.Stain, RDFS.subClassOf, SKOS.Concept),
        (MKG.Task, RDFS.subClassOf, SKOS.Concept),
        (MKG.Venue, RDFS.subClassOf, SKOS.Concept),
        (MKG.organ, RDFS.subPropertyOf, DCAT.theme),
        (MKG.modality, RDFS.subPropertyOf, DCAT.theme),
        (MKG.stain, RDFS.subPropertyOf, DCAT.theme),
        (MKG.task, RDFS.subPropertyOf, DCAT.theme),
        (MKG.challenge, RDFS.subPropertyOf, DCTERMS.relation),
        (MKG.paper, RDFS.subPropertyOf, DCTERMS.isReferencedBy),
        (MKG.codeRepository, RDFS.subPropertyOf, SCHEMA.codeRepository),
        (MKG.dicomModalityCode, RDF.type, RDFS.Datatype),
    ],
)
def test_alignment(
    ontology: rdflib.Graph, sub: rdflib.URIRef, prop: rdflib.URIRef, sup: rdflib.URIRef
) -> None:
    assert (sub, prop, sup) in ontology


def test_readme_model_terms_are_declared(ontology: rdflib.Graph) -> None:
    readme = (ROOT / "ontology" / "README.md").read_text(encoding="utf-8")
    names = set(re.findall(r"`?mkg:([A-Za-z][A-Za-z0-9]*)", readme))
    assert {"Dataset", "organ", "dicomModalityCode"} <= names
    classes, props = declared_classes(ontology), declared_properties(ontology)
    for name in names:
        term = MKG[name]
        if name[0].isupper():
            assert term in classes, f"README class mkg:{name} not declared as owl:Class"
        else:
            assert term in props or (term, RDF.type, RDFS.Datatype) in ontology, (
                f"mkg:{name} not declared"
            )


def test_every_medkg_term_is_in_the_readme_model(ontology: rdflib.Graph) -> None:
    """The other way round: each term medkg.ttl declares is described in ontology/README.md."""
    readme = (ROOT / "ontology" / "README.md").read_text(encoding="utf-8")
    named = {MKG[name] for name in re.findall(r"`mkg:([A-Za-z][A-Za-z0-9]*)", readme)}
    terms = {s for s in ontology.subjects() if isinstance(s, rdflib.URIRef) and s.startswith(MKG)}
    assert MKG["split"] in terms
    assert terms - named == set()


def test_shape_classes_and_paths_are_declared(ontology: rdflib.Graph, shapes: rdflib.Graph) -> None:
    classes = set(shapes.objects(None, SH.targetClass)) | set(shapes.objects(None, SH["class"]))
    assert classes - declared_classes(ontology) == set()
    assert shape_paths(shapes) - declared_properties(ontology) - {RDF.type} == set()
    datatypes = set(shapes.objects(None, SH.datatype))
    assert MKG.dicomModalityCode in datatypes
    for datatype in datatypes:
        assert (
            str(datatype).startswith(("http://www.w3.org/2001/XMLSchema#", str(RDF)))
            or (datatype, RDF.type, RDFS.Datatype) in ontology
        ), datatype


def test_shapes_use_only_declared_medkg_terms(ontology: rdflib.Graph, shapes: rdflib.Graph) -> None:
    """Catches a typo such as mkg:Datset anywhere in shapes.ttl, SPARQL text included."""
    text = (ROOT / "ontology" / "shapes.ttl").read_text(encoding="utf-8")
    used = {MKG[name] for name in re.findall(r"\bmkg:([A-Za-z][A-Za-z0-9]*)", text)}
    used |= {t for t in shapes.all_nodes() if isinstance(t, rdflib.URIRef) and t.startswith(MKG)}
    assert used - set(ontology.subjects()) == set()


def shape_values_in(shapes: rdflib.Graph, path: rdflib.URIRef) -> set[str]:
    """The values every sh:in on a property shape of `path` allows (empty when none is closed)."""
    values: set[str] = set()
    for shape in shapes.subjects(SH.path, path):
        for members in shapes.objects(shape, SH["in"]):
            values |= {str(v) for v in rdflib.collection.Collection(shapes, members)}
    return values


@pytest.mark.parametrize("data_dir", ["data", "tests/fixtures/mini/data"])
def test_split_shape_allows_exactly_the_splits_of_count_splits_tsv(
    shapes: rdflib.Graph, data_dir: str
) -> None:
    """mkg:split is a closed list: what the build writes passes, a stray word ("training") fails."""
    splits = {row["split"] for row in read_tsv(ROOT / data_dir / "count-splits.tsv", ("split",))}
    assert shape_values_in(shapes, MKG["split"]) == splits  # MKG.split is str.split


def test_context_names_every_medkg_property(ontology: rdflib.Graph) -> None:
    """ontology/context.jsonld gives each mkg: property a plain key, as JSON-LD exports use."""
    context = json.loads((ROOT / "ontology" / "context.jsonld").read_text(encoding="utf-8"))
    named = set()
    for value in context["@context"].values():
        iri = value.get("@id") if isinstance(value, dict) else value
        if isinstance(iri, str) and iri.startswith("mkg:"):
            named.add(MKG[iri[len("mkg:"):]])
    properties = {p for p in declared_properties(ontology) if p.startswith(MKG)}
    assert MKG["split"] in properties
    assert properties - named == set()


def test_every_class_of_the_graph_has_a_shape(shapes: rdflib.Graph) -> None:
    targets = set(shapes.objects(None, SH.targetClass))
    assert {
        MKG.Dataset,
        MKG.ListEntry,
        MKG.SourceList,
        MKG.Challenge,
        MKG.Count,
        MKG.AnatomicalEntity,
        MKG.ImagingModality,
        MKG.Stain,
        MKG.Task,
        MKG.Venue,
        SKOS.Concept,
        SKOS.ConceptScheme,
    } <= targets
    assert rdflib.URIRef("https://w3id.org/medkg/catalogue") in set(
        shapes.objects(None, SH.targetNode)
    )


def test_what_a_build_writes_is_declared_and_shaped(
    mini_settings: Settings, ontology: rdflib.Graph, shapes: rdflib.Graph, write_list
) -> None:
    """Every predicate and class the build writes (the mini lists and a list of split counts)
    is declared in medkg.ttl, and every predicate is the path of some shape."""
    folder = write_list("splits", "# Splits\n\n| Dataset | Size |\n|---|---|\n"
                                  "| Split Set | Train: 27 images, Test: 14 images |\n")
    ontology_graph_name = f"{mini_settings.base}graph/ontology"  # medkg.ttl itself, as stored
    quads = [q for q in assemble(mini_settings, extra=[folder]).quads
             if q.graph_name.value != ontology_graph_name]
    predicates = {rdflib.URIRef(q.predicate.value) for q in quads}
    classes = {rdflib.URIRef(q.object.value) for q in quads if q.predicate.value == str(RDF.type)}
    assert MKG["split"] in predicates
    assert predicates - declared_properties(ontology) - {RDF.type} == set()
    assert classes - declared_classes(ontology) - {OWL.Ontology} == set()
    assert predicates - shape_paths(shapes) - {RDF.type} == set()


def test_vocabulary_terms_are_declared(settings: Settings, ontology: rdflib.Graph) -> None:
    vocab = vocabulary_graph(settings)
    if len(vocab) == 0:
        pytest.skip("no vocabularies under ontology/vocab/ yet")
    assert set(vocab.objects(None, RDF.type)) - declared_classes(ontology) == set()
    assert set(vocab.predicates()) - declared_properties(ontology) - {RDF.type} == set()


def test_the_vocabularies_have_no_violation(settings: Settings) -> None:
    if len(vocabulary_graph(settings)) == 0:
        pytest.skip("no vocabularies under ontology/vocab/ yet")
    result = validate_graph(rdflib.Graph(), settings)
    catalogue = "https://w3id.org/medkg/catalogue"  # absent here: no data was given
    problems = [i for i in result.violations if i.focus != catalogue]
    assert problems == []


def test_shapes_follow_a_configured_base(tmp_path: Path) -> None:
    """With MEDKG_BASE set, shapes target the rebased catalogue and declare the rebased prefix."""
    settings = Settings(home=ROOT, store=tmp_path / "store", base="https://example.org/kg/")
    shapes = shapes_graph(settings)
    assert rdflib.URIRef("https://example.org/kg/catalogue") in set(
        shapes.objects(None, SH.targetNode)
    )
    namespaces = {str(ns) for ns in shapes.objects(None, SH.namespace)}
    assert "https://example.org/kg/ontology#" in namespaces
    assert not any("w3id.org/medkg" in str(t) for t in shapes.all_nodes())


# --- HTML documentation -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def docs_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Docs built from the real medkg.ttl and the docs fixture vocabulary."""
    home = tmp_path_factory.mktemp("docs-home")
    (home / "ontology" / "vocab").mkdir(parents=True)
    shutil.copy(ROOT / "ontology" / "medkg.ttl", home / "ontology" / "medkg.ttl")
    shutil.copy(
        ROOT / "tests" / "fixtures" / "shapes" / "docs-vocab.ttl",
        home / "ontology" / "vocab" / "stain.ttl",
    )
    out = home / "site"
    index = build_docs(Settings(home=home, store=home / "store"), out)
    return index, out


def test_docs_index_documents_every_medkg_term(
    ontology: rdflib.Graph, docs_dir: tuple[Path, Path]
) -> None:
    index, _out = docs_dir
    assert index.name == "index.html"
    html = index.read_text(encoding="utf-8")
    terms = {s for s in ontology.subjects() if isinstance(s, rdflib.URIRef) and s.startswith(MKG)}
    for term in terms:
        assert f'id="{term[len(MKG) :]}"' in html, term
    assert "Subclass of</dt><dd>" in html and 'href="http://www.w3.org/ns/dcat#Dataset"' in html
    assert 'href="scheme-stain.html"' in html and "(2 concepts)" in html


def test_docs_scheme_page_has_hierarchy_mappings_and_escapes(docs_dir: tuple[Path, Path]) -> None:
    _index, out = docs_dir
    html = (out / "scheme-stain.html").read_text(encoding="utf-8")
    # dye is the root; hematoxylin & eosin sits below it in the tree
    assert re.search(
        r'<li><a href="#dye">dye</a><ul class="tree"><li><a href="#he">hematoxylin &amp; eosin</a>',
        html,
    )
    assert 'href="http://purl.obolibrary.org/obo/OBI_0002124"><code>obo:OBI_0002124</code>' in html
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>fixture</b>" not in html
