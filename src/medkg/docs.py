"""HTML documentation of the medkg ontology and its concept schemes, generated from ontology/.

`build_docs` writes `index.html` (the ontology: classes, properties, datatypes, and links to the
schemes) and one `scheme-<name>.html` per SKOS concept scheme (its concepts as a hierarchy, with
labels, definitions and external mappings). Anchors are the terms' local names, so the index
served at the ontology IRI resolves `mkg:Dataset` to `#Dataset`.

A small generator rather than pyLODE: it documents the SKOS schemes alongside the OWL ontology in
one site and needs nothing beyond rdflib. Every text from the files goes through html.escape.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from html import escape
from pathlib import Path

import rdflib
from rdflib.namespace import DCTERMS, OWL, RDF, RDFS, SKOS
from rdflib.term import Node, URIRef

from medkg.config import Settings
from medkg.namespaces import Namespaces
from medkg.ontology import ontology_graph, read_turtle, vocabulary_files

__all__ = ["build_docs", "write_docs"]

INDEX = "index.html"
PROPERTY_KINDS = (
    (OWL.ObjectProperty, "Object properties"),
    (OWL.DatatypeProperty, "Datatype properties"),
    (OWL.AnnotationProperty, "Annotation properties"),
)
MAPPING_PROPERTIES = (
    SKOS.exactMatch,
    SKOS.closeMatch,
    SKOS.broadMatch,
    SKOS.narrowMatch,
    SKOS.relatedMatch,
)
STYLE = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;
  line-height:1.5;color:#222}
h1,h2,h3{line-height:1.2} h3{margin-bottom:.2rem} code{background:#f3f3f3;padding:0 .2rem}
section.term{border-top:1px solid #ddd;padding:.5rem 0}
dl{display:grid;grid-template-columns:10rem minmax(0,1fr);gap:.2rem 1rem}
dt{font-weight:600;color:#555} dd{margin:0} ul.tree ul{margin:0;padding-left:1.4rem}
.iri{color:#666;font-size:.9em}
/* long IRIs and CURIEs break anywhere rather than widen the page past a phone's width */
h1,h3,p,dd,li,code{overflow-wrap:anywhere}
@media (max-width: 700px){
  body{margin:1rem auto;padding:0 .8rem}
  dl{grid-template-columns:1fr} dt{margin-top:.3rem}
  ul.tree ul{padding-left:.9rem}
}
"""


def write_docs(settings: Settings, out_dir: Path) -> Path:
    """Put the documentation in `out_dir` whole, once complete; returns its index page.

    The pages are written into a folder beside `out_dir` that then takes its place, so a failure
    leaves the previous documentation as it was, and a page of a scheme that is gone goes too.
    A folder holding anything but .html files is refused (ExportError), not emptied.
    """
    from medkg.export.atomic import write_folder  # the exporters' atomic write, imported late

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    write_folder(out_dir, ".html", lambda folder: build_docs(settings, folder))
    return out_dir / INDEX


def build_docs(settings: Settings, out_dir: Path) -> Path:
    """Write the HTML documentation into `out_dir`; returns the path of its index page."""
    ontology = ontology_graph(settings)
    vocab_files = [read_turtle(path, settings.base) for path in vocabulary_files(settings)]
    vocab = rdflib.Graph()
    for graph in vocab_files:
        vocab += graph
    ns = Namespaces(settings.base)
    out_dir.mkdir(parents=True, exist_ok=True)
    labels = _Labels([ontology, *vocab_files], ns)
    schemes = sorted(vocab.subjects(RDF.type, SKOS.ConceptScheme), key=str)
    for scheme in schemes:
        page = out_dir / _scheme_file(scheme)
        page.write_text(_scheme_page(vocab, scheme, labels), encoding="utf-8")
    index = out_dir / INDEX
    index.write_text(_index_page(ontology, vocab, ns, schemes, labels), encoding="utf-8")
    return index


class _Labels:
    """Display names and links for terms: medkg terms link to their anchor, others are shortened."""

    def __init__(self, graphs: list[rdflib.Graph], ns: Namespaces) -> None:
        self.mkg = ns.mkg
        # The prefixes the Turtle files declare, so mappings read as in the files (obo:UBERON_...).
        self.prefixes = {prefix: str(iri) for graph in graphs for prefix, iri in graph.namespaces()}
        self.prefixes["mkg"] = ns.mkg

    def curie(self, term: Node) -> str:
        text = str(term)
        best = max(
            (ns for ns in self.prefixes.values() if text.startswith(ns)), key=len, default=None
        )
        if best is None or best == text:
            return text
        prefix = next(p for p, ns in self.prefixes.items() if ns == best)
        return f"{prefix}:{text[len(best) :]}"

    def link(self, term: Node) -> str:
        """A link to the term: its anchor for medkg terms (all on the index page), else its IRI."""
        if not isinstance(term, URIRef):
            return escape(str(term))
        text = escape(self.curie(term))
        if str(term).startswith(self.mkg):
            return f'<a href="#{escape(_local(term))}"><code>{text}</code></a>'
        return f'<a href="{escape(str(term))}"><code>{text}</code></a>'


