"""SHACL validation compiled to SPARQL and run by Oxigraph over the store.

pyshacl evaluates every constraint node by node in Python (about 4 ms per dataset with our
shapes). This module reads the shapes graph and turns each shape into a few SPARQL SELECT queries
that Oxigraph answers over the whole store at once, then turns their rows into the same
`ValidationIssue` records pyshacl's report gives (`medkg.validation.validate_graph`): same
severity, focus node, path, value, message and shape.

The compiler knows the SHACL features ontology/shapes.ttl uses, and a few more:

- targets: sh:targetClass (following rdfs:subClassOf*), sh:targetNode, sh:targetSubjectsOf,
  sh:targetObjectsOf, SPARQL-based targets (sh:target with sh:select), implicit class targets;
- paths: IRI, sh:inversePath, sequences, sh:alternativePath, sh:zeroOrMorePath,
  sh:oneOrMorePath, sh:zeroOrOnePath;
- value checks: sh:datatype (well-formed lexical form included), sh:class, sh:in, sh:pattern
  (+ sh:flags), sh:nodeKind, sh:languageIn, sh:min/maxInclusive, sh:min/maxExclusive,
  sh:min/maxLength, sh:or of shapes (whose members use these checks, or sh:minCount 1 /
  sh:maxCount 0 on a path);
- per focus node: sh:minCount, sh:maxCount, sh:hasValue;
- SPARQL-based constraints (sh:sparql with sh:select; $this and $PATH substituted);
- sh:severity, sh:message (and pyshacl's own message when a shape has none, for sh:nodeKind,
  sh:datatype and sh:class), sh:deactivated.

A shape that uses anything else (sh:xone, sh:closed, sh:qualifiedValueShape, a generic message
this module does not reproduce ...) is not compiled: it goes, alone, to pyshacl over the store's
union graph (`_fallback`), so the result stays complete; the shapes kept that way are logged.
That fallback loads the union into memory: fine for the small graphs where it would run today
(shapes.ttl compiles entirely), to be replaced by the batched path (medkg.batch_validation) once
that path accepts a shapes graph of its own.

The store must hold what validate_graph validates: the data, the ontology (medkg.ttl, for
rdfs:subClassOf) and the vocabularies. `medkg build` stores them in named graphs; queries run
with the default graph as the union of all graphs, and use DISTINCT because a triple stated in
two graphs comes back twice.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pyoxigraph as ox
import pyshacl
import rdflib
from rdflib.collection import Collection
from rdflib.namespace import RDF, RDFS, SH, XSD
from rdflib.term import BNode, Literal, Node, URIRef

from medkg.config import Settings
from medkg.ontology import shapes_graph
from medkg.validation import (
    ShapesError,
    ValidationIssue,
    ValidationResult,
    bind_prefixes,
    issue_order,
    issues_from_report,
    path_text,
    shape_name,
)

__all__ = ["CompiledCheck", "FocusCache", "compile_shapes", "plan", "run_check",
           "validate_store_sparql"]

log = logging.getLogger(__name__)

# Predicates of the SHACL vocabulary the compiler understands on a shape; any other sh: term
# on a shape sends it to the pyshacl fallback.
KNOWN_TERMS = frozenset(SH[name] for name in (
    "targetClass", "targetNode", "targetSubjectsOf", "targetObjectsOf", "target", "property",
    "path", "minCount", "maxCount", "datatype", "class", "in", "pattern", "flags", "nodeKind",
    "languageIn", "minInclusive", "maxInclusive", "minExclusive", "maxExclusive", "minLength",
    "maxLength", "or", "hasValue", "sparql", "severity", "message", "deactivated", "name",
    "description", "order", "group", "defaultValue",
))
# XSD datatypes whose SPARQL cast Oxigraph implements: casting the lexical form tells whether a
# literal is well formed, as pyshacl's sh:datatype requires.
CASTABLE = frozenset(XSD[name] for name in (
    "integer", "decimal", "double", "float", "boolean", "date", "dateTime", "time", "gYear",
    "gYearMonth", "duration",
))
NODE_KINDS = {
    SH.IRI: "isIRI({v})",
    SH.BlankNode: "isBlank({v})",
    SH.Literal: "isLiteral({v})",
    SH.BlankNodeOrIRI: "(isBlank({v}) || isIRI({v}))",
    SH.BlankNodeOrLiteral: "(isBlank({v}) || isLiteral({v}))",
    SH.IRIOrLiteral: "(isIRI({v}) || isLiteral({v}))",
}
# pyshacl's wording when a shape has no sh:message (only the components reproduced here).
GENERIC_MESSAGES = {
    SH.nodeKind: "Value is not of Node Kind {}",
    SH.datatype: "Value is not Literal with datatype {}",
    SH["class"]: "Value does not have class {}",
}
JOIN_BELOW = 10_000  # targets smaller than this are joined in the query, not filtered after
FOCUS_NODES = "#focus-nodes#"  # where a joined query lists the focus nodes (VALUES ?this { ... })
RANGES = {SH.minInclusive: ">=", SH.maxInclusive: "<=", SH.minExclusive: ">", SH.maxExclusive: "<"}
XSD_STRING = XSD.string


class Unsupported(Exception):
    """A shape uses a SHACL feature this compiler does not translate."""


@dataclass(frozen=True)
class CompiledCheck:
    """One SPARQL query and how to turn each of its rows into validation issues.

    `query` selects ?this and, by kind: "value" rows carry ?value and one boolean ?f<i> per
    entry of `components` (true where that component fails); "count" rows carry ?n, the number
    of values on the path; "missing" rows are focus nodes lacking something; "sparql" rows are
    the solutions of a SPARQL-based constraint.

    Most checks have two plans (`plan` picks one): `query` for large targets, which scans the
    path (its rows then filtered by `focus`) or subtracts it with MINUS, and `joined`, which
    starts from the focus nodes, for targets of fewer than JOIN_BELOW nodes (`target` counts
    them). A SPARQL constraint's `joined` lists those nodes where it says FOCUS_NODES.
    """

    kind: str
    query: str
    shape: str
    severity: str
    path: str | None
    messages: tuple[str, ...]
    components: tuple[tuple[str, tuple[str, ...]], ...] = ()
    min_count: int | None = None
    max_count: int | None = None
    node_shape: bool = False
    focus: str | None = None  # the query of the focus nodes rows must be among, if any
    joined: str | None = None  # the same check joined with its focus nodes, for small targets
    target: str | None = None  # the query of the focus nodes that decides between the two
    component: str | None = None  # "missing" rows: sh:minCount or sh:hasValue (local names)


# --- entry point ----------------------------------------------------------------------------


def validate_store_sparql(store: ox.Store, settings: Settings,
                          join_below: int = JOIN_BELOW) -> ValidationResult:
    """Validate every quad of `store` (named graphs merged) against ontology/shapes.ttl.

    Returns what `medkg.validation.validate_graph` returns for the same graph: the same issues,
    the same verdict, and a report graph rebuilt from the issues. `join_below` only trades
    speed (see `run_check`); the result does not depend on it.
    """
    shapes = shapes_graph(settings)
    checks, fallback = compile_shapes(shapes, store)
    focus = FocusCache(store, join_below)
    # a list, not a set: like pyshacl, two components failing alike give two equal issues
    issues: list[ValidationIssue] = []
    # pyoxigraph releases the GIL while it evaluates, so queries run in parallel on threads;
    # a focus set two threads compute at once is computed twice, never wrongly
    workers = max(1, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        plans = list(pool.map(lambda check: plan(check, focus), checks))
        # shapes that test the same path alike (rdfs:label of datasets and of counts) compile
        # to the same scan: it runs once, and each check filters the rows with its own focus
        shared: dict[str, list[tuple[CompiledCheck, str | None]]] = {}
        for check, (query, rows_focus) in zip(checks, plans, strict=True):
            shared.setdefault(query, []).append((check, rows_focus))
        for found in pool.map(lambda job: list(_shared_issues(store, *job, focus)),
                              shared.items()):
            issues.extend(found)
    if fallback:
        log.warning("shapes validated by pyshacl, not compiled to SPARQL: %s",
                    ", ".join(sorted(str(s) for s in fallback)))
        issues.extend(_fallback(store, shapes, fallback))
    ordered = sorted(issues, key=issue_order)
    conforms = not any(issue.severity == "Violation" for issue in ordered)
    return ValidationResult(conforms, ordered, _report_graph(conforms, ordered, settings))


def compile_shapes(shapes: rdflib.Graph,
                   store: ox.Store) -> tuple[list[CompiledCheck], list[Node]]:
    """Every check of every targeted shape, and the shapes left to pyshacl.

    Class targets and sh:class read the rdfs:subClassOf hierarchy the store holds (the ontology
    graph), resolved once here so queries name the classes instead of walking a path per node.
    """
    compiler = _Compiler(shapes, _SubclassCache(store))
    checks: list[CompiledCheck] = []
    fallback: list[Node] = []
    for shape in _targeted_shapes(shapes):
        try:
            checks.extend(compiler.shape_checks(shape))
        except Unsupported as exc:
            log.info("%s left to pyshacl: %s", shape, exc)
            fallback.append(shape)
    return checks, fallback


class FocusCache:
    """Focus nodes of focus queries, and whether a target is small, each queried once.

    Only a row that fails needs the set of focus nodes, so sets are built on demand: on a
    graph that conforms, the million datasets are never held in Python. Whether a target is
    small reads at most `join_below` of its nodes.
    """

    def __init__(self, store: ox.Store, join_below: int = JOIN_BELOW) -> None:
        self.store = store
        self.join_below = join_below
        self.sets: dict[str, set[ox.Term]] = {}
        self.small: dict[str, bool] = {}

    def nodes(self, focus: str) -> set[ox.Term]:
        """Every focus node of a focus query."""
        if focus not in self.sets:
            rows = self.store.query(focus, use_default_graph_as_union=True)
            self.sets[focus] = {row["this"] for row in rows}  # type: ignore[union-attr]
        return self.sets[focus]

    def is_small(self, focus: str) -> bool:
        """Whether a focus query has fewer than `join_below` nodes (it stops reading there)."""
        if focus in self.sets:
            return len(self.sets[focus]) < self.join_below
        if focus not in self.small:
            rows = self.store.query(f"{focus}\nLIMIT {self.join_below}",
                                    use_default_graph_as_union=True)
            first = {row["this"] for row in rows}  # type: ignore[union-attr]
            self.small[focus] = len(first) < self.join_below
            if self.small[focus]:  # all of them: keep them
                self.sets[focus] = first
        return self.small[focus]


def plan(check: CompiledCheck, focus: FocusCache) -> tuple[str, str | None]:
    """The query to run for a check, and the focus query its rows must be filtered by, if any.

    A check scans its path (keeping rows whose ?this is a focus node, or subtracting the path
    from all focus nodes with MINUS), unless its target has fewer than `join_below` focus
    nodes: then the query starting from them is cheaper (the path may be shared with a million
    datasets, as dcterms:title and rdfs:label are).
    """
    if check.joined is None or check.target is None or not focus.is_small(check.target):
        return check.query, check.focus
    if FOCUS_NODES not in check.joined:
        return check.joined, None
    nodes = focus.nodes(check.target)
    if any(isinstance(node, ox.BlankNode) for node in nodes):  # a query cannot name one
        return check.query, check.focus
    # str() of an Oxigraph term is its N-Triples form, which SPARQL reads as is
    return check.joined.replace(FOCUS_NODES, " ".join(sorted(map(str, nodes)))), None


def run_check(store: ox.Store, check: CompiledCheck,
              focus: FocusCache | None = None) -> Iterator[ValidationIssue]:
    """Run one compiled check over the union of the store's graphs; its issues."""
    focus = FocusCache(store) if focus is None else focus
    query, rows_focus = plan(check, focus)
    yield from _shared_issues(store, query, [(check, rows_focus)], focus)


