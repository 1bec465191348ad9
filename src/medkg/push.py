"""Load the built graph into another SPARQL store (Fuseki, GraphDB, Virtuoso, Oxigraph ...).

Each named graph medkg owns (`<base>graph/...`) is replaced on the target through the SPARQL 1.1
Graph Store HTTP Protocol: PUT of the first batch (which replaces the graph), POST of the next
ones (which add to it). A batch never splits a blank-node structure (such as an OWL restriction):
the target mints new blank nodes for each request, so a split one would arrive as two. With
`graph=IRI`, the union of all medkg graphs goes into that one graph instead. Where the target
answers that it has no Graph Store endpoint at the URL (404, 405, 415 or 501 to the first PUT),
medkg falls back to SPARQL Update at the same URL: DROP SILENT GRAPH, then INSERT DATA in
batches. Either way, pushing twice leaves the same data, and no other graph of the target is
ever named in a request.

Requests go to the URL given and nowhere else: a redirect is reported, not followed (a followed
PUT or POST loses its body, and the token must not reach another host). The token never appears
in a message. A failure says what the target holds now: which graphs were replaced, how much of
the graph being pushed arrived, and which were not touched.
"""

from __future__ import annotations

import re
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox

from medkg.config import Settings
from medkg.export.sorted_runs import SortedRuns
from medkg.store import StoreError, open_read_only

GSP = "graph-store"
UPDATE = "sparql-update"
NO_GSP_STATUSES = (404, 405, 415, 501)
REQUEST_TIMEOUT = 300.0
N_TRIPLES = "application/n-triples"
SPARQL_UPDATE = "application/sparql-update"
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
# what an HTTP header can carry, spaces and controls excluded (RFC 9110 field values, RFC 6750)
TOKEN_SHAPE = re.compile(r"[\x21-\x7e]+")


class PushError(Exception):
    """A push failed: which graph, which URL, the HTTP status and what the server said."""


@dataclass
class GraphPush:
    graph: str
    triples: int
    method: str


