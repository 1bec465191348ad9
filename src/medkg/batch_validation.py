"""SHACL validation that scales: each dataset's focus subgraph, in batches, across processes.

pyshacl over one in-memory graph grows to gigabytes and minutes at 100k datasets. This module
validates the same graph in pieces, with pyshacl and the same shapes, so it finds the same issues:

1. **Ownership.** Every `mkg:Dataset` is a root. The nodes it points to with `mkg:count` and
   `prov:wasDerivedFrom` (its count nodes and list entries) belong to it. Roots are cut, in order,
   into batches of `batch_size`; a batch owns its roots and their nodes.
2. **Partition.** One pass over the store puts each quad (named graphs merged, as pyshacl sees them)
   where the shapes need it: a triple about an owned node goes to that node's batch, and also to
   the batch of an owned node it points to (so inverse paths such as `^mkg:count` see every link);
   a triple from a shared node to an owned node (the catalogue's `dcat:dataset`) goes to the
   object's batch, and the first such triple of each subject and property also to the shared part,
   so a `sh:minCount 1` on a shared node still holds or fails as in the whole graph. Everything
   else (ontology, vocabularies, challenges, source lists, the catalogue) is the shared part.
   A batch also gets the `rdf:type` triples of owned nodes of other batches it links to, which
   `sh:class` reads.
3. **Validation.** Each batch (its triples plus the shared part plus the ontology and
   vocabularies, exactly what `medkg.validation.validate_graph` adds) runs through pyshacl in a
   worker process. Shared nodes are validated in every batch; identical issues are kept once.

Locality assumption, true of ontology/shapes.ttl: a shape looks at its focus node's own triples,
one step out and back (values, their types, inverse links), and at shared nodes. A shape that
counted a shared node's links to datasets beyond "at least one", or followed a path from one
dataset to another, would need the whole graph; `tests/test_batch_validation.py` compares this path
with pyshacl on the whole graph so such a change shows up.

Memory is bounded by one batch per worker plus the ownership map; time grows linearly.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import pyoxigraph as ox
import pyshacl
import rdflib
from rdflib.namespace import RDF as RDF_NS
from rdflib.namespace import SH
from rdflib.util import from_n3

from medkg.config import Settings
from medkg.namespaces import PROV, RDF, Namespaces
from medkg.ontology import ontology_graph, shapes_graph, vocabulary_graph
from medkg.validation import (
    ShapesError,
    ValidationIssue,
    ValidationResult,
    bind_prefixes,
    issue_order,
    issues_from_report,
    plain_string,
)

__all__ = ["DEFAULT_BATCH_SIZE", "validate_quads", "validate_store"]

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 1000
SHARED_FILE = "shared.nt"
RDF_TYPE = ox.NamedNode(RDF + "type")


@dataclass(frozen=True)
class _Plan:
    """Where each owned node goes: node -> batch index; and the number of batches."""

    owner: dict[ox.NamedNode | ox.BlankNode, int]
    batches: int


def validate_quads(quads: Iterable[ox.Quad], settings: Settings, batch_size: int = DEFAULT_BATCH_SIZE,
                   workers: int | None = None) -> ValidationResult:
    """Validate quads (e.g. a build's) in batches; loads them into an in-memory store first."""
    store = ox.Store()
    store.bulk_extend(quads)
    return validate_store(store, settings, batch_size, workers)


def validate_store(store: ox.Store, settings: Settings, batch_size: int = DEFAULT_BATCH_SIZE,
                   workers: int | None = None) -> ValidationResult:
    """Validate every quad of `store` (named graphs merged) against ontology/shapes.ttl.

    Returns what `medkg.validation.validate_graph` returns for the same graph: the same issues,
    the same verdict, and a report graph rebuilt from the issues.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    workers = workers or os.cpu_count() or 1
    plan = _plan(store, Namespaces(settings.base), batch_size)
    folder = Path(tempfile.mkdtemp(prefix="medkg-validate-"))
    try:
        shared_file, batch_files = _partition(store, plan, folder)
        issues: set[ValidationIssue] = set()
        # fork, not spawn: callers need no `if __name__ == "__main__"` guard, and the workers
        # never touch the store the parent has open
        if workers == 1 or len(batch_files) <= 1:
            _init_worker(settings, shared_file)
            for path in batch_files:
                issues.update(_validate_batch(path))
        else:
            with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("fork"),
                                     initializer=_init_worker,
                                     initargs=(settings, shared_file)) as pool:
                for found in pool.map(_validate_batch, batch_files):
                    issues.update(found)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    ordered = sorted(issues, key=issue_order)
    conforms = not any(issue.severity == "Violation" for issue in ordered)
    return ValidationResult(conforms, ordered, _report_graph(conforms, ordered, settings))


# --- planning and partitioning --------------------------------------------------------------


def _plan(store: ox.Store, ns: Namespaces, batch_size: int) -> _Plan:
    """Cut the datasets into batches and give each its dependent nodes."""
    dataset_class = ox.NamedNode(ns.term("Dataset"))
    roots = sorted({q.subject for q in store.quads_for_pattern(None, RDF_TYPE, dataset_class)},
                   key=str)
    owner: dict[ox.NamedNode | ox.BlankNode, int] = {
        root: index // batch_size for index, root in enumerate(roots)}
    # a dataset's counts and list entries exist only for it
    links = [ox.NamedNode(ns.term("count")), ox.NamedNode(PROV + "wasDerivedFrom")]
    for link in links:
        for q in store.quads_for_pattern(None, link, None):
            batch = owner.get(q.subject)
            if batch is not None and isinstance(q.object, (ox.NamedNode, ox.BlankNode)):
                owner.setdefault(q.object, batch)
    batches = (len(roots) + batch_size - 1) // batch_size
    return _Plan(owner, max(batches, 1))


def _partition(store: ox.Store, plan: _Plan, folder: Path) -> tuple[Path, list[Path]]:
    """Write the shared part and each batch as N-Triples files; returns the batch files.

    Beside each `batch-N.nt`, `batch-N.foreign` lists the owned nodes of other batches whose
    types the batch holds: they become focus nodes there, but only their own batch sees all their
    triples, so the worker drops their issues.
    """
    paths = [folder / f"batch-{n:06d}.nt" for n in range(plan.batches)]
    shared_path = folder / SHARED_FILE
    outs = [p.open("w", encoding="utf-8") for p in paths]
    shared = shared_path.open("w", encoding="utf-8")
    owner = plan.owner
    represented: set[tuple[ox.Term, ox.NamedNode]] = set()
    in_shared: list[ox.NamedNode | ox.BlankNode] = []
    foreign: list[set[ox.NamedNode | ox.BlankNode]] = [set() for _ in paths]
    try:
        for q in store:
            s, o = q.subject, q.object
            line = f"{s} {q.predicate} {o} .\n"
            s_batch = owner.get(s)
            o_batch = owner.get(o) if not isinstance(o, ox.Literal) else None
            if s_batch is not None:
                outs[s_batch].write(line)
                if o_batch is not None and o_batch != s_batch:
                    outs[o_batch].write(line)
                    foreign[s_batch].add(o)
                    foreign[o_batch].add(s)
            elif o_batch is not None:
                outs[o_batch].write(line)
                if (s, q.predicate) not in represented:  # keeps "at least one" true in shared
                    represented.add((s, q.predicate))
                    shared.write(line)
                    _write_types(store, o, shared)
                    in_shared.append(o)
            else:
                shared.write(line)
        for n, nodes in enumerate(foreign):
            for node in nodes:
                _write_types(store, node, outs[n])
            others = nodes | {node for node in in_shared if owner[node] != n}
            paths[n].with_suffix(".foreign").write_text(
                "".join(f"{_focus_text(node)}\n" for node in others), encoding="utf-8")
    finally:
        for out in (*outs, shared):
            out.close()
    return shared_path, paths


def _focus_text(node: ox.NamedNode | ox.BlankNode) -> str:
    """A node as ValidationIssue.focus writes it."""
    return node.value if isinstance(node, ox.NamedNode) else f"_:{node.value}"


def _write_types(store: ox.Store, node: ox.NamedNode | ox.BlankNode, out) -> None:  # noqa: ANN001
    for q in store.quads_for_pattern(node, RDF_TYPE, None):
        out.write(f"{q.subject} {q.predicate} {q.object} .\n")


# --- the worker side ------------------------------------------------------------------------

_WORKER: dict[str, object] = {}


def _init_worker(settings: Settings, shared_file: Path) -> None:
    """Load what every batch needs once per process: shapes and the shared triples."""
    context = rdflib.Graph()
    for source in (ontology_graph(settings), vocabulary_graph(settings)):
        for s, p, o in source:
            context.add((s, p, plain_string(o)))
    context.parse(shared_file, format="nt")
    _WORKER["shared"] = [(s, p, plain_string(o)) for s, p, o in context]
    _WORKER["shapes"] = shapes_graph(settings)


def _validate_batch(path: Path) -> list[ValidationIssue]:
    """pyshacl over one batch plus the shared triples; its issues."""
    data = rdflib.Graph()
    for triple in _WORKER["shared"]:  # type: ignore[attr-defined]
        data.add(triple)
    batch = rdflib.Graph().parse(path, format="nt")
    for s, p, o in batch:
        data.add((s, p, plain_string(o)))
    shapes = _WORKER["shapes"]
    _conforms, report, _text = pyshacl.validate(
        data, shacl_graph=shapes, inference="none", allow_warnings=True, allow_infos=True,
        advanced=True, inplace=True,
    )
    if not isinstance(report, rdflib.Graph):
        raise ShapesError(f"pyshacl cannot run ontology/shapes.ttl: {report}")
    foreign = set(path.with_suffix(".foreign").read_text(encoding="utf-8").splitlines())
    return [issue for issue in issues_from_report(report, shapes)  # type: ignore[arg-type]
            if issue.focus not in foreign]


# --- the report -----------------------------------------------------------------------------


def _report_graph(conforms: bool, issues: list[ValidationIssue], settings: Settings) -> rdflib.Graph:
    """A standard sh:ValidationReport rebuilt from the merged issues of all batches."""
    graph = rdflib.Graph()
    bind_prefixes(graph, settings)
    report = rdflib.BNode()
    graph.add((report, RDF_NS.type, SH.ValidationReport))
    graph.add((report, SH.conforms, rdflib.Literal(conforms)))
    for issue in issues:
        node = rdflib.BNode()
        graph.add((report, SH.result, node))
        graph.add((node, RDF_NS.type, SH.ValidationResult))
        graph.add((node, SH.resultSeverity, SH[issue.severity]))
        graph.add((node, SH.focusNode, _node(issue.focus)))
        graph.add((node, SH.sourceShape, _node(issue.shape)))
        if issue.component:
            graph.add((node, SH.sourceConstraintComponent, rdflib.URIRef(issue.component)))
        graph.add((node, SH.resultMessage, rdflib.Literal(issue.message)))
        if issue.path:
            graph.add((node, SH.resultPath, _path(graph, issue.path)))
        if issue.value is not None:
            graph.add((node, SH.value, from_n3(issue.value)))
    return graph


def _node(text: str) -> rdflib.term.Node:
    return rdflib.BNode(text[2:]) if text.startswith("_:") else rdflib.URIRef(text)


def _path(graph: rdflib.Graph, text: str) -> rdflib.term.Node:
    """Inverse of medkg.validation.path_text for the paths shapes.ttl uses (IRI or ^IRI)."""
    if text.startswith("^"):
        node = rdflib.BNode()
        graph.add((node, SH.inversePath, _path(graph, text[1:])))
        return node
    return rdflib.URIRef(text)