def _shared_issues(store: ox.Store, query: str,
                   checks: list[tuple[CompiledCheck, str | None]],
                   focus: FocusCache) -> Iterator[ValidationIssue]:
    """Run one query and turn its rows into the issues of every check that shares it."""
    result = store.query(query, use_default_graph_as_union=True)
    names = [variable.value for variable in result.variables]  # type: ignore[union-attr]
    rows = list(result)  # type: ignore[arg-type]  # rows are failures: few
    for check, rows_focus in checks:
        for row in rows:
            if rows_focus is not None and row["this"] not in focus.nodes(rows_focus):
                continue
            yield from _ROW_HANDLERS[check.kind](check, row, names)


class _SubclassCache:
    """A class and its subclasses (rdfs:subClassOf*, from the store), looked up once each."""

    def __init__(self, store: ox.Store) -> None:
        self.store = store
        self.known: dict[Node, list[Node]] = {}

    def __call__(self, cls: Node) -> list[Node]:
        if cls not in self.known:
            query = (f"SELECT DISTINCT ?c WHERE {{ ?c <{RDFS.subClassOf}>* <{cls}> }}")
            rows = self.store.query(query, use_default_graph_as_union=True)
            found = {URIRef(row["c"].value) for row in rows  # type: ignore[union-attr]
                     if isinstance(row["c"], ox.NamedNode)}
            self.known[cls] = sorted(found | {URIRef(str(cls))}, key=str)
        return self.known[cls]


