"""Run SPARQL on the store and write results in the standard formats (or a terminal table)."""

from __future__ import annotations

from pathlib import Path

import re

import pyoxigraph as ox

from medkg.namespaces import DCAT, DCTERMS, PROV, RDFS, SCHEMA, SKOS, XSD, Namespaces

RESULT_FORMATS = {
    "json": ox.QueryResultsFormat.JSON,
    "xml": ox.QueryResultsFormat.XML,
    "csv": ox.QueryResultsFormat.CSV,
    "tsv": ox.QueryResultsFormat.TSV,
}
GRAPH_FORMATS = {
    "turtle": ox.RdfFormat.TURTLE,
    "ntriples": ox.RdfFormat.N_TRIPLES,
    "jsonld": ox.RdfFormat.JSON_LD,
    "xml": ox.RdfFormat.RDF_XML,
}
FORMATS = ("table", "json", "xml", "csv", "tsv", "turtle", "ntriples", "jsonld")
# What may stand before an operation's first keyword: space, comments, BASE and PREFIX lines.
_PROLOGUE = re.compile(
    r"(?:\s+|#[^\n\r]*|(?i:BASE)\s*<[^<>]*>|(?i:PREFIX)\s*[^\s:]*:\s*<[^<>]*>)*"
)
_BLANK = re.compile(r"(?:\s+|#[^\n\r]*)*")  # only space and comments
# The words a SPARQL 1.1 Update operation starts with (no query form starts with them).
UPDATE_KEYWORDS = re.compile(
    r"(?i:INSERT|DELETE|LOAD|CLEAR|CREATE|DROP|COPY|MOVE|ADD|WITH)\b"
)


class QueryError(Exception):
    """The query is malformed, or its results cannot be written in the asked format."""


def default_prefixes(ns: Namespaces) -> dict[str, str]:
    """Prefixes every medkg query may use without declaring them."""
    return {
        "mkg": ns.mkg, "medkg": ns.base, "dcat": DCAT, "dcterms": DCTERMS, "schema": SCHEMA,
        "prov": PROV, "skos": SKOS, "rdfs": RDFS, "xsd": XSD,
        "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
        "owl": "http://www.w3.org/2002/07/owl#",
        "obo": "http://purl.obolibrary.org/obo/",
    }


def read_query_argument(text: str, stdin_data: bytes | None = None) -> str:
    """QUERY as given on the command line: the text itself, '@file.rq', or '-' for stdin.

    A file or stdin must be UTF-8 (SPARQL text is Unicode; the protocol sends it as UTF-8).
    """
    if text == "-":
        return _decoded(stdin_data or b"", "standard input")
    if text.startswith("@"):
        path = Path(text[1:])
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise QueryError(f"{path}: cannot read query file: {exc.strerror}") from None
        return _decoded(data, str(path))
    return text


def _decoded(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8-sig")  # a byte-order mark some editors write is not SPARQL
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise QueryError(f"{where}: line {line}: not UTF-8 (byte 0x{data[exc.start]:02x}); "
                         "save the query as UTF-8") from None


def is_empty(text: str) -> bool:
    """Whether the text holds nothing but white space and comments."""
    return _BLANK.fullmatch(text) is not None


def check_is_query(text: str) -> None:
    """Refuse an empty text or a SPARQL Update, which the parser would meet with "expected ..."."""
    if is_empty(text):
        raise QueryError("the query is empty")
    if UPDATE_KEYWORDS.match(text, _PROLOGUE.match(text).end()):  # type: ignore[union-attr]
        raise QueryError("this is a SPARQL Update: medkg query runs queries only (SELECT, ASK, "
                         "CONSTRUCT, DESCRIBE); the store is changed by medkg build")


def run(store: ox.Store, query: str, ns: Namespaces) -> ox.QuerySolutions | ox.QueryBoolean | ox.QueryTriples:
    """Evaluate a query; the default graph is the union of all named graphs."""
    try:
        return store.query(query, use_default_graph_as_union=True, prefixes=default_prefixes(ns))
    except SyntaxError as exc:
        check_is_query(query)
        raise QueryError(f"malformed query: {short_message(str(exc))}") from None


def short_message(message: str, limit: int = 240) -> str:
    """The parser's message with its long list of expected characters cut down."""
    message = " ".join(message.split())
    return message if len(message) <= limit else message[:limit].rstrip() + " ..."


def write(results: ox.QuerySolutions | ox.QueryBoolean | ox.QueryTriples, fmt: str) -> str:
    """Serialise results: SPARQL JSON/XML/CSV/TSV or a table for SELECT and ASK; RDF for graphs."""
    if fmt not in FORMATS:
        raise QueryError(f"unknown format '{fmt}' (known: {', '.join(FORMATS)})")
    if isinstance(results, ox.QueryTriples):
        rdf_format = GRAPH_FORMATS.get("turtle" if fmt == "table" else fmt)
        if rdf_format is None:
            raise QueryError(f"CONSTRUCT/DESCRIBE results cannot be written as {fmt}: "
                             "use turtle, ntriples, jsonld or xml")
        return ox.serialize(results, format=rdf_format).decode("utf-8")
    if fmt == "table":
        return _table(results)
    if fmt not in RESULT_FORMATS:
        raise QueryError(f"SELECT/ASK results cannot be written as {fmt}: use json, xml, csv, tsv or table")
    return results.serialize(format=RESULT_FORMATS[fmt]).decode("utf-8")


def _cell(term: object) -> str:
    if term is None:
        return ""
    if isinstance(term, ox.Literal):
        return term.value
    if isinstance(term, ox.NamedNode):
        return term.value
    return str(term)


def _table(results: ox.QuerySolutions | ox.QueryBoolean) -> str:
    if isinstance(results, ox.QueryBoolean):
        return "true" if bool(results) else "false"
    names = [v.value for v in results.variables]
    rows = [[_cell(solution[name]) for name in names] for solution in results]
    widths = [max([len(n)] + [len(r[i]) for r in rows]) for i, n in enumerate(names)]
    widths = [min(w, 80) for w in widths]

    def line(values: list[str]) -> str:
        return " | ".join(v[:w].ljust(w) for v, w in zip(values, widths)).rstrip()

    out = [line(names), "-+-".join("-" * w for w in widths)]
    out += [line(r) for r in rows]
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out)
