"""SHACL validation of medkg graphs against ontology/shapes.ttl.

Validation runs on one rdflib Graph holding the data (all named graphs merged), the OWL ontology
and the SKOS vocabularies. With the ontology inside the data graph, pyshacl's sh:targetClass and
sh:class follow rdfs:subClassOf without running an inference engine, which keeps a full build's
validation to a few seconds.

`conforms` means no sh:Violation: warnings and infos are reported but never fail a build.

Input files are read defensively because `medkg validate` accepts files from anyone: RDF/XML with
a DOCTYPE (the carrier of XXE and billion-laughs attacks) is refused before any XML parser sees it,
and JSON-LD may not name remote contexts, so nothing is fetched and nothing outside the file read.
"""

from __future__ import annotations

import json
import logging
import re
import warnings
import xml.parsers.expat
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyshacl
import rdflib
from rdflib.namespace import RDF, SH
from rdflib.term import BNode, Literal, Node, URIRef

from medkg.config import Settings
from medkg.namespaces import DCAT, DCTERMS, PROV, RDFS, SCHEMA, SKOS, XSD, Namespaces
from medkg.ontology import ontology_graph, shapes_graph, vocabulary_graph

__all__ = [
    "SEVERITIES",
    "InputError",
    "ShapesError",
    "ValidationIssue",
    "ValidationResult",
    "format_report",
    "read_rdf_file",
    "validate_files",
    "validate_graph",
    "write_report_turtle",
]

log = logging.getLogger(__name__)

SEVERITIES = ("Violation", "Warning", "Info")

# Caps on untrusted input: large enough for a full medkg dump, small enough to refuse abuse.
MAX_INPUT_BYTES = 256 * 1024 * 1024
MAX_JSON_DEPTH = 64

XSD_STRING = URIRef(XSD + "string")

# File extension -> oxrdflib parser (oxigraph parsers report the line of a syntax error).
FORMATS_BY_SUFFIX = {
    ".ttl": "ox-turtle",
    ".turtle": "ox-turtle",
    ".nt": "ox-ntriples",
    ".nq": "ox-nquads",
    ".trig": "ox-trig",
    ".jsonld": "ox-json-ld",
    ".json": "ox-json-ld",
    ".rdf": "ox-xml",
    ".owl": "ox-xml",
    ".xml": "ox-xml",
}


class ShapesError(Exception):
    """The shapes themselves cannot be run (a broken ontology/shapes.ttl)."""


class InputError(Exception):
    """An input file cannot be read or parsed as RDF, or is refused as unsafe."""

    def __init__(self, path: Path, message: str, line: int | None = None) -> None:
        self.path = path
        self.message = message
        self.line = line
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class ValidationIssue:
    """One SHACL validation result, in plain strings.

    `focus`, `path` and `shape` hold full IRIs (`_:id` for blank nodes; an inverse path is written
    `^IRI`); `value` is the offending term in N-Triples form, or None when the result has none.
    `shape` names the named shape that raised the result (the node shape owning an anonymous
    property shape). `component` is the IRI of the constraint component that failed
    (sh:MinCountConstraintComponent ...), which every result of a SHACL report names.
    """

    severity: str
    focus: str
    path: str | None
    value: str | None
    message: str
    shape: str
    component: str | None = None


@dataclass
class ValidationResult:
    """The outcome of validating one graph: issues, verdict and the standard report graph."""

    conforms: bool
    issues: list[ValidationIssue]
    report_graph: rdflib.Graph = field(repr=False)

    @property
    def counts(self) -> dict[str, int]:
        """Number of issues per severity, every severity present (possibly 0)."""
        tally = Counter(issue.severity for issue in self.issues)
        return {severity: tally.get(severity, 0) for severity in SEVERITIES}

    @property
    def violations(self) -> list[ValidationIssue]:
        return [issue for issue in self.issues if issue.severity == "Violation"]

    @property
    def warnings(self) -> list[ValidationIssue]:
        return [issue for issue in self.issues if issue.severity == "Warning"]


# --- validating a graph ---------------------------------------------------------------------