# --- which shapes run -----------------------------------------------------------------------


def _targeted_shapes(shapes: rdflib.Graph) -> list[Node]:
    """Shapes with a target of their own (explicit or implicit class target), not deactivated."""
    found: set[Node] = set()
    for predicate in (SH.targetClass, SH.targetNode, SH.targetSubjectsOf, SH.targetObjectsOf,
                      SH.target):
        found.update(shapes.subjects(predicate, None))
    for shape_type in (SH.NodeShape, SH.PropertyShape):
        for shape in shapes.subjects(RDF.type, shape_type):
            if (shape, RDF.type, RDFS.Class) in shapes:
                found.add(shape)
    return sorted((s for s in found if not _deactivated(shapes, s)), key=str)


def _deactivated(shapes: rdflib.Graph, shape: Node) -> bool:
    value = shapes.value(shape, SH.deactivated)
    return isinstance(value, Literal) and value.toPython() is True


# --- the compiler ---------------------------------------------------------------------------


class _Compiler:
    """Turns shapes of one shapes graph into CompiledChecks."""

    def __init__(self, shapes: rdflib.Graph, subclasses: Callable[[Node], list[Node]]) -> None:
        self.shapes = shapes
        self.subclasses = subclasses
        self.prologue = self._prologue()
        self._fresh = 0

    # -- shapes

    def shape_checks(self, shape: Node) -> list[CompiledCheck]:
        """The checks of one targeted shape: its own constraints and its property shapes'."""
        focus = self.focus_pattern(shape)
        checks = self.constraint_checks(shape, focus)
        for prop in self.shapes.objects(shape, SH.property):
            if not _deactivated(self.shapes, prop):
                checks.extend(self.constraint_checks(prop, focus))
        return checks

    def constraint_checks(self, shape: Node, focus: str) -> list[CompiledCheck]:
        """Checks of the constraints stated on `shape` itself, for focus nodes matched by `focus`."""
        self._refuse_unknown_terms(shape)
        path_node = self.shapes.value(shape, SH.path)
        is_node = path_node is None
        if not is_node and any(True for _ in self.shapes.objects(shape, SH.property)):
            raise Unsupported("sh:property on a property shape")
        path = None if is_node else self.path_sparql(path_node)
        base = {"shape": shape_name(self.shapes, shape),
                    "severity": _local(self.shapes.value(shape, SH.severity) or SH.Violation),
                    "path": None if is_node else path_text(self.shapes, path_node),
                    "messages": self.messages(shape), "node_shape": is_node}
        checks: list[CompiledCheck] = []
        components = self.value_components(shape, "?value", with_class=False)
        if components:
            checks.append(self.value_check(focus, path, components, base))
        for cls in self.shapes.objects(shape, SH["class"]):
            checks.append(self.class_check(cls, focus, path, base))
        checks.extend(self.focus_checks(shape, focus, path, base))
        for constraint in self.shapes.objects(shape, SH.sparql):
            if not _deactivated(self.shapes, constraint):
                checks.append(self.sparql_check(shape, constraint, focus, path_node, base))
        return checks

    def value_check(self, focus: str, path: str | None, components: list[tuple[str, str, str]],
                    base: dict) -> CompiledCheck:
        """One query flagging, per value node, which value components fail."""
        binds = "\n".join(f"  BIND (COALESCE({expr}, true) AS ?f{i})"
                          for i, (_name, expr, _msg) in enumerate(components))
        flags = " ".join(f"?f{i}" for i in range(len(components)))
        any_flag = " || ".join(f"?f{i}" for i in range(len(components)))
        body = f"{binds}\n  FILTER ({any_flag})\n}}"
        head = f"{self.prologue}SELECT DISTINCT ?this ?value {flags} WHERE {{\n"
        query = f"{head}{self.values_pattern(focus, path)}\n{body}"
        joined = None if path is None else f"{head}{focus}\n  ?this {path} ?value .\n{body}"
        messages = base["messages"]
        if not messages and not all(msg for _name, _expr, msg in components):
            raise Unsupported("a value constraint without sh:message whose generic one is not known")
        named = tuple((name, messages or (msg,)) for name, _expr, msg in components)
        target = None if path is None else self.focus_query(focus)
        return CompiledCheck(kind="value", query=query, components=named, joined=joined,
                             focus=target, target=target, **base)

    def class_check(self, cls: Node, focus: str, path: str | None, base: dict) -> CompiledCheck:
        """sh:class as MINUS (a hash join: far faster than NOT EXISTS per value in Oxigraph)."""
        message = GENERIC_MESSAGES[SH["class"]].format(self.stringify(cls))
        instances = " UNION ".join(f"{{ ?value rdf:type {_sparql_term(c)} }}"
                                   for c in self.subclasses(cls))
        head = f"{self.prologue}SELECT DISTINCT ?this ?value (true AS ?f0) WHERE {{\n"
        body = f"  MINUS {{ {instances} }}\n}}"
        query = f"{head}{self.values_pattern(focus, path)}\n{body}"
        joined = None if path is None else f"{head}{focus}\n  ?this {path} ?value .\n{body}"
        target = None if path is None else self.focus_query(focus)
        return CompiledCheck(kind="value", query=query, joined=joined,
                             components=(("class", base["messages"] or (message,)),),
                             focus=target, target=target, **base)

    def focus_query(self, focus: str) -> str:
        """The query selecting every focus node of a focus pattern."""
        return f"{self.prologue}SELECT DISTINCT ?this WHERE {{\n{focus}\n}}"

    @staticmethod
    def values_pattern(focus: str, path: str | None) -> str:
        """Value nodes as ?value: the focus itself for a node shape, else every ?this PATH ?value.

        A property shape's query does not join with its focus nodes (that join costs an index
        look-up per value): rows come from the path alone and are kept when ?this is a focus
        node (`CompiledCheck.focus`), which only rows that fail need.
        """
        if path is None:
            return f"{focus}\n  BIND (?this AS ?value)"
        return f"  ?this {path} ?value ."
    def focus_checks(self, shape: Node, focus: str, path: str | None,
                     base: dict) -> list[CompiledCheck]:
        """sh:minCount, sh:maxCount and sh:hasValue: one result per failing focus node.

        Each has a joined form for small targets: MINUS reads the whole path, which for a
        handful of focus nodes costs far more than FILTER NOT EXISTS per node (one look-up).
        """
        checks = []
        target = self.focus_query(focus)
        low = _integer(self.shapes.value(shape, SH.minCount))
        high = _integer(self.shapes.value(shape, SH.maxCount))
        if (low is not None or high is not None) and path is None:
            raise Unsupported("sh:minCount / sh:maxCount on a node shape")
        if low is not None or high is not None:
            self._need_message(base)
            if low in (None, 1):
                if low == 1:
                    checks.append(self.missing_check(focus, f"?this {path} ?any", base,
                                                     "minCount"))
                if high is not None:
                    head = f"{self.prologue}SELECT ?this (COUNT(DISTINCT ?v) AS ?n) WHERE {{\n"
                    tail = (f"  ?this {path} ?v\n}} GROUP BY ?this "
                            f"HAVING (COUNT(DISTINCT ?v) > {high})")
                    checks.append(CompiledCheck(kind="count", query=head + tail, max_count=high,
                                                focus=target, joined=f"{head}{focus}\n{tail}",
                                                target=target, **base))
            else:
                # HAVING cannot name a SELECT alias: it repeats the aggregate
                having = " || ".join(
                    ([f"COUNT(DISTINCT ?v) < {low}"] if low is not None else [])
                    + ([f"COUNT(DISTINCT ?v) > {high}"] if high is not None else []))
                query = (f"{self.prologue}SELECT ?this (COUNT(DISTINCT ?v) AS ?n) WHERE {{\n"
                         f"{focus}\n  OPTIONAL {{ ?this {path} ?v }}\n}} GROUP BY ?this "
                         f"HAVING ({having})")
                checks.append(CompiledCheck(kind="count", query=query, min_count=low,
                                            max_count=high, **base))
        for expected in self.shapes.objects(shape, SH.hasValue):
            self._need_message(base)
            term = _sparql_term(expected)
            if path is None:
                query = (f"{self.prologue}SELECT DISTINCT ?this WHERE {{\n{focus}\n"
                         f"  FILTER (!sameTerm(?this, {term}))\n}}")
                checks.append(CompiledCheck(kind="missing", query=query, component="hasValue",
                                            **base))
            else:
                checks.append(self.missing_check(focus, f"?this {path} {term}", base,
                                                 "hasValue"))
        return checks

    def missing_check(self, focus: str, pattern: str, base: dict, component: str) -> CompiledCheck:
        """Focus nodes that do not match `pattern`: MINUS, or NOT EXISTS for small targets."""
        head = f"{self.prologue}SELECT DISTINCT ?this WHERE {{\n{focus}\n"
        return CompiledCheck(kind="missing", query=f"{head}  MINUS {{ {pattern} }}\n}}",
                             joined=f"{head}  FILTER NOT EXISTS {{ {pattern} }}\n}}",
                             target=self.focus_query(focus), component=component, **base)

    def sparql_check(self, shape: Node, constraint: Node, focus: str, path_node: Node | None,
                     base: dict) -> CompiledCheck:
        """A SPARQL-based constraint: its SELECT joined with the shape's focus nodes."""
        self._refuse_unknown_terms(constraint, allowed={SH.select, SH.prefixes, SH.message,
                                                           SH.deactivated})
        select = self.shapes.value(constraint, SH.select)
        if select is None:
            raise Unsupported("sh:sparql without sh:select")
        text = re.sub(r"\$this\b", "?this", str(select))
        if path_node is not None:
            text = re.sub(r"\$PATH\b", self.path_sparql(path_node), text)
        if re.search(r"\$(?!this\b)\w+", text) or re.search(r"\$PATH", text):
            raise Unsupported("a pre-bound variable other than $this and $PATH")
        projection = re.search(r"SELECT\s+(.*?)\s+WHERE", text, re.IGNORECASE | re.DOTALL)
        if projection is None or not re.search(r"(\?this\b|\*)", projection.group(1)):
            raise Unsupported("a SPARQL constraint whose SELECT does not project $this")
        # the focus nodes go first inside the constraint's own WHERE, so it runs only for them:
        # as a subquery, or for a small target listed by value, as pyshacl binds $this to each
        # (the store then cannot evaluate the constraint's own patterns first, on every node)
        def focused(pattern: str) -> str:
            inner = re.sub(r"WHERE\s*\{", lambda _m: f"WHERE {{ {pattern}\n", text, count=1,
                           flags=re.IGNORECASE)
            return f"{self.prologue}SELECT DISTINCT * WHERE {{ {{ {inner} }} }}"

        messages = tuple(sorted({*base["messages"], *self.messages(constraint)}))
        return CompiledCheck(kind="sparql",
                             query=focused(f"{{ SELECT DISTINCT ?this WHERE {{\n{focus}\n  }} }}"),
                             joined=focused(f"VALUES ?this {{ {FOCUS_NODES} }}"),
                             target=self.focus_query(focus), **{**base, "messages": messages})

    # -- value components: SPARQL expressions true when a value node fails

    def value_components(self, shape: Node, v: str,
                         with_class: bool = True) -> list[tuple[str, str, str]]:
        """(component, failure expression over `v`, generic message) for each value constraint."""
        g = self.shapes
        found: list[tuple[str, str, str]] = []

        def add(name: str, expr: str, param: Node | None = None) -> None:
            template = GENERIC_MESSAGES.get(SH[name])
            message = template.format(self.stringify(param)) if template and param else ""
            found.append((name, expr, message))

        for dt in g.objects(shape, SH.datatype):
            add("datatype", self.datatype_failure(dt, v), dt)
        for cls in g.objects(shape, SH["class"]) if with_class else ():
            types = ", ".join(_sparql_term(c) for c in self.subclasses(cls))
            add("class", f"NOT EXISTS {{ {v} rdf:type ?type FILTER (?type IN ({types})) }}", cls)
        for kind in g.objects(shape, SH.nodeKind):
            if kind not in NODE_KINDS:
                raise Unsupported(f"sh:nodeKind {kind}")
            add("nodeKind", "!" + NODE_KINDS[kind].format(v=v), kind)
        for members in g.objects(shape, SH["in"]):
            tests = " || ".join(f"sameTerm({v}, {_sparql_term(m)})" for m in Collection(g, members))
            add("in", f"!({tests or 'false'})")
        for pattern in g.objects(shape, SH.pattern):
            flags = g.value(shape, SH.flags)
            args = f"{_string(str(pattern))}" + (f", {_string(str(flags))}" if flags else "")
            add("pattern", f"(isBlank({v}) || !REGEX(STR({v}), {args}))")
        for languages in g.objects(shape, SH.languageIn):
            tests = " || ".join(f"langMatches(LANG({v}), {_string(str(tag))})"
                                for tag in Collection(g, languages))
            add("languageIn", f"(!isLiteral({v}) || !({tests or 'false'}))")
        for predicate, op in RANGES.items():
            for bound in g.objects(shape, predicate):
                add(_local(predicate),
                    f"(!isLiteral({v}) || !COALESCE({v} {op} {_sparql_term(bound)}, false))")
        for predicate, op in ((SH.minLength, "<"), (SH.maxLength, ">")):
            for bound in g.objects(shape, predicate):
                add(_local(predicate), f"(isBlank({v}) || STRLEN(STR({v})) {op} {int(bound)})")
        for members in g.objects(shape, SH["or"]):
            tests = " || ".join(f"!({self.failure(m, v)})" for m in Collection(g, members))
            add("or", f"!({tests or 'false'})")
        return found

    def datatype_failure(self, datatype: Node, v: str) -> str:
        """A value fails sh:datatype unless it is a literal of that type, well formed."""
        if datatype == RDF.langString:
            return f"(!isLiteral({v}) || LANG({v}) = \"\")"
        if datatype == XSD_STRING:
            # only a plain string is its own STR(): as exact as DATATYPE(v) != xsd:string, and
            # about 3x cheaper in Oxigraph, which builds the datatype IRI anew for every value
            return f"!COALESCE(sameTerm({v}, STR({v})), false)"
        term = _sparql_term(datatype)
        test = f"(!isLiteral({v}) || DATATYPE({v}) != {term}"
        if datatype in CASTABLE:
            test += f" || !COALESCE(sameTerm(DATATYPE({term}(STR({v}))), {term}), false)"
        return test + ")"

    def failure(self, shape: Node, v: str) -> str:
        """An expression true when node `v` does not conform to `shape` (a member of sh:or)."""
        self._refuse_unknown_terms(shape)
        if any(True for _ in self.shapes.objects(shape, SH.property)) or \
                any(True for _ in self.shapes.objects(shape, SH.sparql)):
            raise Unsupported("sh:property or sh:sparql inside sh:or")
        path_node = self.shapes.value(shape, SH.path)
        tests = []
        if path_node is None:
            tests += [expr for _n, expr, _m in self.value_components(shape, v)]
            if any(True for _ in self.shapes.objects(shape, SH.hasValue)):
                raise Unsupported("sh:hasValue inside sh:or")
        else:
            path = self.path_sparql(path_node)
            x = self.fresh()
            value_tests = [expr for _n, expr, _m in self.value_components(shape, x)]
            if value_tests:
                failing = " || ".join(f"COALESCE({t}, true)" for t in value_tests)
                tests.append(f"EXISTS {{ {v} {path} {x} FILTER ({failing}) }}")
            tests += self.count_failures(shape, v, path)
        if not tests:
            return "false"
        return " || ".join(f"COALESCE({t}, true)" for t in tests)

    def count_failures(self, shape: Node, v: str, path: str) -> list[str]:
        """sh:minCount 1 and sh:maxCount 0 inside sh:or, as expressions (others unsupported)."""
        tests = []
        low = _integer(self.shapes.value(shape, SH.minCount))
        high = _integer(self.shapes.value(shape, SH.maxCount))
        if low not in (None, 0, 1) or high not in (None, 0):
            raise Unsupported("counts other than sh:minCount 1 / sh:maxCount 0 inside sh:or")
        if any(True for _ in self.shapes.objects(shape, SH.hasValue)):
            raise Unsupported("sh:hasValue inside sh:or")
        if low == 1:
            tests.append(f"NOT EXISTS {{ {v} {path} {self.fresh()} }}")
        if high == 0:
            tests.append(f"EXISTS {{ {v} {path} {self.fresh()} }}")
        return tests

    # -- targets and paths

    def focus_pattern(self, shape: Node) -> str:
        """A group graph pattern binding ?this to every focus node of `shape`."""
        g = self.shapes
        parts = []
        classes = list(g.objects(shape, SH.targetClass))
        if (shape, RDF.type, RDFS.Class) in g:
            classes.append(shape)
        parts += [f"?this rdf:type {_sparql_term(sub)} ."
                  for c in classes for sub in self.subclasses(c)]
        parts += [f"VALUES ?this {{ {_sparql_term(n)} }}" for n in g.objects(shape, SH.targetNode)]
        parts += [f"?this {_sparql_term(p)} [] ." for p in g.objects(shape, SH.targetSubjectsOf)]
        parts += [f"[] {_sparql_term(p)} ?this ." for p in g.objects(shape, SH.targetObjectsOf)]
        for target in g.objects(shape, SH.target):
            select = g.value(target, SH.select)
            if select is None:
                raise Unsupported("a sh:target that is not a SPARQL-based target")
            parts.append(f"{{ {select} }}")
        if not parts:
            raise Unsupported("no target")
        if len(parts) == 1:
            return "  " + parts[0]
        return "  " + " UNION ".join(f"{{ {p} }}" for p in parts)

    def path_sparql(self, path: Node) -> str:
        """A SHACL path as a SPARQL property path."""
        g = self.shapes
        if isinstance(path, URIRef):
            return _sparql_term(path)
        if g.value(path, RDF.first) is not None:
            return "(" + "/".join(self.path_sparql(step) for step in Collection(g, path)) + ")"
        unary = {SH.inversePath: "^{}", SH.zeroOrMorePath: "{}*", SH.oneOrMorePath: "{}+",
                 SH.zeroOrOnePath: "{}?"}
        for predicate, template in unary.items():
            inner = g.value(path, predicate)
            if inner is not None:
                return "(" + template.format(self.path_sparql(inner)) + ")"
        alternatives = g.value(path, SH.alternativePath)
        if alternatives is not None:
            return "(" + "|".join(self.path_sparql(p) for p in Collection(g, alternatives)) + ")"
        raise Unsupported(f"path {path}")

    # -- helpers

    def messages(self, node: Node) -> tuple[str, ...]:
        return tuple(sorted({str(m) for m in self.shapes.objects(node, SH.message)}))

    def stringify(self, node: Node) -> str:
        """A shapes-graph term as pyshacl writes it in generic messages (prefixed name)."""
        manager = self.shapes.namespace_manager
        manager.bind("sh", SH, override=False, replace=False)
        if isinstance(node, URIRef):
            return node.n3(namespace_manager=manager)
        raise Unsupported(f"a generic message naming {node!r}")

    def fresh(self) -> str:
        self._fresh += 1
        return f"?x{self._fresh}"

    def _need_message(self, base: dict) -> None:
        if not base["messages"]:
            raise Unsupported("a count or sh:hasValue constraint without sh:message")

    def _refuse_unknown_terms(self, node: Node, allowed: set[Node] | None = None) -> None:
        for predicate in set(self.shapes.predicates(node, None)):
            if str(predicate).startswith(str(SH)) and predicate not in (allowed or KNOWN_TERMS):
                raise Unsupported(f"{predicate} is not compiled")

    def _prologue(self) -> str:
        """PREFIX lines: rdf, rdfs, xsd and every sh:declare of the shapes graph."""
        prefixes = {"rdf": str(RDF), "rdfs": str(RDFS), "xsd": str(XSD)}
        for declaration in self.shapes.objects(None, SH.declare):
            prefix = self.shapes.value(declaration, SH.prefix)
            namespace = self.shapes.value(declaration, SH.namespace)
            if prefix is not None and namespace is not None:
                prefixes[str(prefix)] = str(namespace)
        return "".join(f"PREFIX {p}: <{ns}>\n" for p, ns in sorted(prefixes.items()))


