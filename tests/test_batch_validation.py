"""The batched validation path finds exactly what pyshacl finds on the whole graph.

Both run on the tiny test lists (tests/fixtures/mini), once as built and once with violations
injected that exercise every way a batch could miss or invent an issue: links across batches,
inverse paths, the catalogue's links, shared nodes, SPARQL constraints.
"""

from __future__ import annotations

import pyoxigraph as ox
import pytest

from medkg.batch_validation import validate_quads
from medkg.build import assemble
from medkg.config import Settings
from medkg.graph import quads_to_rdflib
from medkg.namespaces import DCAT, DCTERMS, PROV, RDF, RDFS, Namespaces
from medkg.validation import ValidationResult, validate_graph

Key = tuple[str, str | None, str, str]


def keys(result: ValidationResult) -> set[Key]:
    return {(i.focus, i.path, i.severity, i.shape) for i in result.issues}


def n(iri: str) -> ox.NamedNode:
    return ox.NamedNode(iri)


def inject_violations(quads: list[ox.Quad], ns: Namespaces) -> list[ox.Quad]:
    """The mini graph with one violation of each kind a batch boundary could hide."""
    cat_graph = n(ns.graph("catalogue"))
    src_graph = n(ns.source_graph("tables"))
    lung, beta, gamma = (n(ns.dataset(s)) for s in ("lungalpha", "breastbeta", "gammaseg"))
    lung_count = n(ns.dataset("lungalpha") + "/count/tables-13-1")
    dropped = {
        (lung, n(DCTERMS + "title")),  # minCount on a dataset
        (n(ns.catalogue), gamma),  # a dataset the catalogue does not list (inverse path)
    }
    kept = [q for q in quads
            if (q.subject, q.predicate) not in dropped and (q.subject, q.object) not in dropped]
    orphan = n(ns.dataset("nowhere") + "/count/x-1-1")
    added = [
        ox.Quad(beta, n(DCTERMS + "title"), ox.Literal("Second title"), cat_graph),  # maxCount
        ox.Quad(beta, n(ns.term("count")), lung_count, src_graph),  # a count in another batch
        ox.Quad(beta, n(ns.term("organ")), n(ns.concept("modality", "ct")), src_graph),  # sh:class
        ox.Quad(beta, n(DCTERMS + "issued"),
                ox.Literal("2999", datatype=n("http://www.w3.org/2001/XMLSchema#gYear")),
                src_graph),  # SPARQL constraint: a future release
        ox.Quad(n(ns.catalogue), n(DCAT + "dataset"), n(ns.concept("stain", "he")), cat_graph),
        ox.Quad(orphan, n(RDF + "type"), n(ns.term("Count")), src_graph),  # no dataset, no value
        ox.Quad(gamma, n(PROV + "wasDerivedFrom"), n(ns.entry("tables", 13)), src_graph),
        ox.Quad(n(ns.challenge("miccai-2019")), n(RDFS + "label"), ox.Literal("Again"), cat_graph),
    ]
    return kept + added


def compare(quads: list[ox.Quad], settings: Settings, batch_size: int, workers: int) -> tuple[
        ValidationResult, ValidationResult]:
    whole = validate_graph(quads_to_rdflib(quads), settings)
    batched = validate_quads(quads, settings, batch_size=batch_size, workers=workers)
    return whole, batched


def test_same_issues_as_pyshacl_on_the_mini_lists(mini_settings: Settings) -> None:
    quads = assemble(mini_settings).quads
    whole, batched = compare(quads, mini_settings, batch_size=3, workers=2)
    assert keys(batched) == keys(whole)
    assert set(batched.issues) == set(whole.issues)  # messages and values too
    assert batched.conforms == whole.conforms
    assert batched.counts == whole.counts


def test_same_issues_as_pyshacl_with_injected_violations(mini_settings: Settings) -> None:
    ns = Namespaces(mini_settings.base)
    quads = inject_violations(assemble(mini_settings).quads, ns)
    whole, batched = compare(quads, mini_settings, batch_size=2, workers=2)
    expected = keys(whole)
    # the injections are visible to pyshacl, so the comparison is not vacuous
    focuses = {focus for focus, _path, severity, _shape in expected if severity == "Violation"}
    assert {ns.dataset("lungalpha"), ns.dataset("breastbeta"), ns.dataset("gammaseg"),
            ns.catalogue, ns.dataset("nowhere") + "/count/x-1-1"} <= focuses
    assert keys(batched) == expected
    assert not batched.conforms


@pytest.mark.parametrize("batch_size", [1, 100])
def test_batch_size_does_not_change_the_result(mini_settings: Settings, batch_size: int) -> None:
    ns = Namespaces(mini_settings.base)
    quads = inject_violations(assemble(mini_settings).quads, ns)
    reference = validate_quads(quads, mini_settings, batch_size=4, workers=1)
    assert keys(validate_quads(quads, mini_settings, batch_size=batch_size, workers=2)) == keys(reference)


def test_report_graph_holds_one_result_per_issue(mini_settings: Settings) -> None:
    ns = Namespaces(mini_settings.base)
    quads = inject_violations(assemble(mini_settings).quads, ns)
    result = validate_quads(quads, mini_settings, batch_size=5, workers=1)
    sh = "http://www.w3.org/ns/shacl#"
    rows = list(result.report_graph.query(
        f"SELECT ?r WHERE {{ ?rep a <{sh}ValidationReport> ; <{sh}result> ?r }}"))
    assert len(rows) == len(result.issues) > 0


def test_batch_size_must_be_positive(mini_settings: Settings) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        validate_quads([], mini_settings, batch_size=0)
