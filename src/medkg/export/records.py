"""Read the built store into one plain record per dataset, for the exporters that flatten it.

A dataset's facts live in the graph of each list that mentions it (ontology/README.md); a record
gathers them across lists, keeping which list said what where lists may disagree (dates, counts).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

import pyoxigraph as ox

from medkg.namespaces import DCAT, DCTERMS, FOAF, PROV, RDF, RDFS, SCHEMA, SKOS, Namespaces


@dataclass(frozen=True)
class Concept:
    """A vocabulary concept a dataset points at (organ, modality, stain, task)."""

    iri: str
    label: str
    scheme: str | None = None
    notation: str | None = None
    matches: tuple[str, ...] = ()


@dataclass(frozen=True)
class Challenge:
    iri: str
    label: str
    year: str | None = None


@dataclass(frozen=True)
class Count:
    value: str
    unit: str
    text: str
    source: str
    split: str | None = None  # the part of the data counted ("train"); None: the whole

    @property
    def said(self) -> str:
        """'27 images', or '27 images, train split' for a count of one part."""
        return f"{self.value} {self.unit}" + (f", {self.split} split" if self.split else "")


@dataclass(frozen=True)
class Dated:
    """A date as one list gives it, with its precision kept (`datatype` is the XSD type IRI)."""

    value: str
    datatype: str
    source: str


@dataclass(frozen=True)
class SourceList:
    iri: str
    source_id: str
    title: str
    license: str | None = None


@dataclass
class DatasetRecord:
    """Everything the lists say about one merged dataset."""

    iri: str
    title: str
    mention_count: int | None = None
    alt_names: list[str] = field(default_factory=list)
    descriptions: list[str] = field(default_factory=list)
    landing_pages: list[str] = field(default_factory=list)
    papers: list[str] = field(default_factory=list)
    code_repositories: list[str] = field(default_factory=list)
    dois: list[str] = field(default_factory=list)
    citations: list[str] = field(default_factory=list)
    dimensions: list[str] = field(default_factory=list)
    magnifications: list[str] = field(default_factory=list)
    scanners: list[str] = field(default_factory=list)
    issued: list[Dated] = field(default_factory=list)
    counts: list[Count] = field(default_factory=list)
    organs: list[Concept] = field(default_factory=list)
    modalities: list[Concept] = field(default_factory=list)
    stains: list[Concept] = field(default_factory=list)
    tasks: list[Concept] = field(default_factory=list)
    challenges: list[Challenge] = field(default_factory=list)
    sources: list[SourceList] = field(default_factory=list)

    @property
    def slug(self) -> str:
        return self.iri.rstrip("/").rsplit("/", 1)[-1]

    @property
    def years(self) -> list[str]:
        """Distinct issued years, oldest first."""
        return sorted({d.value[:4] for d in self.issued})

    @property
    def earliest_issued(self) -> Dated | None:
        return min(self.issued, key=lambda d: d.value, default=None)


@dataclass
class Catalogue:
    """The catalogue node and its datasets, as read from the store."""

    iri: str
    title: str | None
    description: str | None
    publisher: str | None
    publisher_name: str | None
    license: str | None
    theme_taxonomies: list[str]
    datasets: list[DatasetRecord] | DatasetStream
    sources: list[SourceList]


def _select(
    store: ox.Store, query: str
) -> list[dict[str, ox.NamedNode | ox.Literal | ox.BlankNode]]:
    """Run a SELECT over the union of all graphs; one dict per solution, unbound names left out."""
    solutions = store.query(query, use_default_graph_as_union=True)
    names = [v.value for v in solutions.variables]  # type: ignore[union-attr]
    rows = []
    for solution in solutions:  # type: ignore[union-attr]
        rows.append({n: solution[n] for n in names if solution[n] is not None})
    return rows


def _add(values: list, value: object) -> None:
    """Append keeping first-seen order and no duplicates (several lists often say the same)."""
    if value not in values:
        values.append(value)


def read_sources(store: ox.Store, ns: Namespaces) -> dict[str, SourceList]:
    rows = _select(
        store,
        f"""SELECT ?s ?title ?license WHERE {{
              GRAPH <{ns.graph('catalogue')}> {{
                ?s a <{ns.term('SourceList')}> .
                OPTIONAL {{ ?s <{DCTERMS}title> ?title }}
                OPTIONAL {{ ?s <{DCTERMS}license> ?license }} }} }} ORDER BY ?s""",
    )
    prefix = ns.source("")
    sources = {}
    for row in rows:
        iri = row["s"].value
        title = row["title"].value if "title" in row else iri
        license_ = row["license"].value if "license" in row else None
        sources[iri] = SourceList(iri, iri.removeprefix(prefix), title, license_)
    return sources


def read_concepts(store: ox.Store, ns: Namespaces) -> dict[str, Concept]:
    """Every concept of the vocabulary graph with its English label and external matches."""
    rows = _select(
        store,
        f"""SELECT ?c ?label ?scheme ?notation ?match WHERE {{
              GRAPH <{ns.graph('vocabulary')}> {{
                ?c <{SKOS}prefLabel> ?label .
                OPTIONAL {{ ?c <{SKOS}inScheme> ?scheme }}
                OPTIONAL {{ ?c <{SKOS}notation> ?notation }}
                OPTIONAL {{ ?c <{SKOS}exactMatch>|<{SKOS}closeMatch> ?match }} }} }}""",
    )
    labels: dict[str, str] = {}
    schemes: dict[str, str] = {}
    notations: dict[str, str] = {}
    matches: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        iri = row["c"].value
        labels.setdefault(iri, row["label"].value)
        if "scheme" in row:
            schemes.setdefault(iri, row["scheme"].value)
        if "notation" in row:
            notations.setdefault(iri, row["notation"].value)
        if "match" in row:
            _add(matches[iri], row["match"].value)
    return {
        iri: Concept(iri, label, schemes.get(iri), notations.get(iri), tuple(sorted(matches[iri])))
        for iri, label in labels.items()
    }


def read_challenges(store: ox.Store, ns: Namespaces) -> dict[str, Challenge]:
    rows = _select(
        store,
        f"""SELECT ?c ?label ?year WHERE {{
              GRAPH <{ns.graph('catalogue')}> {{
                ?c a <{ns.term('Challenge')}> ; <{RDFS}label> ?label .
                OPTIONAL {{ ?c <{ns.term('year')}> ?year }} }} }}""",
    )
    return {
        r["c"].value: Challenge(
            r["c"].value, r["label"].value, r["year"].value if "year" in r else None
        )
        for r in rows
    }


def _read_count(
    store: ox.Store, ns: Namespaces, node: ox.NamedNode | ox.BlankNode
) -> Count | None:
    """The size record `node` (an `mkg:Count` with a value and a unit), from the list saying it."""
    facts: dict[str, str] = {}
    types: set[str] = set()
    graph: ox.NamedNode | None = None
    for quad in store.quads_for_pattern(node, None, None, None):
        if not isinstance(quad.graph_name, ox.NamedNode):
            continue
        graph = graph or quad.graph_name
        if quad.graph_name != graph:
            continue  # a size record is one list's
        if quad.predicate.value == f"{RDF}type":
            types.add(quad.object.value)
        facts.setdefault(quad.predicate.value, quad.object.value)
    counted = (f"{RDF}value", ns.term("unit"))
    if graph is None or ns.term("Count") not in types or not all(p in facts for p in counted):
        return None
    value, unit = facts[f"{RDF}value"], facts[ns.term("unit")]
    return Count(_plain_number(value), unit, facts.get(f"{RDFS}label", f"{value} {unit}"),
                 graph.value.removeprefix(ns.source_graph("")), facts.get(ns.term("split")))


def _plain_number(lexical: str) -> str:
    """'399.0' -> '399': counts are decimals in RDF but mostly whole numbers to a reader."""
    if "." in lexical:
        whole, _, fraction = lexical.partition(".")
        if fraction.strip("0") == "":
            return whole
    return lexical


def read_catalogue(
    store: ox.Store, ns: Namespaces, with_datasets: bool = True, streamed: bool = False
) -> Catalogue:
    """The catalogue node, its source lists and every dataset, sorted by IRI.

    `with_datasets=False` reads the catalogue's own facts only (title, licence, ...): reading
    every dataset costs about 2 s per 1,000 of them. `streamed=True` gives the datasets as a
    `DatasetStream`, read one at a time while a writer goes through them, so an export holds
    one dataset in memory and not the whole catalogue.
    """
    sources = read_sources(store, ns)
    datasets: list[DatasetRecord] | DatasetStream = []
    if with_datasets:
        datasets = DatasetStream(store, ns, sources) if streamed else read_datasets(store, ns,
                                                                                   sources)
    rows = _select(
        store,
        f"""SELECT ?p ?o WHERE {{
              GRAPH <{ns.graph('catalogue')}> {{ <{ns.catalogue}> ?p ?o }} }}""",
    )
    facts: dict[str, list[str]] = defaultdict(list)
    for r in rows:
        facts[r["p"].value].append(r["o"].value)

    def first(predicate: str) -> str | None:
        return facts[predicate][0] if facts.get(predicate) else None

    publisher = first(f"{DCTERMS}publisher")

    return Catalogue(
        iri=ns.catalogue,
        title=first(f"{DCTERMS}title"),
        description=first(f"{DCTERMS}description"),
        publisher=publisher,
        publisher_name=_name_of(store, publisher) if publisher else None,
        license=first(f"{DCTERMS}license"),
        theme_taxonomies=sorted(facts.get(f"{DCAT}themeTaxonomy", [])),
        datasets=datasets,
        sources=list(sources.values()),
    )


def _name_of(store: ox.Store, iri: str) -> str | None:
    """An agent's name: foaf:name, schema:name or rdfs:label, in any graph."""
    rows = _select(
        store,
        f"""SELECT ?name WHERE {{ <{iri}> <{FOAF}name>|<{SCHEMA}name>|<{RDFS}label> ?name }}
            ORDER BY ?name LIMIT 1""",
    )
    return rows[0]["name"].value if rows else None