# --- rows to issues -------------------------------------------------------------------------


def _value_rows(check: CompiledCheck, row: ox.QuerySolution, names: list[str]) -> Iterator[ValidationIssue]:
    for i, (name, messages) in enumerate(check.components):
        flag = row[f"f{i}"]
        if flag is not None and flag.value == "true":
            yield _issue(check, row["this"], row["value"], messages, name)


def _count_rows(check: CompiledCheck, row: ox.QuerySolution, names: list[str]) -> Iterator[ValidationIssue]:
    count = int(row["n"].value)
    if check.min_count is not None and count < check.min_count:
        yield _issue(check, row["this"], None, check.messages, "minCount")
    if check.max_count is not None and count > check.max_count:
        yield _issue(check, row["this"], None, check.messages, "maxCount")


def _missing_rows(check: CompiledCheck, row: ox.QuerySolution, names: list[str]) -> Iterator[ValidationIssue]:
    yield _issue(check, row["this"], None, check.messages, check.component)


def _sparql_rows(check: CompiledCheck, row: ox.QuerySolution, names: list[str]) -> Iterator[ValidationIssue]:
    """Like pyshacl: ?path and ?value when bound, messages filled in from the row's bindings."""
    this = row["this"]
    value = row["value"]
    if value is None and check.node_shape:
        value = this
    path = row["path"]
    path_text = path.value if isinstance(path, ox.NamedNode) else check.path
    bindings = {name: _to_rdflib(row[name]) for name in names if row[name] is not None}
    bindings.update({"this": _to_rdflib(this)})
    if value is not None:
        bindings["value"] = _to_rdflib(value)
    messages = tuple(_fill(message, bindings) for message in check.messages)
    issue = _issue(check, this, value, messages, "SPARQL")
    yield ValidationIssue(issue.severity, issue.focus, path_text, issue.value, issue.message,
                          issue.shape, issue.component)


