"""Outbound-request guard: SERVICE and LOAD may reach only IRIs on the federation allow-list.

pyoxigraph 0.5 sends every `SERVICE <iri>` and `LOAD <iri>` over HTTP and offers Python no switch
to stop it, so the server checks the parsed request before the engine sees it. `FROM` and
`FROM NAMED` are safe: pyoxigraph treats them as names of graphs in the store and fetches nothing
(tests/server/test_server_security.py checks both facts against a loopback listener).
Allow-list entries are matched at IRI boundaries (scheme, host, port, then whole path segments),
not as text prefixes; tests/server/test_federation.py covers the look-alikes.

Parsing uses rdflib's SPARQL grammar only for this check; evaluation stays with pyoxigraph. A
request whose text never contains the keyword is let through without parsing: without the word,
there is no SERVICE or LOAD operation to find.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple
from urllib.parse import unquote, urlsplit

from pyparsing import ParseException
from rdflib.plugins.sparql.algebra import translatePrologue
from rdflib.plugins.sparql.parser import parseQuery, parseUpdate
from rdflib.plugins.sparql.parserutils import CompValue
from rdflib.term import URIRef, Variable

from medkg_server.query_text import PARSE_LOCK, code_only

SERVICE_WORD = re.compile(r"service", re.IGNORECASE)
SERVICE_KEYWORD = re.compile(r"\bservice\b", re.IGNORECASE)
LOAD_WORD = re.compile(r"load", re.IGNORECASE)
DEFAULT_PORTS = {"http": 80, "https": 443}


class ForbiddenTarget(Exception):
    """The request would make the server fetch a URL that is not allowed."""


class _Target(NamedTuple):
    """The parts of an http(s) IRI that decide where a request goes."""

    scheme: str
    host: str
    port: int
    path: str


def allowed(iri: str, allow_list: tuple[str, ...]) -> bool:
    """True when `iri` lies under an allow-listed prefix, compared part by part, not as text.

    Plain `startswith` would let `http://allowed.example` admit `http://allowed.example.evil/`,
    `http://allowed.example:8080/` or `http://allowed.example@evil.example/`. So both sides are
    split: scheme, host and port must be equal (a missing port means the scheme's default), and
    the entry's path must be the target's path or end at one of its `/` boundaries. An entry that
    is not a plain http(s) URL without query or fragment never matches anything.
    """
    target = _target(iri)
    if target is None:
        return False
    for entry in allow_list:
        prefix = None if ("?" in entry or "#" in entry) else _target(entry)
        if prefix is not None and _under(target, prefix):
            return True
    return False


def _target(iri: str) -> _Target | None:
    """Split an http(s) IRI, or None when it is one a guard cannot judge safely.

    Refused outright: other schemes (pyoxigraph fetches only http and https), user info
    (`user@host`, the classic look-alike trick), characters an HTTP client may read differently
    from this parser (backslash, whitespace, controls) and `.` / `..` path segments, which a
    client could resolve out of an allow-listed folder.
    """
    if any(ch == "\\" or ch.isspace() or ord(ch) < 0x20 for ch in iri):
        return None
    try:
        parts = urlsplit(iri)
        port = parts.port
    except ValueError:  # a malformed port or bracketed host
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or "@" in parts.netloc or not parts.hostname:
        return None
    segments = unquote(parts.path).split("/")
    if "." in segments or ".." in segments:
        return None
    return _Target(scheme, parts.hostname.lower(), port or DEFAULT_PORTS[scheme], parts.path)


def _under(target: _Target, prefix: _Target) -> bool:
    """Same origin, and the prefix's path is the target's path or one of its `/`-ancestors."""
    if (target.scheme, target.host, target.port) != (prefix.scheme, prefix.host, prefix.port):
        return False
    folder = prefix.path or "/"
    if folder.endswith("/"):
        return (target.path or "/").startswith(folder)
    return target.path == folder or target.path.startswith(folder + "/")


def check_query(text: str, allow_list: tuple[str, ...], base_iri: str | None) -> None:
    """Refuse a query with a SERVICE whose IRI is a variable or is not allow-listed."""
    if not SERVICE_WORD.search(text):
        return
    try:
        parsed = _parse(parseQuery, text)
    except ParseException:
        if _only_in_words(text, SERVICE_WORD):
            return
        raise ForbiddenTarget(
            "the query mentions SERVICE and could not be checked against the federation allow-list"
        ) from None
    except RecursionError:  # too deep for rdflib's recursive parser
        raise ForbiddenTarget(
            "the query mentions SERVICE and could not be checked against the federation allow-list"
        ) from None
    prologue = translatePrologue(parsed[0], base_iri)
    for node in _nodes(parsed[1], "ServiceGraphPattern"):
        _check_target(node.get("term"), prologue, allow_list, "SERVICE")


def check_update(text: str, allow_list: tuple[str, ...], base_iri: str | None) -> None:
    """Refuse an update with a LOAD or SERVICE whose IRI is not allow-listed."""
    if not (SERVICE_WORD.search(text) or LOAD_WORD.search(text)):
        return
    try:
        parsed = _parse(parseUpdate, text)
    except ParseException:
        if _only_in_words(text, SERVICE_WORD) and _only_in_words(text, LOAD_WORD):
            return
        raise ForbiddenTarget(
            "the update mentions LOAD or SERVICE and could not be checked against the "
            "federation allow-list"
        ) from None
    except RecursionError:  # too deep for rdflib's recursive parser
        raise ForbiddenTarget(
            "the update mentions LOAD or SERVICE and could not be checked against the "
            "federation allow-list"
        ) from None
    prologues = parsed.get("prologue") or []
    for index, request in enumerate(parsed.get("request") or []):
        prologue = translatePrologue(prologues[index] if index < len(prologues) else [], base_iri)
        for node in _nodes(request, "Load"):
            _check_target(node.get("iri"), prologue, allow_list, "LOAD")
        for node in _nodes(request, "ServiceGraphPattern"):
            _check_target(node.get("term"), prologue, allow_list, "SERVICE")


def _only_in_words(text: str, word: re.Pattern[str]) -> bool:
    """True when `word` occurs only inside strings, IRIs and comments, never in the code.

    rdflib reads SPARQL 1.1 only: a SPARQL 1.2 request (triple terms, hasLANG, LATERAL) that
    merely says "service" in a string, IRI or comment has no SERVICE operation to check. The
    blanked spans follow the grammar's string, IRIREF and comment terminals, and a keyword
    outside them, even inside a longer name, still sends the request to the refusal.
    """
    return word.search(code_only(text)) is None


def _parse(parse: Callable[[str], Any], text: str) -> Any:
    """Parse `text` with rdflib, working around its SERVICE bug with a second try.

    rdflib 7 re-scans the whole text for each SERVICE pattern with comments skipped, and takes a
    `#` inside an IRI (`<...ontology#Dataset>`, or a PREFIX ending in `#`) for the start of a
    comment, so a valid query with such an IRI earlier on the SERVICE's line fails to parse. The
    second try puts each SERVICE keyword on a line of its own. Adding a line break can only end a
    comment early or break a token, never hide a SERVICE, so the check cannot become laxer.
    """
    with PARSE_LOCK:
        try:
            return parse(text)
        except ParseException:
            return parse(SERVICE_KEYWORD.sub(lambda found: "\n" + found.group(0), text))


def _check_target(term: object, prologue: object, allow_list: tuple[str, ...], what: str) -> None:
    if isinstance(term, Variable):
        raise ForbiddenTarget(f"{what} with a variable IRI is not allowed on this server")
    resolved = prologue.absolutize(term)  # type: ignore[attr-defined]
    if not isinstance(resolved, URIRef) or not allowed(str(resolved), allow_list):
        raise ForbiddenTarget(
            f"{what} <{resolved}> is not on this server's federation allow-list "
            "(MEDKG_FEDERATION_ALLOW; empty by default)"
        )


def _nodes(tree: object, name: str) -> Iterator[CompValue]:
    """Every CompValue called `name` anywhere in a parse tree."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, CompValue):
            if node.name == name:
                yield node
            stack.extend(node.values())
        elif isinstance(node, (list, tuple)) or hasattr(node, "as_list"):
            stack.extend(list(node))  # type: ignore[call-overload]
