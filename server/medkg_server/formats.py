"""Result formats and content negotiation.

A query's answer is either *tabular* (SELECT and ASK: SPARQL JSON, XML, CSV, TSV) or a *graph*
(CONSTRUCT and DESCRIBE: Turtle, N-Triples, JSON-LD, RDF/XML, TriG, N-Quads). Which one a query
gives is known only once it is parsed, so negotiation picks the best of each family up front and
the query's form decides which of the two is used.

The `format` parameter (also `output` and `results`, which SPARQLWrapper sends) overrides
`Accept`. It takes a short name (`json`, `xml`, `csv`, `tsv`, `turtle`, `ntriples`, `jsonld`,
`rdfxml`, `trig`, `nquads`, ...) or a media type.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TypeVar

from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header

T = TypeVar("T")


@dataclass(frozen=True)
class Format:
    """One serialisation: its key (shared with the query child process) and media type."""

    key: str
    media_type: str
    family: str  # "tabular" or "graph"
    extension: str

    @property
    def content_type(self) -> str:
        """The Content-Type header value; every format we write is UTF-8 text."""
        return f"{self.media_type}; charset=utf-8"


JSON = Format("json", "application/sparql-results+json", "tabular", "srj")
XML = Format("xml", "application/sparql-results+xml", "tabular", "srx")
CSV = Format("csv", "text/csv", "tabular", "csv")
TSV = Format("tsv", "text/tab-separated-values", "tabular", "tsv")
TURTLE = Format("turtle", "text/turtle", "graph", "ttl")
NTRIPLES = Format("ntriples", "application/n-triples", "graph", "nt")
JSONLD = Format("jsonld", "application/ld+json", "graph", "jsonld")
RDFXML = Format("rdfxml", "application/rdf+xml", "graph", "rdf")
TRIG = Format("trig", "application/trig", "graph", "trig")
NQUADS = Format("nquads", "application/n-quads", "graph", "nq")

BY_KEY = {f.key: f for f in (JSON, XML, CSV, TSV, TURTLE, NTRIPLES, JSONLD, RDFXML, TRIG, NQUADS)}

# Media types a client may send, in our order of preference when the client ranks them equally.
TABULAR_ACCEPT: list[tuple[str, Format]] = [
    ("application/sparql-results+json", JSON),
    ("application/sparql-results+xml", XML),
    ("application/json", JSON),
    ("text/csv", CSV),
    ("text/tab-separated-values", TSV),
    ("application/xml", XML),
    ("text/xml", XML),
    ("text/javascript", JSON),
    ("application/javascript", JSON),
]
GRAPH_ACCEPT: list[tuple[str, Format]] = [
    ("text/turtle", TURTLE),
    ("application/n-triples", NTRIPLES),
    ("application/ld+json", JSONLD),
    ("application/rdf+xml", RDFXML),
    ("application/trig", TRIG),
    ("application/n-quads", NQUADS),
    ("application/x-turtle", TURTLE),
    ("application/turtle", TURTLE),
    ("text/n3", TURTLE),
    ("text/rdf+n3", TURTLE),
    ("application/n3", TURTLE),
    ("text/plain", NTRIPLES),
    ("application/json", JSONLD),
    ("application/xml", RDFXML),
    ("text/xml", RDFXML),
]

# Values of the `format` parameter: name -> (tabular choice, graph choice).
FORMAT_PARAMETER: dict[str, tuple[Format | None, Format | None]] = {
    "json": (JSON, JSONLD),
    "srj": (JSON, None),
    "xml": (XML, RDFXML),
    "srx": (XML, None),
    "csv": (CSV, None),
    "tsv": (TSV, None),
    "turtle": (None, TURTLE),
    "ttl": (None, TURTLE),
    "n3": (None, TURTLE),
    "ntriples": (None, NTRIPLES),
    "n-triples": (None, NTRIPLES),
    "nt": (None, NTRIPLES),
    "jsonld": (None, JSONLD),
    "json-ld": (None, JSONLD),
    "rdfxml": (None, RDFXML),
    "rdf/xml": (None, RDFXML),
    "rdf": (None, RDFXML),
    "xml-rdf": (None, RDFXML),
    "trig": (None, TRIG),
    "nquads": (None, NQUADS),
    "n-quads": (None, NQUADS),
    "nq": (None, NQUADS),
}


def _add_media_types(table: dict[str, tuple[Format | None, Format | None]]) -> None:
    """Let the format parameter name any media type we negotiate on, too."""
    for media, fmt in TABULAR_ACCEPT:
        table[media] = (fmt, table.get(media, (None, None))[1])
    for media, fmt in GRAPH_ACCEPT:
        table[media] = (table.get(media, (None, None))[0], fmt)


_add_media_types(FORMAT_PARAMETER)


@dataclass(frozen=True)
class Choice:
    """The negotiated format for each result family (None: nothing acceptable)."""

    tabular: Format | None
    graph: Format | None

    @property
    def key(self) -> str:
        return (
            f"{self.tabular.key if self.tabular else '-'}/{self.graph.key if self.graph else '-'}"
        )


def _best(accept: MIMEAccept, table: list[tuple[str, T]]) -> T | None:
    """The client's best-ranked media type from `table`; ties keep the table's order."""
    best: T | None = None
    best_quality = 0.0
    for media, fmt in table:
        quality = accept.quality(media)
        if quality > best_quality:
            best, best_quality = fmt, quality
    return best


def from_parameter(values: list[str]) -> Choice | None:
    """The choice named by the first recognised `format`/`output`/`results` value, if any."""
    for value in values:
        found = FORMAT_PARAMETER.get(value.strip().lower())
        if found:
            return Choice(*found)
    return None


def negotiate(accept_header: str, parameter_values: list[str]) -> Choice:
    """Pick the formats for a query answer from the format parameter, else the Accept header.

    A format parameter that names nothing known is answered 406 by the callers (no format
    chosen), not ignored: a misspelt `format=turtel` would otherwise get JSON without a word.
    """
    named = from_parameter(parameter_values)
    if named is not None:
        return named
    if parameter_values:
        return Choice(None, None)
    return _by_accept(accept_header)


def _accept(header: str) -> MIMEAccept:
    """The Accept header's media ranges without their parameters (other than q).

    `text/csv; charset=utf-8` or a JSON-LD `profile` still ask for that type (RFC 9110
    section 12.5.1); Werkzeug would match them only against types with the same parameters.
    """
    parsed = parse_accept_header(header, MIMEAccept)
    return MIMEAccept([(value.split(";", 1)[0].strip(), quality) for value, quality in parsed])


def names_html(header: str) -> bool:
    """True when the Accept header asks for HTML by name (browsers do; `*/*` does not)."""
    return any(
        value in ("text/html", "application/xhtml+xml") and quality > 0
        for value, quality in _accept(header)
    )


def negotiate_page(accept_header: str, parameter_values: list[str]) -> str | None:
    """For the browse and statistics pages: "html" or "json" (their data), None for neither.

    `format=json` or `format=html` decides; otherwise the Accept header, HTML when it ranks
    them equal or names neither (`*/*`, no header).
    """
    if parameter_values:
        value = parameter_values[0].strip().lower()
        return value if value in ("html", "json") else None
    accept = _accept(accept_header)
    if not accept:
        return "html"
    return _best(accept, [("text/html", "html"), ("application/json", "json")])


@lru_cache(maxsize=256)
def _by_accept(header: str) -> Choice:
    # Clients send a handful of distinct Accept headers: rank the formats once per header.
    accept = _accept(header)
    if not accept:
        return Choice(JSON, TURTLE)
    return Choice(_best(accept, TABULAR_ACCEPT), _best(accept, GRAPH_ACCEPT))


def negotiate_graph(
    accept_header: str, parameter_values: list[str], html: bool
) -> Format | str | None:
    """For RDF documents (pages, VoID, service description): a graph format, "html", or None."""
    named = from_parameter(parameter_values)
    if named is not None:
        return named.graph
    if any(v.strip().lower() == "html" for v in parameter_values) and html:
        return "html"
    if parameter_values:
        return None  # a format parameter naming nothing known: 406, as for queries
    return _graph_by_accept(accept_header, html)


@lru_cache(maxsize=256)
def _graph_by_accept(header: str, html: bool) -> Format | str | None:
    accept = _accept(header)
    if not accept:
        return "html" if html else TURTLE
    table: list[tuple[str, Format | str]] = list(GRAPH_ACCEPT)
    if html:
        table = [("text/html", "html"), ("application/xhtml+xml", "html"), *table]
    return _best(accept, table)