RowHandler = Callable[[CompiledCheck, ox.QuerySolution, list[str]], Iterator[ValidationIssue]]
_ROW_HANDLERS: dict[str, RowHandler] = {
    "value": _value_rows, "count": _count_rows, "missing": _missing_rows, "sparql": _sparql_rows,
}


def _fill(message: str, bindings: dict[str, Node]) -> str:
    """pyshacl's substitution of {?var} and {$var} in SPARQL constraint messages."""
    for var, value in bindings.items():
        message = re.sub(f"{{[?$]{var}}}", str(value), message)
    return message


def _issue(check: CompiledCheck, focus: ox.Term, value: ox.Term | None,
           messages: tuple[str, ...], parameter: str | None) -> ValidationIssue:
    return ValidationIssue(
        severity=check.severity,
        focus=_focus_text(focus),
        path=check.path,
        value=_to_rdflib(value).n3() if value is not None else None,
        message="; ".join(sorted(set(messages))) or "(no message)",
        shape=check.shape,
        component=component_iri(parameter) if parameter else None,
    )


def component_iri(parameter: str) -> str:
    """The constraint component of a SHACL parameter: sh:minCount -> sh:MinCountConstraintComponent.

    SHACL names each core component after its parameter this way; "SPARQL" gives
    sh:SPARQLConstraintComponent, the component of sh:sparql constraints.
    """
    return f"{SH}{parameter[0].upper()}{parameter[1:]}ConstraintComponent"


