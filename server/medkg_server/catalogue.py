"""What the HTML pages show, read from the store with the queries under queries/.

Each function returns plain data for a template (dicts and lists; a dataset page's view is a
record); nothing here renders HTML.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any
from urllib.parse import urlencode

from medkg.namespaces import DCAT, DCTERMS, PROV, RDF, RDFS, SCHEMA, SKOS, XSD, Namespaces
from medkg_server import facet_index, queries, version_cache
from medkg_server.facet_index import YEAR, CatalogueIndex, Count, FacetSpec, build_index
from medkg_server.resource_view import (
    DatasetTerms,
    Entry,
    Mapping,
    ResourceReader,
    Size,
    Statement,
)
from medkg_server.state import FIRST_WAIT_SECONDS, Derived, ServerState

PAGE_SIZE = 50
MIN_DESCRIPTION = 50  # characters: schema.org Dataset markup shorter than this is flagged
PAGE_STATEMENTS = 2_000  # statements a resource page shows at most (bounds its work)
INBOUND_SHOWN = 300  # resources a page lists as pointing to it
SHORT_PREFIXES = {
    "rdf": RDF,
    "rdfs": RDFS,
    "skos": SKOS,
    "dcterms": DCTERMS,
    "dcat": DCAT,
    "schema": SCHEMA,
    "prov": PROV,
    "xsd": XSD,
    "owl": "http://www.w3.org/2002/07/owl#",
}


@dataclass(frozen=True)
class Facet:
    key: str
    title: str
    property: str
    label: str


@cache
def _facet_table() -> tuple[dict[str, str], ...]:
    with open(queries.QUERY_DIR / "facets.toml", "rb") as handle:
        return tuple(tomllib.load(handle)["facet"])


def facets(st: ServerState) -> list[Facet]:
    """The browse facets of facets.toml, with their properties expanded under this base."""
    prefixes = {**SHORT_PREFIXES, "mkg": st.ns.mkg}

    def expand(name: str) -> str:
        prefix, _, local = name.partition(":")
        return prefixes[prefix] + local

    return [
        Facet(f["key"], f["title"], expand(f["property"]), expand(f["label"]))
        for f in _facet_table()
    ]


def curie(st: ServerState, iri: str) -> str:
    """A short display name for a property IRI (mkg:organ, dcterms:title, ...)."""
    return _short_names(st.ns)(iri)


@cache
def _short_names(ns: Namespaces) -> Callable[[str], str]:
    """`curie` under one base, remembered: pages name the same few properties over and over."""
    prefixes = {"mkg": ns.mkg, **SHORT_PREFIXES}

    @lru_cache(maxsize=1024)
    def short(iri: str) -> str:
        for prefix, namespace in prefixes.items():
            if iri.startswith(namespace) and len(iri) > len(namespace):
                return f"{prefix}:{iri[len(namespace) :]}"
        return iri

    return short


# --- browse ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Selection:
    """What the visitor filtered on: facet key -> IRI, a year, a search text, a page."""

    chosen: dict[str, str]
    year: str | None
    text: str
    page: int

    def url_args(self, **change: str | None) -> str:
        args: dict[str, str] = dict(self.chosen)
        if self.year:
            args["year"] = self.year
        if self.text:
            args["q"] = self.text
        for key, new in change.items():
            if new is None:
                args.pop(key, None)
            else:
                args[key] = new
        return urlencode(args)


def read_selection(st: ServerState, args: Any) -> Selection:
    """Read and check the browse filters from URL arguments (bad values raise BadValue)."""
    chosen = {}
    for facet in facets(st):
        raw = args.get(facet.key)
        if raw:
            queries.iri(raw)
            chosen[facet.key] = raw
    year = args.get("year") or None
    if year is not None and not (len(year) == 4 and year.isascii() and year.isdigit()):
        raise queries.BadValue(f"year must be four digits, not {year!r}")
    try:
        page = max(int(args.get("page", "1")), 1)
    except ValueError:
        raise queries.BadValue("page must be a number") from None
    return Selection(chosen, year, (args.get("q") or "").strip()[:200], page)


INDEX = "catalogue-index"  # the facet index's kind in the server's VersionMemo
INDEX_WAIT_SECONDS = 0.15  # within the pages' 200 ms budget; a new index takes longer from 1k on


def index_for(st: ServerState, version: str) -> CatalogueIndex:
    """The facet index of `version`, built on first use (once per version and process)."""
    return _index(st, version, None).value


def page_index(st: ServerState, version: str) -> Derived[CatalogueIndex]:
    """The index of `version`, or, while it is being built, the newest one this process has.

    A page waits at most INDEX_WAIT_SECONDS for a new version's index when an older one can
    answer meanwhile; with none (the first version a process sees) it waits for the build, at
    most FIRST_WAIT_SECONDS, then raises `Preparing` (a 503 asking to come back).
    """
    return _index(st, version, INDEX_WAIT_SECONDS, FIRST_WAIT_SECONDS)


def _index(
    st: ServerState, version: str, wait: float | None, first_wait: float | None = None
) -> Derived[CatalogueIndex]:
    def build() -> CatalogueIndex:
        folder, store = st.version_store(version)
        specs = [FacetSpec(f.key, f.property, f.label) for f in facets(st)]
        return version_cache.load_or_build(
            folder,
            facet_index.INDEX_FILE,
            lambda: build_index(store, specs, st.ns.mkg),
            facet_index.save,
            facet_index.load,
        )

    # at a million datasets an index is half a GB: once ready, older versions' values go
    return st.derived(version, INDEX, build, wait, settles=True, first_wait=first_wait)


def browse(st: ServerState, version: str, selection: Selection) -> dict[str, Any]:
    """Facets with counts, the matching datasets (one page) and their total."""
    counted = page_index(st, version)
    index = counted.value
    chosen = dict(selection.chosen)
    if selection.year:
        chosen[YEAR] = selection.year
    masks = index.masks(chosen, selection.text)
    groups = []
    for key, title in [(f.key, f.title) for f in facets(st)] + [(YEAR, "Year")]:
        counts = index.facet_counts(key, masks.without(key), chosen.get(key))
        groups.append(_facet_group(key, title, counts, selection))
    matching = masks.without(None)
    total = int(matching.sum())
    numbers = index.listing(matching, (selection.page - 1) * PAGE_SIZE, PAGE_SIZE)
    store = st.inline.store(counted.version)  # the counted version's, while it is open
    return {
        "facets": groups,
        "total": total,
        "datasets": [
            {
                "iri": index.iris[i],
                "title": index.titles[i],
                "description": facet_index.first_value(
                    store, index.iris[i], f"{DCTERMS}description"
                ),
            }
            for i in numbers
        ],
        "page": selection.page,
        "pages": max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1),
        "selection": selection,
        **_counted(counted),
    }


def _counted(counted: Derived[CatalogueIndex]) -> dict[str, Any]:
    """Which version a page's counts come from, and whether a newer one is being indexed."""
    return {"index_version": counted.version, "index_stale": counted.stale}