def validate_graph(data: rdflib.Graph, settings: Settings) -> ValidationResult:
    """Validate `data` (a Graph, or a Dataset whose named graphs are merged) against the shapes.

    The ontology and vocabularies are added to the graph validated, so data that only links to
    concepts validates on its own; data that already holds them is unchanged by the addition.
    """
    union = rdflib.Graph()
    for source in (data, ontology_graph(settings), vocabulary_graph(settings)):
        for s, p, o in _all_triples(source):
            union.add((s, p, plain_string(o)))
    shapes = shapes_graph(settings)
    _conforms, report, _text = pyshacl.validate(
        union,
        shacl_graph=shapes,
        inference="none",
        allow_warnings=True,
        allow_infos=True,
        advanced=True,  # SPARQL-based targets (see shapes.ttl)
        inplace=True,  # `union` is our own copy: spare pyshacl a second one
    )
    if not isinstance(report, rdflib.Graph):  # pyshacl returns, not raises, a failure
        raise ShapesError(f"pyshacl cannot run ontology/shapes.ttl: {report}")
    bind_prefixes(report, settings)
    issues = sorted(issues_from_report(report, shapes), key=issue_order)
    conforms = not any(issue.severity == "Violation" for issue in issues)
    return ValidationResult(conforms=conforms, issues=issues, report_graph=report)


def _all_triples(graph: rdflib.Graph) -> Iterator[tuple[Node, Node, Node]]:
    """Every triple of a Graph, or of every named graph of a Dataset / ConjunctiveGraph."""
    if isinstance(graph, rdflib.ConjunctiveGraph):  # Dataset is a subclass
        for s, p, o, _g in graph.quads((None, None, None, None)):
            yield s, p, o
    else:
        yield from graph


def plain_string(term: Node) -> Node:
    """Write an xsd:string literal as a simple literal.

    They are the same term in RDF 1.1, but rdflib compares them as different, so a value from an
    oxigraph parser ("3D"^^xsd:string) would fail the shapes' sh:in ("3D") and sh:hasValue.
    """
    if isinstance(term, Literal) and term.datatype == XSD_STRING:
        return Literal(str(term))
    return term


def issues_from_report(report: rdflib.Graph, shapes: rdflib.Graph) -> Iterator[ValidationIssue]:
    """The issues of a pyshacl report graph, with shapes named as in the shapes graph."""
    for result in report.subjects(RDF.type, SH.ValidationResult):
        severity = report.value(result, SH.resultSeverity)
        focus = report.value(result, SH.focusNode)
        path = report.value(result, SH.resultPath)
        value = report.value(result, SH.value)
        source = report.value(result, SH.sourceShape)
        component = report.value(result, SH.sourceConstraintComponent)
        messages = [str(m) for m in report.objects(result, SH.resultMessage)]
        yield ValidationIssue(
            severity=_local_name(severity) if severity is not None else "Violation",
            focus=_term_text(focus),
            path=path_text(report, path) if path is not None else None,
            value=value.n3() if value is not None else None,
            message="; ".join(sorted(messages)) or "(no message)",
            shape=shape_name(shapes, source),
            component=str(component) if component is not None else None,
        )


def issue_order(issue: ValidationIssue) -> tuple[int, str, str, str, str]:
    """Sort key for issues: severity first, then shape, focus, path and value."""
    return (
        SEVERITIES.index(issue.severity) if issue.severity in SEVERITIES else len(SEVERITIES),
        issue.shape,
        issue.message,
        issue.focus,
        issue.value or "",
    )


def _local_name(iri: Node) -> str:
    return re.split(r"[#/]", str(iri))[-1]


def _term_text(term: Node | None) -> str:
    if term is None:
        return ""
    return f"_:{term}" if isinstance(term, BNode) else str(term)


def path_text(graph: rdflib.Graph, path: Node) -> str:
    """A SHACL path as text: IRIs in full, `^` for inverse, `/` for sequences."""
    if isinstance(path, URIRef):
        return str(path)
    inverse = graph.value(path, SH.inversePath)
    if inverse is not None:
        return "^" + path_text(graph, inverse)
    if graph.value(path, RDF.first) is not None:
        return "/".join(
            path_text(graph, step) for step in rdflib.collection.Collection(graph, path)
        )
    return _term_text(path)


def shape_name(shapes: rdflib.Graph, shape: Node | None) -> str:
    """The IRI of a named shape; for an anonymous property shape, that of its node shape."""
    seen: set[Node] = set()
    while isinstance(shape, BNode) and shape not in seen:
        seen.add(shape)
        owner = next(shapes.subjects(SH.property, shape), None)
        if owner is None:
            owner = next(shapes.subjects(SH.sparql, shape), None)
        shape = owner
    return str(shape) if shape is not None else "(anonymous shape)"


# --- reading input files --------------------------------------------------------------------


def validate_files(paths: list[Path], settings: Settings) -> ValidationResult:
    """Read RDF files in any common syntax, merge them into one graph and validate it."""
    merged = rdflib.Graph()
    for path in paths:
        for triple in _all_triples(read_rdf_file(path)):
            merged.add(triple)
    return validate_graph(merged, settings)