def _focus_text(node: ox.Term) -> str:
    if isinstance(node, ox.BlankNode):
        return f"_:{node.value}"
    return node.value


def _to_rdflib(term: ox.Term) -> Node:
    """An Oxigraph term as the rdflib term pyshacl would report (xsd:string as a plain literal)."""
    if isinstance(term, ox.NamedNode):
        return URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return BNode(term.value)
    if term.language:
        return Literal(term.value, lang=term.language)
    if term.datatype.value == str(XSD_STRING):
        return Literal(term.value)
    return Literal(term.value, datatype=URIRef(term.datatype.value))


# --- SPARQL text ----------------------------------------------------------------------------


def _sparql_term(term: Node) -> str:
    """A term of the shapes graph written in SPARQL."""
    if isinstance(term, URIRef):
        return f"<{term}>"
    if isinstance(term, Literal):
        if term.language:
            return f"{_string(str(term))}@{term.language}"
        if term.datatype is not None and term.datatype != XSD_STRING:
            return f"{_string(str(term))}^^<{term.datatype}>"
        return _string(str(term))
    raise Unsupported(f"a blank node {term!r} as a constraint parameter")


def _string(text: str) -> str:
    escaped = (text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
               .replace("\r", "\\r"))
    return f'"{escaped}"'