def browse_data(view: dict[str, Any]) -> dict[str, Any]:
    """The browse page as plain data (its JSON form): the same counts and datasets, no links."""
    selection: Selection = view["selection"]
    chosen = dict(selection.chosen)
    if selection.year:
        chosen[YEAR] = selection.year
    if selection.text:
        chosen["q"] = selection.text
    return {
        "selection": chosen,
        "total": view["total"],
        "page": view["page"],
        "pages": view["pages"],
        "page_size": PAGE_SIZE,
        "datasets": view["datasets"],
        "index_version": view["index_version"],
        "index_stale": view["index_stale"],
        "facets": [
            {
                "key": group["key"],
                "title": group["title"],
                "values": [
                    {name: value[name] for name in ("value", "label", "count", "selected")}
                    for value in group["values"]
                ],
            }
            for group in view["facets"]
        ],
    }


def _facet_group(key: str, title: str, counts: list[Count], selection: Selection) -> dict[str, Any]:
    chosen = selection.year if key == YEAR else selection.chosen.get(key)
    values = []
    for item in counts:
        values.append(
            {
                "value": item.value,
                "label": item.label or item.value.rsplit("/", 1)[-1],
                "count": item.count,
                "selected": item.value == chosen,
                "toggle": selection.url_args(
                    **{key: None if item.value == chosen else item.value}, page=None
                ),
            }
        )
    return {"key": key, "title": title, "values": values}


# --- statistics -----------------------------------------------------------------------------


def statistics(st: ServerState, version: str) -> dict[str, Any]:
    """Series for the statistics charts and the headline totals."""
    counted = page_index(st, version)
    index = counted.value

    def series(counts: list[Count], iris: bool = True) -> list[dict[str, Any]]:
        return [
            {
                "iri": item.value if iris else None,
                "label": item.label or item.value.rsplit("/", 1)[-1],
                "count": item.count,
            }
            for item in counts
        ]

    modality = index.facet_counts("modality", None) if "modality" in index.facets else []
    return {
        "totals": {
            "datasets": index.size,
            "lists": index.lists,
            "challenges": index.challenges,
        },
        "modality": series(modality),
        "organ_system": series(index.series(index.systems)),
        "year": series(index.series(index.first_year, by_value=True), iris=False),
        **_counted(counted),
    }