def _local(term: Node) -> str:
    return re.split(r"[#/]", str(term))[-1]


def _scheme_file(scheme: Node) -> str:
    return f"scheme-{_local(scheme)}.html"


def _text(graph: rdflib.Graph, subject: Node, *props: URIRef) -> str:
    """The first English (or untagged) value of the first property that has one."""
    for prop in props:
        values = list(graph.objects(subject, prop))
        for value in sorted(values, key=lambda v: getattr(v, "language", None) not in ("en", None)):
            return str(value)
    return ""


def _page(title: str, body: Iterable[str]) -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>\n<body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


def _rows(rows: Iterable[tuple[str, str]]) -> str:
    """A definition list of (label, HTML) rows, leaving out empty ones."""
    items = [f"<dt>{escape(label)}</dt><dd>{html}</dd>" for label, html in rows if html]
    return f"<dl>{''.join(items)}</dl>" if items else ""


def _links(labels: _Labels, terms: Iterable[Node]) -> str:
    return ", ".join(labels.link(t) for t in sorted(terms, key=str))


# --- the ontology page ----------------------------------------------------------------------


def _index_page(
    ontology: rdflib.Graph,
    vocab: rdflib.Graph,
    ns: Namespaces,
    schemes: list[Node],
    labels: _Labels,
) -> str:
    onto = URIRef(ns.ontology)
    title = _text(ontology, onto, DCTERMS.title) or "medkg ontology"
    body = [
        f"<h1>{escape(title)}</h1>",
        f'<p class="iri"><code>{escape(str(onto))}</code></p>',
        f"<p>{escape(_text(ontology, onto, DCTERMS.description))}</p>",
        _rows(
            [
                ("Version", escape(_text(ontology, onto, OWL.versionInfo))),
                ("Version IRI", labels.link(ontology.value(onto, OWL.versionIRI) or "")),
                ("Licence", labels.link(ontology.value(onto, DCTERMS.license) or "")),
                ("Creator", escape(_text(ontology, onto, DCTERMS.creator))),
                ("Prefix", f"<code>mkg: &lt;{escape(ns.mkg)}&gt;</code>"),
            ]
        ),
    ]
    own = [t for t in ontology.subjects(RDF.type, OWL.Class) if str(t).startswith(ns.mkg)]
    body.append("<h2>Classes</h2>")
    body += [_class_section(ontology, vocab, cls, labels) for cls in sorted(own, key=str)]
    for kind, heading in PROPERTY_KINDS:
        props = [p for p in ontology.subjects(RDF.type, kind) if str(p).startswith(ns.mkg)]
        body.append(f"<h2>{escape(heading)}</h2>")
        body += [_property_section(ontology, prop, labels) for prop in sorted(props, key=str)]
    datatypes = [d for d in ontology.subjects(RDF.type, RDFS.Datatype) if str(d).startswith(ns.mkg)]
    body.append("<h2>Datatypes</h2>")
    body += [_term_section(ontology, d, labels, []) for d in sorted(datatypes, key=str)]
    body.append("<h2>Concept schemes</h2><ul>")
    for scheme in schemes:
        count = len(set(vocab.subjects(SKOS.inScheme, scheme)))
        name = _text(vocab, scheme, SKOS.prefLabel, DCTERMS.title) or _local(scheme)
        body.append(
            f'<li><a href="{escape(_scheme_file(scheme))}">{escape(name)}</a> ({count} concepts)</li>'
        )
    body.append("</ul>")
    return _page(title, body)


def _term_section(
    graph: rdflib.Graph, term: Node, labels: _Labels, rows: list[tuple[str, str]]
) -> str:
    name = _text(graph, term, RDFS.label) or _local(term)
    definition = _text(graph, term, SKOS.definition, RDFS.comment)
    comment = (
        _text(graph, term, RDFS.comment) if definition != _text(graph, term, RDFS.comment) else ""
    )
    return (
        f'<section class="term" id="{escape(_local(term))}"><h3>{escape(name)}</h3>'
        f'<p class="iri"><code>{escape(labels.curie(term))}</code> &lt;{escape(str(term))}&gt;</p>'
        f"<p>{escape(definition)}</p>"
        + (f"<p>{escape(comment)}</p>" if comment else "")
        + _rows(rows)
        + "</section>"
    )