@dataclass
class PushReport:
    """What one push did, graph by graph."""

    endpoint: str
    graphs: list[GraphPush] = field(default_factory=list)

    @property
    def triples(self) -> int:
        return sum(g.triples for g in self.graphs)

    @property
    def methods(self) -> set[str]:
        return {g.method for g in self.graphs}

    def __str__(self) -> str:
        lines = [f"pushed {self.triples} triples in {len(self.graphs)} graph(s) to {self.endpoint}"]
        lines += [f"  {g.triples:>8}  <{g.graph}>  ({g.method})" for g in self.graphs]
        return "\n".join(lines)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Turn every redirect into an HTTPError: the push goes to the URL given or fails."""

    def redirect_request(self, *_args: object, **_kwargs: object) -> None:
        return None


NO_REDIRECT_OPENER = urllib.request.build_opener(_NoRedirect)


@dataclass(frozen=True)
class _Target:
    url: str
    token: str | None
    timeout: float = REQUEST_TIMEOUT

    def send(self, method: str, url: str, body: bytes, content_type: str, graph: str) -> None:
        request = urllib.request.Request(url, data=body, method=method)
        request.add_header("Content-Type", content_type)
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with NO_REDIRECT_OPENER.open(request, timeout=self.timeout) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            message = self.redact(exc.read().decode("utf-8", "replace").strip()[:500])
            if exc.code in REDIRECT_STATUSES:
                where = self.redact(exc.headers.get("Location") or "(no Location)")
                message = (f"redirects to {where}; not followed (a redirected PUT or POST "
                           "loses its body, and the token goes only to the URL given): "
                           "push to that URL instead")
            elif exc.code == 413:
                message = f"{message or '(no message)'} (requests too large: try a smaller --batch)"
            raise _HttpFailure(exc.code, message, graph, url) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, TimeoutError):
                raise PushError(f"{url} did not answer within {self.timeout:g} s while pushing "
                                f"graph <{graph}> (it may still apply that request)") from None
            raise PushError(f"cannot reach {url} while pushing graph <{graph}>: "
                            f"{self.redact(str(reason))}") from None

    def redact(self, text: str) -> str:
        """`text` without the token (a server may echo the header it was sent)."""
        return text.replace(self.token, "[token]") if self.token else text


class _HttpFailure(PushError):
    def __init__(self, status: int, message: str, graph: str, url: str) -> None:
        super().__init__(
            f"pushing graph <{graph}> to {url} failed: HTTP {status}: {message or '(no message)'}"
        )
        self.status = status


def owned_graphs(store: ox.Store, settings: Settings) -> list[str]:
    """The named graphs of the store that medkg owns, sorted."""
    prefix = f"{settings.base}graph/"
    names = (g.value for g in store.named_graphs() if isinstance(g, ox.NamedNode))
    return sorted(name for name in names if name.startswith(prefix))


def _blank_nodes(term: object) -> Iterator[str]:
    """The blank nodes of a term, also inside a triple term."""
    if isinstance(term, ox.BlankNode):
        yield term.value
    elif isinstance(term, ox.Triple):
        yield from _blank_nodes(term.subject)
        yield from _blank_nodes(term.object)


def _components(triples: Iterable[ox.Triple]) -> Iterator[list[ox.Triple]]:
    """The triples in groups that must travel together: one group per blank-node closure.

    A target gives each request's blank nodes new identities, so two triples that reach the same
    blank node, directly or through other blank nodes, must go in one request. A triple without
    blank nodes is a group of its own and is yielded at once; the others are held until every
    triple was seen, since a later triple may join two groups.
    """
    parent: dict[str, str] = {}

    def root(node: str) -> str:
        while parent[node] != node:
            parent[node] = parent[parent[node]]  # path halving keeps the chains short
            node = parent[node]
        return node

    held: list[tuple[str, ox.Triple]] = []
    for triple in triples:
        nodes = list(_blank_nodes(triple))
        if not nodes:
            yield [triple]
            continue
        for node in nodes:
            parent.setdefault(node, node)
        first = root(nodes[0])
        for node in nodes[1:]:
            parent[root(node)] = first
        held.append((nodes[0], triple))
    groups: dict[str, list[ox.Triple]] = {}
    for node, triple in held:
        groups.setdefault(root(node), []).append(triple)
    yield from groups.values()


def _batches(triples: Iterable[ox.Triple], size: int) -> Iterator[list[ox.Triple]]:
    """Batches of about `size` triples that never split a blank-node closure.

    A closure larger than `size` goes whole in a batch of its own.
    """
    batch: list[ox.Triple] = []
    for group in _components(triples):
        if batch and len(batch) + len(group) > size:
            yield batch
            batch = []
        batch.extend(group)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _ntriples(batch: list[ox.Triple]) -> bytes:
    return ox.serialize(batch, format=ox.RdfFormat.N_TRIPLES) or b""


def _gsp_url(endpoint: str, graph: str) -> str:
    separator = "&" if "?" in endpoint else "?"
    return f"{endpoint}{separator}{urllib.parse.urlencode({'graph': graph})}"


@dataclass
class _Progress:
    """How far one graph's push went: whether the target replaced (or dropped) it yet, and how
    many of its triples arrived since."""

    replaced: bool = False
    triples: int = 0


def _push_gsp(
    target: _Target, graph: str, batches: list[list[ox.Triple]], progress: _Progress
) -> None:
    url = _gsp_url(target.url, graph)
    # an empty PUT still replaces (empties) the graph, so a shrunken graph never keeps old triples
    target.send("PUT", url, _ntriples(batches[0]) if batches else b"", N_TRIPLES, graph)
    progress.replaced, progress.triples = True, len(batches[0]) if batches else 0
    for batch in batches[1:]:
        target.send("POST", url, _ntriples(batch), N_TRIPLES, graph)
        progress.triples += len(batch)


def _push_update(
    target: _Target, graph: str, batches: list[list[ox.Triple]], progress: _Progress
) -> None:
    drop = f"DROP SILENT GRAPH <{graph}>".encode()
    target.send("POST", target.url, drop, SPARQL_UPDATE, graph)
    progress.replaced = True
    for batch in batches:
        body = b"INSERT DATA { GRAPH <" + graph.encode() + b"> {\n" + _ntriples(batch) + b"} }"
        target.send("POST", target.url, body, SPARQL_UPDATE, graph)
        progress.triples += len(batch)


def _target_state(done: int, graph: str, progress: _Progress, total: int, untouched: int) -> str:
    """What the target holds after a failed push, in words, for the error line."""
    if not done and not progress.replaced:
        return "the target is unchanged"
    parts = [f"{done} graph(s) replaced"] if done else []
    if progress.replaced:
        parts.append(f"<{graph}> holding {progress.triples} of its {total} triples")
    else:
        parts.append(f"<{graph}> as it was")
    if untouched:
        parts.append(f"{untouched} graph(s) not touched")
    return "the target now has " + ", ".join(parts) + ": push again to replace them all"


def _plan(
    store: ox.Store, settings: Settings, graph: str | None
) -> list[tuple[str, Iterator[ox.Triple]]]:
    """(target graph, its triples) for each graph to push."""
    owned = owned_graphs(store, settings)
    if graph is None:
        return [(name, _triples(store, name)) for name in owned]
    return [(graph, _union(store, owned))]


def _triples(store: ox.Store, graph: str) -> Iterator[ox.Triple]:
    return (q.triple for q in store.quads_for_pattern(None, None, None, ox.NamedNode(graph)))


def _union(store: ox.Store, graphs: list[str]) -> Iterator[ox.Triple]:
    """The triples of `graphs`, each once: sorted in runs on disk (export/sorted_runs.py),
    where a set of every triple seen grew with the store."""
    with tempfile.TemporaryDirectory(prefix="medkg-push-") as scratch:
        runs = SortedRuns(Path(scratch))
        for name in graphs:
            runs.add_all(_triples(store, name))
        yield from runs.merged()


def push(
    settings: Settings,
    endpoint: str,
    graph: str | None = None,
    token: str | None = None,
    batch_triples: int = 50_000,
    quiet: bool = False,
    timeout: float = REQUEST_TIMEOUT,
) -> PushReport:
    """Replace medkg's graphs on the store at `endpoint` (Graph Store Protocol, else Update)."""
    from tqdm import tqdm

    if batch_triples < 1:
        raise PushError(f"batch size must be positive, got {batch_triples}")
    _check_arguments(endpoint, graph, token)
    try:
        store = open_read_only(settings.store)
    except StoreError as exc:
        raise PushError(str(exc)) from None
    target = _Target(endpoint, token, timeout)
    report = PushReport(endpoint)
    method = GSP
    plan = _plan(store, settings, graph)
    for index, (name, triples) in enumerate(tqdm(plan, desc="push", unit="graph", disable=quiet)):
        batches = list(_batches(triples, batch_triples))
        progress = _Progress()
        try:
            method = _push_graph(target, name, batches, method, not report.graphs, progress)
        except PushError as exc:
            total = sum(len(b) for b in batches)
            state = _target_state(len(report.graphs), name, progress, total, len(plan) - index - 1)
            raise PushError(f"{exc}; {state}") from None
        report.graphs.append(GraphPush(name, sum(len(b) for b in batches), method))
    return report