def read_datasets(
    store: ox.Store, ns: Namespaces, sources: dict[str, SourceList] | None = None
) -> list[DatasetRecord]:
    """One record per `mkg:Dataset` of the catalogue graph, sorted by IRI."""
    return list(iter_datasets(store, ns, sources))


def iter_datasets(
    store: ox.Store, ns: Namespaces, sources: dict[str, SourceList] | None = None
) -> Iterator[DatasetRecord]:
    """The records of `read_datasets`, read from the store's indexes one dataset at a time.

    Reading every list statement at once held 2 GB at 100k synthetic datasets; a dataset's
    own statements, sorted as SPARQL sorts them, fill its record the same way.
    """
    sources = sources if sources is not None else read_sources(store, ns)
    filler = _Filler(ns, sources, read_concepts(store, ns), read_challenges(store, ns), store)
    in_lists = ns.source_graph("")
    for iri, title, mentions in _heads(store, ns):
        record = DatasetRecord(iri, title, mentions)
        said = [q for q in store.quads_for_pattern(ox.NamedNode(iri), None, None, None)
                if isinstance(q.graph_name, ox.NamedNode)
                and q.graph_name.value.startswith(in_lists)]
        said.sort(key=_quad_order)
        for quad in said:
            filler.add(record, quad.predicate.value, quad.object, quad.graph_name.value)
        yield record