def _class_section(ontology: rdflib.Graph, vocab: rdflib.Graph, cls: Node, labels: _Labels) -> str:
    rows = [
        ("Subclass of", _links(labels, ontology.objects(cls, RDFS.subClassOf))),
        ("Superclass of", _links(labels, ontology.subjects(RDFS.subClassOf, cls))),
        ("Properties", _links(labels, ontology.subjects(RDFS.domain, cls))),
        ("Used as range of", _links(labels, ontology.subjects(RDFS.range, cls))),
    ]
    instances = len(set(vocab.subjects(RDF.type, cls)))
    if instances:
        rows.append(("Concepts", str(instances)))
    return _term_section(ontology, cls, labels, rows)


def _property_section(ontology: rdflib.Graph, prop: Node, labels: _Labels) -> str:
    rows = [
        ("Domain", _links(labels, ontology.objects(prop, RDFS.domain))),
        ("Range", _links(labels, ontology.objects(prop, RDFS.range))),
        ("Subproperty of", _links(labels, ontology.objects(prop, RDFS.subPropertyOf))),
        (
            "Characteristics",
            ", ".join(
                escape(labels.curie(t))
                for t in ontology.objects(prop, RDF.type)
                if t not in (OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty)
            ),
        ),
    ]
    return _term_section(ontology, prop, labels, rows)


# --- a concept scheme page ------------------------------------------------------------------


def _scheme_page(vocab: rdflib.Graph, scheme: Node, labels: _Labels) -> str:
    name = _text(vocab, scheme, SKOS.prefLabel, DCTERMS.title) or _local(scheme)
    concepts = set(vocab.subjects(SKOS.inScheme, scheme))
    children: dict[Node, list[Node]] = {}
    for concept in concepts:
        for parent in vocab.objects(concept, SKOS.broader):
            if parent in concepts:
                children.setdefault(parent, []).append(concept)
    roots = [c for c in concepts if not any(p in concepts for p in vocab.objects(c, SKOS.broader))]
    body = [
        f'<p><a href="{INDEX}">medkg ontology</a></p>',
        f"<h1>{escape(name)}</h1>",
        f'<p class="iri"><code>{escape(str(scheme))}</code></p>',
        f"<p>{escape(_text(vocab, scheme, SKOS.definition, DCTERMS.description))}</p>",
        "<h2>Hierarchy</h2>",
        _tree(vocab, roots, children, set()),
        "<h2>Concepts</h2>",
    ]
    body += [
        _concept_section(vocab, c, labels)
        for c in sorted(concepts, key=lambda c: _pref(vocab, c).lower())
    ]
    return _page(name, body)


def _pref(vocab: rdflib.Graph, concept: Node) -> str:
    return _text(vocab, concept, SKOS.prefLabel) or _local(concept)


def _tree(
    vocab: rdflib.Graph, nodes: list[Node], children: dict[Node, list[Node]], path: set[Node]
) -> str:
    """Nested lists along skos:broader; a concept under several parents appears under each."""
    items = []
    for node in sorted(nodes, key=lambda c: _pref(vocab, c).lower()):
        if node in path:  # a cycle in skos:broader: show it once and stop
            continue
        below = _tree(vocab, children.get(node, []), children, path | {node})
        items.append(
            f'<li><a href="#{escape(_local(node))}">{escape(_pref(vocab, node))}</a>{below}</li>'
        )
    return f'<ul class="tree">{"".join(items)}</ul>' if items else ""


def _concept_section(vocab: rdflib.Graph, concept: Node, labels: _Labels) -> str:
    def literals(prop: URIRef) -> str:
        return ", ".join(escape(str(v)) for v in sorted(vocab.objects(concept, prop), key=str))

    rows = [
        ("Alternative labels", literals(SKOS.altLabel)),
        ("Hidden labels", literals(SKOS.hiddenLabel)),
        ("Cell labels (in cells and headings only)", literals(URIRef(labels.mkg + "cellLabel"))),
        ("Notation", literals(SKOS.notation)),
        (
            "Broader",
            ", ".join(
                f'<a href="#{escape(_local(b))}">{escape(_pref(vocab, b))}</a>'
                for b in sorted(vocab.objects(concept, SKOS.broader), key=str)
            ),
        ),
    ]
    rows += [
        (labels.curie(prop), _links(labels, vocab.objects(concept, prop)))
        for prop in MAPPING_PROPERTIES
    ]
    return (
        f'<section class="term" id="{escape(_local(concept))}"><h3>{escape(_pref(vocab, concept))}</h3>'
        f'<p class="iri"><code>{escape(str(concept))}</code></p>'
        f"<p>{escape(_text(vocab, concept, SKOS.definition))}</p>" + _rows(rows) + "</section>"
    )