# --- resources ------------------------------------------------------------------------------


def reader(st: ServerState, version: str) -> ResourceReader:
    """The page reader of `version` (one per version, so what it remembers is never stale)."""
    found = st.memo.get(version, "resource-reader")
    if found is None:
        store = st.inline.store(version)
        found = ResourceReader(store, PAGE_STATEMENTS)
        # kept only with the version's own open store, never with a stand-in read from its
        # files while it was being opened (the open may finish between the two reads)
        if st.inline.state.already_open(version) is store:
            st.memo.put(version, "resource-reader", found)
    return found


def statements(st: ServerState, version: str, iri: str) -> list[Statement]:
    """The resource's own statements (the first PAGE_STATEMENTS), read from the store's indexes."""
    return reader(st, version).statements(iri)


def resource(st: ServerState, version: str, iri: str, rows: list[Statement]) -> dict[str, Any]:
    """A generic resource page: statements grouped by property, and what points here.

    What points here is read from the store's index, at most INBOUND_SHOWN resources; for a
    browse facet whose property points here (an organ's datasets), `browse` links to the
    browse page of all of them, which pages through the facet index instead.
    """
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        grouped.setdefault(row.property, []).append(
            {"value": row.value, "label": row.label, "graph": row.graph}
        )
    pages = reader(st, version)
    inbound, more = pages.inbound(iri, INBOUND_SHOWN)
    return {
        "iri": iri,
        "title": _title(rows) or graph_title(st, version, iri) or iri,
        "truncated": len(rows) >= PAGE_STATEMENTS,
        "shown": len(rows),
        "properties": [
            {"iri": p, "name": curie(st, p), "values": vals} for p, vals in sorted(grouped.items())
        ],
        "inbound": [
            {"iri": i.iri, "property": curie(st, i.property), "label": i.label}
            for i in inbound
        ],
        "inbound_more": more,
        "browse": [
            {"title": facet.title, "args": urlencode({facet.key: iri})}
            for facet in facets(st)
            if pages.has_subject_with(facet.property, iri)
        ],
    }


def graph_title(st: ServerState, version: str, iri: str) -> str | None:
    """A named graph's readable name: its list's title for graph/source/<id>, else "Catalogue".

    Graphs carry no statements about themselves; a source graph holds what one list says, so
    the list's own title (in the store) names it. Other graphs under graph/ are named by their
    last path segment, capitalised; None for an IRI outside graph/.
    """
    sources = st.ns.source_graph("")
    if iri.startswith(sources) and iri != sources:
        source_id = iri.removeprefix(sources)
        return reader(st, version).title(st.ns.source(source_id)) or f"Source list {source_id}"
    name = iri.removeprefix(st.ns.graph(""))
    if name == iri or not name:
        return None
    return name.rsplit("/", 1)[-1].replace("-", " ").capitalize()


def _title(rows: list[Statement]) -> str | None:
    for prop in (f"{DCTERMS}title", f"{SKOS}prefLabel", f"{RDFS}label"):
        for row in rows:
            if row.property == prop:
                return row.value["value"]
    return None


@dataclass(slots=True)
class Tagged:
    """One value of a dataset's property, with its label and the lists' graphs that state it."""

    value: str
    label: str
    type: str
    graphs: list[str]


@dataclass(slots=True)
class DatasetView:
    """Everything a dataset page shows (a template reads its fields as attributes)."""

    iri: str
    title: str
    alt_names: list[Tagged]  # every list's name but the one chosen as title
    descriptions: list[Tagged]
    organ: list[Tagged]
    modality: list[Tagged]
    stain: list[Tagged]
    task: list[Tagged]
    challenge: list[Tagged]
    year: list[Tagged]
    dimension: list[Tagged]
    magnification: list[Tagged]
    scanner: list[Tagged]
    class_count: list[Tagged]
    label_class: list[Tagged]
    landing: list[Tagged]
    paper: list[Tagged]
    code: list[Tagged]
    doi: list[Tagged]
    citation: list[Tagged]
    mentions: list[Tagged]
    counts: list[Size]
    entries: list[Entry]
    terms: list[Mapping]  # with the relation as a short name (skos:exactMatch)
    jsonld: dict[str, Any] = field(default_factory=dict)  # its schema.org markup


