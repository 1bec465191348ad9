"""The facet index counts exactly what the SPARQL aggregates under queries/ count.

The aggregate queries (facet-counts, facet-years, browse-total, stats-*) are the reference
semantics of the browse and statistics pages; the index must agree with them on the real lists,
with and without a selection.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyoxigraph as ox
import pytest

from medkg.build import build
from medkg.config import load_settings
from medkg.store import current_version_dir, open_read_only
from medkg_server import catalogue, facet_index, queries, version_cache
from medkg_server.app import create_app
from medkg_server.facet_index import YEAR, CatalogueIndex, FacetSpec, build_index
from medkg_server.state import ServerState

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def real_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    store = tmp_path_factory.mktemp("real-index") / "store"
    build(load_settings(store=store, home=ROOT), run_validation=False)
    return store


@pytest.fixture(scope="module")
def st(real_store: Path) -> ServerState:
    app = create_app({"STORE": str(real_store), "EXECUTORS": 1})
    return app.extensions["medkg"]


@pytest.fixture(scope="module")
def db(real_store: Path) -> ox.Store:
    return open_read_only(real_store)


@pytest.fixture(scope="module")
def index(st: ServerState, db: ox.Store) -> CatalogueIndex:
    specs = [FacetSpec(f.key, f.property, f.label) for f in catalogue.facets(st)]
    return build_index(db, specs, st.ns.mkg)


def _select(db: ox.Store, text: str) -> list[dict[str, str]]:
    result = db.query(text, use_default_graph_as_union=True)
    return [{v.value: s[v].value for v in result.variables if s[v] is not None} for s in result]


def _filters(st: ServerState, chosen: dict[str, str], skip: str | None) -> str:
    parts = []
    for facet in catalogue.facets(st):
        if facet.key in chosen and facet.key != skip:
            parts.append(f"?d <{facet.property}> <{chosen[facet.key]}> .")
    if YEAR in chosen and skip != YEAR:
        parts.append(
            f"?d <http://purl.org/dc/terms/issued> ?fy . "
            f"FILTER(STRSTARTS(STR(?fy), {queries.literal(chosen[YEAR])}))"
        )
    return "\n".join(parts)


def _reference_counts(st: ServerState, db: ox.Store, key: str, chosen: dict[str, str]) -> dict[str, int]:
    dataset_class = queries.iri(st.ns.term("Dataset"))
    filters = _filters(st, chosen, skip=key)
    if key == YEAR:
        text = queries.load("facet-years", dataset_class=dataset_class, filters=filters)
    else:
        facet = next(f for f in catalogue.facets(st) if f.key == key)
        text = queries.load(
            "facet-counts",
            dataset_class=dataset_class,
            filters=filters,
            property=queries.iri(facet.property),
            label=queries.iri(facet.label),
        )
    return {row["value"]: int(row["n"]) for row in _select(db, text)}


def _selections(index: CatalogueIndex) -> list[dict[str, str]]:
    """No selection, the commonest value of each facet, and two facets at once."""
    picks = [{}]
    for key in ("organ", "modality", "stain", YEAR):
        top = index.facet_counts(key, None)[0]
        picks.append({key: top.value})
    organ, modality = picks[1]["organ"], picks[2]["modality"]
    picks.append({"organ": organ, "modality": modality})
    return picks


def test_facet_counts_equal_the_sparql_aggregates(st, db, index) -> None:
    keys = [f.key for f in catalogue.facets(st)] + [YEAR]
    for chosen in _selections(index):
        for key in keys:
            counts = index.facet_counts(key, index.mask(chosen, skip=key))
            mine = {c.value: c.count for c in counts}
            assert mine == _reference_counts(st, db, key, chosen), (key, chosen)
        total = _select(
            db,
            queries.load(
                "browse-total",
                dataset_class=queries.iri(st.ns.term("Dataset")),
                filters=_filters(st, chosen, None),
            ),
        )
        assert int(index.mask(chosen).sum()) == int(total[0]["n"]), chosen


def test_every_dataset_is_listed_once_in_title_order(st, db, index) -> None:
    dataset_class = queries.iri(st.ns.term("Dataset"))
    datasets = {r["d"] for r in _select(db, f"SELECT ?d {{ ?d a {dataset_class} }}")}
    assert len(datasets) == index.size == len(set(index.iris))
    assert set(index.iris) == datasets
    keys = [t.lower() for t in index.titles]
    assert keys == sorted(keys)
    page = index.listing(index.mask({}), 50, 50)
    assert page == list(range(50, 100))


def test_statistics_equal_the_sparql_series(st, db, index) -> None:
    mkg = queries.iri(st.ns.mkg)
    reference = {
        row["value"]: int(row["n"]) for row in _select(db, queries.load("stats-organ-system", mkg=mkg))
    }
    assert {c.value: c.count for c in index.series(index.systems)} == reference
    years = {row["value"]: int(row["n"]) for row in _select(db, queries.load("stats-year", mkg=mkg))}
    assert {c.value: c.count for c in index.series(index.first_year, by_value=True)} == years
    modality = {
        row["value"]: int(row["n"]) for row in _select(db, queries.load("stats-modality", mkg=mkg))
    }
    assert {c.value: c.count for c in index.facet_counts("modality", None)} == modality
    totals = _select(db, queries.load("stats-totals", mkg=mkg))[0]
    assert (index.size, index.lists, index.challenges) == (
        int(totals["datasets"]),
        int(totals["lists"]),
        int(totals["challenges"]),
    )


def test_text_search_matches_titles_and_descriptions_only_within_a_dataset(index) -> None:
    first, second = index.titles[0], index.titles[1]
    found = index.mask({}, text=first.upper())
    assert found[0]
    spanning = first[-3:] + second[:3]  # the end of one dataset's text and the start of the next
    matches = np.flatnonzero(index.mask({}, text=spanning))
    assert all(spanning.lower() in index.text.split("\x00")[i] for i in matches)
    assert int(index.mask({}, text="no dataset is called this 9f3c").sum()) == 0


def test_saved_index_loads_equal_and_is_built_once(index, tmp_path: Path) -> None:
    built = []

    def build_once() -> CatalogueIndex:
        built.append(1)
        return index

    def load_or_build() -> CatalogueIndex:
        return version_cache.load_or_build(
            tmp_path, facet_index.INDEX_FILE, build_once, facet_index.save, facet_index.load
        )

    first = load_or_build()
    second = load_or_build()
    assert built == [1] and first is index
    assert second.iris == index.iris and second.text == index.text
    for key in index.facets:
        assert second.facet_counts(key, None) == index.facet_counts(key, None)
    assert second.series(second.systems) == index.series(index.systems)
    (tmp_path / facet_index.INDEX_FILE).write_bytes(b"not an npz file")
    load_or_build()
    assert built == [1, 1]  # a damaged file is built again, not trusted


def test_pages_read_the_index_saved_beside_the_version(st, real_store: Path) -> None:
    client = st_app_client(real_store)
    body = client.get("/stats").data.decode()
    assert "Datasets per organ system" in body
    saved = current_version_dir(real_store) / facet_index.INDEX_FILE
    assert saved.exists()
    page = client.get("/browse", query_string={"q": "camelyon"}).data.decode()
    assert "CAMELYON16" in page


def st_app_client(store: Path):  # type: ignore[no-untyped-def]
    return create_app({"STORE": str(store), "EXECUTORS": 1}).test_client()


def test_rows_come_back_as_the_terms_lexical_forms() -> None:
    db = ox.Store()
    s = ox.NamedNode("http://example.org/s")
    tricky = 'tab\tnew\nline "q" \\ é ∑ 😀'
    for obj in (ox.Literal(tricky), ox.Literal("Brust", language="de"), ox.Literal(7),
                ox.NamedNode("http://example.org/o")):
        db.add(ox.Quad(s, ox.NamedNode("http://example.org/p"), obj, ox.DefaultGraph()))
    rows = set(facet_index._rows(db, "SELECT ?s ?o ?none { ?s ?p ?o }"))
    assert rows == {
        ("http://example.org/s", tricky, ""),
        ("http://example.org/s", "Brust", ""),
        ("http://example.org/s", "7", ""),
        ("http://example.org/s", "http://example.org/o", ""),
    }


def test_search_text_compares_one_unicode_form_and_one_space() -> None:
    from medkg_server.facet_index import searchable

    composed, decomposed = "Caf\u00e9 Set", "Cafe\u0301 Set"
    assert searchable(composed) == searchable(decomposed) == "caf\u00e9 set"
    assert searchable("double  \t space\nrun") == "double space run"


def test_a_value_two_lists_give_counts_once_and_only_datasets_count() -> None:
    mkg = "https://example.org/mkg#"
    db = ox.Store()

    def add(s: ox.NamedNode | ox.BlankNode, p: str, o: ox.NamedNode | ox.Literal, g: str) -> None:
        db.add(ox.Quad(s, ox.NamedNode(p), o, ox.NamedNode(f"https://example.org/graph/{g}")))

    title = "http://purl.org/dc/terms/title"
    issued = "http://purl.org/dc/terms/issued"
    organ, lung = f"{mkg}organ", ox.NamedNode("https://example.org/anatomy/lung")
    dataset_class = ox.NamedNode(f"{mkg}Dataset")
    a, b = ox.NamedNode("https://example.org/dataset/a"), ox.NamedNode("https://example.org/dataset/b")
    for d in (a, b):
        add(d, "http://www.w3.org/1999/02/22-rdf-syntax-ns#type", dataset_class, "catalogue")
        add(d, title, ox.Literal(d.value[-1]), "catalogue")
    for g in ("list-1", "list-2"):  # two lists say the same of `a`
        add(a, organ, lung, g)
        add(a, issued, ox.Literal("2020-05"), g)
    add(a, issued, ox.Literal("2020"), "list-3")  # another precision, the same year
    not_a_dataset = ox.NamedNode("https://example.org/source/list-1/entry/3")
    add(not_a_dataset, organ, lung, "list-1")
    add(ox.BlankNode(), organ, lung, "list-1")
    index = build_index(db, [FacetSpec("organ", organ, f"{mkg}label")], mkg)
    assert list(index.iris) == [a.value, b.value]
    assert [(c.value, c.count) for c in index.facet_counts("organ", None)] == [(lung.value, 1)]
    assert [(c.value, c.count) for c in index.facet_counts(YEAR, None)] == [("2020", 1)]
    assert index.mask({"organ": lung.value}).tolist() == [True, False]


def test_strings_kept_as_one_block_read_back_as_given() -> None:
    from medkg_server.facet_index import Strings

    items = ["https://example.org/a", "Brüste 😀", "", "last"]
    table = Strings.of(items)
    assert len(table) == 4 and list(table) == items
    assert table[1] == "Brüste 😀" and table[-1] == "last" and table[1:3] == items[1:3]
    assert "last" in table and "las" not in table
    assert table == Strings.of(items) and table != Strings.of(items[:3])
    with pytest.raises(IndexError):
        table[4]
    assert list(Strings.of([])) == []