def read_rdf_file(path: Path) -> rdflib.Dataset:
    """Parse one RDF file into a Dataset, choosing the syntax by extension or by content.

    Raises InputError for a missing, oversized, unsafe or malformed file.
    """
    data = _read_bytes(path)
    fmt = FORMATS_BY_SUFFIX.get(path.suffix.lower()) or _sniff_format(data)
    if fmt == "ox-xml":
        _refuse_xml_declarations(path, data)
    elif fmt == "ox-json-ld":
        _check_json_ld(path, data)
    dataset = rdflib.Dataset()
    try:
        with warnings.catch_warnings():
            # rdflib's own Dataset.parse uses its deprecated default_context; nothing we can fix.
            warnings.simplefilter("ignore", DeprecationWarning)
            dataset.parse(data=data, format=fmt, publicID=path.resolve().as_uri())
    except SyntaxError as exc:  # oxigraph's parse errors, with line and column
        raise InputError(path, f"not valid {_syntax_name(fmt)}: {exc.msg}", exc.lineno) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(path, f"not valid {_syntax_name(fmt)}: {exc}") from None
    return dataset


def _read_bytes(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_INPUT_BYTES:
            raise InputError(path, f"file is {size} bytes, more than the {MAX_INPUT_BYTES} allowed")
        return path.read_bytes()
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from None


def _syntax_name(fmt: str) -> str:
    names = {
        "ox-turtle": "Turtle",
        "ox-ntriples": "N-Triples",
        "ox-nquads": "N-Quads",
        "ox-trig": "TriG",
        "ox-json-ld": "JSON-LD",
        "ox-xml": "RDF/XML",
    }
    return names.get(fmt, fmt)


def _sniff_format(data: bytes) -> str:
    """Guess the syntax of a file without a known extension from its first bytes."""
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith((b"{", b"[")):
        return "ox-json-ld"
    if head.startswith((b"<?xml", b"<rdf:RDF", b"<!")):
        return "ox-xml"
    if re.search(rb"^\s*(<[^>]*>|_:\S+)\s+<[^>]*>\s+\S.*\s<[^>]*>\s*\.\s*$", head, re.MULTILINE):
        return "ox-nquads"
    if re.search(rb"(^|\s)(GRAPH\s+)?(<[^>]*>|[\w-]*:[\w-]*)\s*\{", head):
        return "ox-trig"
    return "ox-turtle"  # also reads N-Triples


class _RefusedXml(Exception):
    """Raised from inside expat's handlers to stop at the first DOCTYPE or entity."""


def _refuse_xml_declarations(path: Path, data: bytes) -> None:
    """Refuse RDF/XML carrying a DOCTYPE or entity declaration (XXE, billion laughs).

    RDF/XML never needs a DTD, so refusing one costs nothing. expat stops at the declaration's
    start, before any entity is defined or expanded.
    """
    parser = xml.parsers.expat.ParserCreate()

    def refuse(*_args: object) -> None:
        raise _RefusedXml

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse
    try:
        parser.Parse(data, True)
    except _RefusedXml:
        raise InputError(
            path,
            "RDF/XML with a DOCTYPE or entity declaration is refused (unsafe)",
            parser.CurrentLineNumber,
        ) from None
    except xml.parsers.expat.ExpatError as exc:
        raise InputError(
            path, f"not well-formed XML: {xml.parsers.expat.ErrorString(exc.code)}", exc.lineno
        ) from None


def _check_json_ld(path: Path, data: bytes) -> None:
    """Refuse JSON-LD that is malformed, nested too deeply or names a remote context."""
    try:
        document = json.loads(data)
    except json.JSONDecodeError as exc:
        raise InputError(path, f"not valid JSON: {exc.msg}", exc.lineno) from None
    except RecursionError:
        raise InputError(path, "JSON nested too deeply") from None
    except UnicodeDecodeError as exc:
        raise InputError(path, f"not valid JSON text: {exc.reason}") from None
    for depth, key, value in _walk_json(document):
        if depth > MAX_JSON_DEPTH:
            raise InputError(path, f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        if key == "@context" and _names_remote_context(value):
            raise InputError(path, "JSON-LD with a remote @context is refused: inline the context")


def _walk_json(document: object) -> Iterator[tuple[int, str | None, object]]:
    """Every value of a JSON document with its depth and the key it stands under (iteratively)."""
    stack: list[tuple[int, str | None, object]] = [(0, None, document)]
    while stack:
        depth, key, value = stack.pop()
        yield depth, key, value
        if isinstance(value, dict):
            stack.extend((depth + 1, k, v) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((depth + 1, key, v) for v in value)


def _names_remote_context(context: object) -> bool:
    """True when a context value is or contains a reference to another document."""
    if isinstance(context, str):
        return True
    if isinstance(context, list):
        return any(_names_remote_context(item) for item in context)
    if isinstance(context, dict):
        return "@import" in context
    return False


# --- reporting ------------------------------------------------------------------------------


def _prefixes(settings: Settings | None) -> dict[str, str]:
    """Prefixes used to shorten IRIs in reports; medkg's own from the configured base."""
    ns = Namespaces(settings.base if settings else "https://w3id.org/medkg/")
    return {
        "mkg": ns.mkg,
        "mkgsh": f"{ns.base}shapes#",
        "medkg": ns.base,
        "dcat": DCAT,
        "dcterms": DCTERMS,
        "schema": SCHEMA,
        "prov": PROV,
        "skos": SKOS,
        "rdfs": RDFS,
        "rdf": str(RDF),
        "xsd": XSD,
        "sh": str(SH),
    }


def bind_prefixes(graph: rdflib.Graph, settings: Settings) -> None:
    """Bind medkg's prefixes on a report graph so that its Turtle reads short."""
    for prefix, namespace in _prefixes(settings).items():
        graph.bind(prefix, namespace, override=True)


def shorten(text: str, prefixes: dict[str, str]) -> str:
    """Write the IRIs in `text` (bare or in <...>) as prefix:local where a prefix matches."""
    # Longest namespace first, so mkg: wins over medkg: for ontology terms.
    ordered = sorted(prefixes.items(), key=lambda item: len(item[1]), reverse=True)

    def replace(match: re.Match[str]) -> str:
        iri = match.group(1) or match.group(2)
        for prefix, namespace in ordered:
            if iri.startswith(namespace) and len(iri) > len(namespace):
                return f"{prefix}:{iri[len(namespace) :]}"
        return match.group(0)

    return re.sub(r"<([^<>\s]+)>|(https?://[^\s<>\"]+)", replace, text)


def format_report(
    result: ValidationResult, max_per_group: int = 10, settings: Settings | None = None
) -> str:
    """A report for people: severities in turn, issues grouped by shape and path, counted.

    A group's heading carries the message when all its issues share it (else each line does).
    Each group lists up to `max_per_group` issues (focus node, value) and says how many more it
    left out. `settings` only supplies the base IRI used to shorten medkg's own IRIs.
    """
    prefixes = _prefixes(settings)
    counts = result.counts
    verdict = "conforms" if result.conforms else "does NOT conform"
    summary = ", ".join(
        f"{counts[s]} {s.lower()}{'' if counts[s] == 1 else 's'}" for s in SEVERITIES
    )
    lines = [f"Validation: {verdict} ({summary})"]
    for severity in SEVERITIES:
        issues = [issue for issue in result.issues if issue.severity == severity]
        if not issues:
            continue
        lines += ["", f"== {severity} ({len(issues)}) =="]
        for (shape, path), group in _groups(issues):
            messages = {issue.message for issue in group}
            heading = (
                f"[{len(group)}x] {shorten(shape, prefixes)} {shorten(path, prefixes) or '(node)'}"
            )
            if len(messages) == 1:
                heading += f": {shorten(group[0].message, prefixes)}"
            lines += ["", heading]
            for issue in group[:max_per_group]:
                lines.append("    " + _issue_line(issue, prefixes, with_message=len(messages) > 1))
            if len(group) > max_per_group:
                lines.append(f"    ... and {len(group) - max_per_group} more")
    return "\n".join(lines) + "\n"


def _groups(
    issues: Iterable[ValidationIssue],
) -> list[tuple[tuple[str, str], list[ValidationIssue]]]:
    """Issues grouped by (shape, path), largest group first."""
    grouped: dict[tuple[str, str], list[ValidationIssue]] = {}
    for issue in issues:
        grouped.setdefault((issue.shape, issue.path or ""), []).append(issue)
    return sorted(grouped.items(), key=lambda item: (-len(item[1]), item[0]))


def _issue_line(issue: ValidationIssue, prefixes: dict[str, str], with_message: bool) -> str:
    parts = [shorten(issue.focus, prefixes)]
    # A node shape reports the focus node as its value too: no need to say it twice.
    if issue.value is not None and issue.value != f"<{issue.focus}>":
        parts.append(f"value {shorten(issue.value, prefixes)}")
    if with_message:
        parts.append(f"-- {shorten(issue.message, prefixes)}")
    return "  ".join(parts)


def write_report_turtle(result: ValidationResult, path: Path) -> None:
    """Write the standard sh:ValidationReport graph as Turtle.

    The file is written beside `path` and moved into place when complete: a failure leaves the
    previous report as it was, never half a file.
    """
    from medkg.export.atomic import write_file  # the exporters' atomic write, imported late

    text = result.report_graph.serialize(format="turtle").encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    write_file(path, lambda temporary: temporary.write_bytes(text))