def _integer(node: Node | None) -> int | None:
    return int(node) if node is not None else None


def _local(iri: Node) -> str:
    return re.split(r"[#/]", str(iri))[-1]


# --- fallback and report --------------------------------------------------------------------


def _fallback(store: ox.Store, shapes: rdflib.Graph, kept: list[Node]) -> list[ValidationIssue]:
    """pyshacl with only the shapes the compiler left, over the store's union graph."""
    subset = rdflib.Graph()
    for prefix, namespace in shapes.namespaces():
        subset.bind(prefix, namespace)
    for shape in kept:
        subset += shapes.cbd(shape)
    for declaration in shapes.subjects(SH.declare, None):  # sh:prefixes of SPARQL parts
        subset += shapes.cbd(declaration)
    data = rdflib.Graph()
    text = ox.serialize((ox.Triple(q.subject, q.predicate, q.object) for q in store),
                        format=ox.RdfFormat.N_TRIPLES)
    data.parse(data=text, format="nt")
    _conforms, report, _text = pyshacl.validate(
        data, shacl_graph=subset, inference="none", allow_warnings=True, allow_infos=True,
        advanced=True, inplace=True)
    if not isinstance(report, rdflib.Graph):
        raise ShapesError(f"pyshacl cannot run ontology/shapes.ttl: {report}")
    return list(issues_from_report(report, shapes))


def _report_graph(conforms: bool, issues: list[ValidationIssue], settings: Settings) -> rdflib.Graph:
    """A standard sh:ValidationReport rebuilt from the issues (as the batched path does)."""
    from medkg.batch_validation import _report_graph as rebuild  # one implementation of it

    graph = rebuild(conforms, issues, settings)
    bind_prefixes(graph, settings)
    return graph