class DatasetStream:
    """The catalogue's datasets, read from the store anew on each pass (see `iter_datasets`)."""

    def __init__(self, store: ox.Store, ns: Namespaces, sources: dict[str, SourceList]) -> None:
        self.store, self.ns, self.sources = store, ns, sources

    def __iter__(self) -> Iterator[DatasetRecord]:
        return iter_datasets(self.store, self.ns, self.sources)

    def __len__(self) -> int:
        """How many datasets a pass gives (counted by the engine, not read)."""
        query = f"""SELECT (COUNT(DISTINCT ?d) AS ?n) WHERE {{
                      GRAPH <{self.ns.graph('catalogue')}> {{
                        ?d a <{self.ns.term('Dataset')}> ; <{DCTERMS}title> ?title }} }}"""
        return int(next(iter(self.store.query(query)))[0].value)  # type: ignore[arg-type]


def _heads(store: ox.Store, ns: Namespaces) -> Iterator[tuple[str, str, int | None]]:
    """Each dataset's IRI, title and mention count, by IRI.

    The IRIs are sorted here: the engine's ORDER BY of the same rows held 135 MB at 100k
    datasets before giving the first; the scan and the sort, 110 MB, most of it what the
    store keeps of the blocks it read (the same after a second scan), a cache with a bound.
    """
    catalogue = ox.NamedNode(ns.graph("catalogue"))
    typed = store.quads_for_pattern(None, ox.NamedNode(f"{RDF}type"),
                                    ox.NamedNode(ns.term("Dataset")), catalogue)
    title, mentions = ox.NamedNode(f"{DCTERMS}title"), ox.NamedNode(ns.term("mentionCount"))
    for iri in sorted({q.subject.value for q in typed if isinstance(q.subject, ox.NamedNode)}):
        node = ox.NamedNode(iri)
        titles = [q.object.value for q in store.quads_for_pattern(node, title, None, catalogue)]
        if not titles:
            continue  # not a dataset of the catalogue without its title
        counted = [q.object.value for q in store.quads_for_pattern(node, mentions, None, catalogue)]
        yield iri, titles[-1], int(counted[-1]) if counted else None