def _check_arguments(endpoint: str, graph: str | None, token: str | None) -> None:
    """Refuse, before any request, what would fail half-way or leak: a bad URL, IRI or token."""
    try:
        parts = urllib.parse.urlsplit(endpoint)
        parts.port  # noqa: B018 (raises on a port that is not a number from 0 to 65535)
    except ValueError as exc:
        raise PushError(f"endpoint {endpoint!r} is not a valid URL: {exc}") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise PushError(f"endpoint must be an http(s) URL with a host, got {endpoint!r}")
    if parts.username is not None or parts.password is not None:
        # the URL would be printed in messages, with the password in it
        raise PushError("endpoint must not carry a user name or password: use --token")
    if any(c.isspace() or not c.isprintable() for c in endpoint):
        raise PushError(f"endpoint {endpoint!r} has a space or control character (escape it)")
    if graph is not None:
        try:
            ox.NamedNode(graph)
        except ValueError as exc:
            raise PushError(f"--graph {graph!r} is not an absolute IRI: {exc}") from None
    if token is not None and not TOKEN_SHAPE.fullmatch(token):
        # the token itself is never shown
        raise PushError("the token has a character an HTTP header cannot carry (a space, a "
                        "line break or a non-ASCII character)")


def _push_graph(
    target: _Target,
    graph: str,
    batches: list[list[ox.Triple]],
    method: str,
    first: bool,
    progress: _Progress,
) -> str:
    """Push one graph; returns the method that worked (the first graph may fall back to Update)."""
    if method == GSP:
        try:
            _push_gsp(target, graph, batches, progress)
            return GSP
        except _HttpFailure as failure:
            if not first or progress.replaced or failure.status not in NO_GSP_STATUSES:
                raise
            # the first graph tells whether the URL speaks GSP
    _push_update(target, graph, batches, progress)
    return UPDATE