def dataset(st: ServerState, version: str, iri: str, rows: list[Statement]) -> DatasetView:
    """Everything the dataset page shows, gathered from every list that mentions the dataset."""
    by_property: dict[str, list[Statement]] = {}
    for row in rows:
        by_property.setdefault(row.property, []).append(row)

    def values(prop: str) -> list[Tagged]:
        seen: dict[str, Tagged] = {}
        for row in by_property.get(prop, ()):
            text = row.value["value"]
            item = seen.get(text)
            if item is None:
                item = seen[text] = Tagged(text, row.label or text, row.value["type"], [])
            item.graphs.append(row.graph)
        return list(seen.values())

    term = st.ns.term
    pages = reader(st, version)
    follow = _follow(st.ns)
    title = _title(rows) or iri
    view = DatasetView(
        iri=iri,
        title=title,
        # every list's name is an altLabel, the one chosen as title too
        alt_names=[v for v in values(f"{SKOS}altLabel") if v.value != title],
        descriptions=values(f"{DCTERMS}description"),
        organ=values(term("organ")),
        modality=values(term("modality")),
        stain=values(term("stain")),
        task=values(term("task")),
        challenge=values(term("challenge")),
        year=values(f"{DCTERMS}issued"),
        dimension=values(term("dimension")),
        magnification=values(term("magnification")),
        scanner=values(term("scanner")),
        class_count=values(term("classCount")),
        label_class=values(term("labelClass")),
        landing=values(f"{DCAT}landingPage"),
        paper=values(term("paper")),
        code=values(term("codeRepository")),
        doi=values(term("doi")),
        citation=values(f"{DCTERMS}bibliographicCitation"),
        mentions=values(term("mentionCount")),
        counts=pages.counts(rows, follow),
        entries=pages.entries(rows, follow),
        terms=[
            Mapping(m.concept, m.concept_label, curie(st, m.relation), m.term)
            for m in pages.terms(rows, follow)
        ],
    )
    view.jsonld = schema_org(view)
    return view


@cache
def _follow(ns: Namespaces) -> DatasetTerms:
    """The properties a dataset page follows to sizes, list rows and terms (made once)."""
    term = ns.term
    return DatasetTerms(
        term("count"), term("unit"), term("inList"), term("line"), term("section"),
        term("rawText"), tuple(term(t) for t in ("organ", "modality", "stain", "task")),
        term("split"),
    )


def _summary(view: DatasetView) -> str:
    """A description made of the page's facts, for a dataset the lists describe in few words.

    Dataset search engines want a description of MIN_DESCRIPTION characters or more; a title
    or a list's "Segmentation" says too little.
    """
    facts = [", ".join(v.label or v.value.rsplit("/", 1)[-1] for v in tagged)
             for tagged in (view.modality, view.organ, view.task)]
    what = "; ".join(f for f in facts if f)
    entries = len(view.entries)
    listed = f"{entries} community list entr{'y' if entries == 1 else 'ies'}"
    return (f"{view.title}: a public medical imaging dataset"
            + (f" ({what})" if what else "") + f", listed in {listed} read by medkg.")


def schema_org(view: DatasetView) -> dict[str, Any]:
    """schema.org Dataset markup (what Google Dataset Search reads) for a dataset page."""
    description = " ".join(d.value for d in view.descriptions[:1])
    if len(description) < MIN_DESCRIPTION:
        lead = description if not description or description[-1] in ".!?" else description + "."
        description = f"{lead} {_summary(view)}".strip()
    doc: dict[str, Any] = {
        "@context": "https://schema.org/",
        "@type": "Dataset",
        "@id": view.iri,
        "name": view.title,
        "description": description,
        "url": view.iri,
        "includedInDataCatalog": {"@type": "DataCatalog", "name": "medkg"},
    }
    if view.alt_names:
        doc["alternateName"] = [a.value for a in view.alt_names]
    keywords = [v.label for tagged in (view.organ, view.modality, view.stain, view.task)
                for v in tagged]
    if keywords:
        doc["keywords"] = keywords
    if view.modality:
        doc["measurementTechnique"] = [v.label for v in view.modality]
    same_as = [v.value for v in view.landing]
    if same_as:
        doc["sameAs"] = same_as
    identifiers = [f"https://doi.org/{v.value}" for v in view.doi]
    if identifiers:
        doc["identifier"] = identifiers
    citations = [v.value for v in view.paper] + [v.value for v in view.citation]
    if citations:
        doc["citation"] = citations
    if view.year:
        doc["datePublished"] = min(v.value for v in view.year)
    return doc