# SPARQL's order of terms (section 15.1): blank nodes, then IRIs, then literals
_TERM_RANK = {ox.BlankNode: 0, ox.NamedNode: 1, ox.Literal: 2}


def _quad_order(quad: ox.Quad) -> tuple[str, str, int, str]:
    """What the lists say of one dataset in a fixed order: by list, property, then value."""
    obj = quad.object
    return (quad.graph_name.value, quad.predicate.value, _TERM_RANK[type(obj)], obj.value)


class _Filler:
    """Puts one (predicate, object) statement of a source graph into the right record field."""

    def __init__(
        self,
        ns: Namespaces,
        sources: dict[str, SourceList],
        concepts: dict[str, Concept],
        challenges: dict[str, Challenge],
        store: ox.Store,
    ) -> None:
        self.ns = ns
        self.sources = sources
        self.concepts = concepts
        self.challenges = challenges
        self.store = store
        self.text_fields = {
            f"{SKOS}altLabel": "alt_names",
            f"{DCTERMS}description": "descriptions",
            f"{DCAT}landingPage": "landing_pages",
            ns.term("paper"): "papers",
            ns.term("codeRepository"): "code_repositories",
            ns.term("doi"): "dois",
            f"{DCTERMS}bibliographicCitation": "citations",
            ns.term("dimension"): "dimensions",
            ns.term("magnification"): "magnifications",
            ns.term("scanner"): "scanners",
        }
        self.concept_fields = {
            ns.term("organ"): "organs",
            ns.term("modality"): "modalities",
            ns.term("stain"): "stains",
            ns.term("task"): "tasks",
        }

    def add(self, record: DatasetRecord, predicate: str, obj: object, graph: str) -> None:
        value = obj.value  # type: ignore[attr-defined]
        source_id = graph.removeprefix(self.ns.source_graph(""))
        source = self.sources.get(self.ns.source(source_id))
        if source is not None:
            _add(record.sources, source)
        if predicate in self.text_fields:
            _add(getattr(record, self.text_fields[predicate]), value)
        elif predicate in self.concept_fields:
            concept = self.concepts.get(value, Concept(value, value.rsplit("/", 1)[-1]))
            _add(getattr(record, self.concept_fields[predicate]), concept)
        elif predicate == self.ns.term("challenge"):
            unknown = Challenge(value, value.rsplit("/", 1)[-1])
            _add(record.challenges, self.challenges.get(value, unknown))
        elif predicate == self.ns.term("count") and isinstance(obj, ox.NamedNode | ox.BlankNode):
            count = _read_count(self.store, self.ns, obj)
            if count is not None:
                _add(record.counts, count)
        elif predicate == f"{DCTERMS}issued" and isinstance(obj, ox.Literal):
            _add(record.issued, Dated(value, obj.datatype.value, source_id))
        elif predicate == f"{PROV}wasDerivedFrom":
            pass  # provenance stays in the RDF dumps; flat formats name the lists instead
