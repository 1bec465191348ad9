"""The browse and statistics pages' numbers, from an in-memory index of each store version.

Counting datasets per facet value with SPARQL aggregates costs time in proportion to the
catalogue: about a second per page at 10k datasets, minutes at 1M. The graph does not change
between builds, so each process reads the facts the pages count once per store version, with
the queries under queries/index-*.rq, into numpy arrays:

- datasets are numbered in title order, so a selection's matching datasets come out already
  sorted for the listing;
- each facet (facets.toml, plus the year) is two parallel arrays of (dataset, value) pairs;
- a selection is a boolean mask over datasets; a facet's counts under a selection are one
  `bincount` of the value codes whose dataset is in the mask.

A page then costs a few vector operations over the pairs, whatever the selection.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import overload

import numpy as np
import pyoxigraph as ox

from medkg_server import queries

YEAR = "year"
TEXT = "~text"  # the search text's mask (cannot clash with a facet key of facets.toml)
SEPARATOR = "\x00"  # between datasets in the search text (never typed into a search box)
JOINER = "\x01"  # between one dataset's titles and descriptions, so no match spans two
SPACES = re.compile(r"\s+")


class Strings(Sequence[str]):
    """Many strings kept as one block of UTF-8 and where each ends.

    A million dataset IRIs and titles as Python strings are two million objects (57 bytes
    each before their text), which the allocator then cannot give back; as one block they
    are two objects, and a page decodes the few it shows.
    """

    def __init__(self, data: bytes, ends: np.ndarray) -> None:
        self.data = data
        self.ends = ends

    @classmethod
    def of(cls, items: Iterable[str]) -> Strings:
        encoded = [item.encode("utf-8") for item in items]
        ends = np.cumsum(np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded)))
        return cls(b"".join(encoded), ends)

    def __len__(self) -> int:
        return len(self.ends)

    @overload
    def __getitem__(self, i: int) -> str: ...

    @overload
    def __getitem__(self, i: slice) -> list[str]: ...

    def __getitem__(self, i: int | slice) -> str | list[str]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        start = int(self.ends[i - 1]) if i else 0
        return self.data[start : int(self.ends[i])].decode("utf-8")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Strings):
            return NotImplemented
        return self.data == other.data and np.array_equal(self.ends, other.ends)

    __hash__ = None  # type: ignore[assignment]  # mutable-looking, like a list


@dataclass(frozen=True)
class FacetSpec:
    """One facet to index: its key, the property linking datasets to values, the label property."""

    key: str
    property: str
    label: str


@dataclass
class Pairs:
    """(dataset number, value code) pairs of one facet, with the values' IRIs and labels."""

    datasets: np.ndarray
    codes: np.ndarray
    values: list[str]
    labels: list[str | None]

    def counts(self, mask: np.ndarray | None) -> np.ndarray:
        """Datasets per value code, among the datasets in `mask` (all when None)."""
        codes = self.codes if mask is None else self.codes[mask[self.datasets]]
        return np.bincount(codes, minlength=len(self.values))

    def having(self, value: str, size: int) -> np.ndarray:
        """A mask of the datasets that have `value`."""
        mask = np.zeros(size, dtype=bool)
        try:
            code = self.values.index(value)
        except ValueError:
            return mask
        mask[self.datasets[self.codes == code]] = True
        return mask


@dataclass
class Masks:
    """A selection's filters as masks, to combine leaving one out (a facet's own counts)."""

    size: int
    parts: dict[str, np.ndarray]

    def without(self, skip: str | None = None) -> np.ndarray:
        mask = np.ones(self.size, dtype=bool)
        for key, part in self.parts.items():
            if key != skip:
                mask &= part
        return mask


@dataclass(frozen=True)
class Count:
    value: str
    label: str | None
    count: int


@dataclass
class CatalogueIndex:
    """What the browse and statistics pages count, for one store version."""

    iris: Strings
    titles: Strings
    text: str
    starts: np.ndarray
    facets: dict[str, Pairs]
    first_year: Pairs
    systems: Pairs
    lists: int
    challenges: int

    @property
    def size(self) -> int:
        return len(self.iris)

    def masks(self, chosen: dict[str, str], text: str = "") -> Masks:
        """One mask per chosen facet value and one for the search text, each computed once."""
        parts = {
            key: self.facets[key].having(wanted, self.size)
            for key, wanted in chosen.items()
            if key in self.facets
        }
        if text:
            parts[TEXT] = self._matching(text)
        return Masks(self.size, parts)

    def mask(self, chosen: dict[str, str], text: str = "", skip: str | None = None) -> np.ndarray:
        """Datasets matching every chosen facet value (but `skip`) and the search text."""
        return self.masks(chosen, text).without(skip)

    def _matching(self, text: str) -> np.ndarray:
        """Datasets whose title or description contains `text` (see `searchable`)."""
        needle = searchable(text.replace(JOINER, " "))
        hits = [m.start() for m in re.finditer(re.escape(needle), self.text)]
        mask = np.zeros(self.size, dtype=bool)
        if hits:
            mask[np.searchsorted(self.starts, np.asarray(hits), side="right") - 1] = True
        return mask

    def facet_counts(
        self, key: str, mask: np.ndarray | None, keep: str | None = None
    ) -> list[Count]:
        """Values of one facet with how many datasets in `mask` have each, most first.

        `keep`, the value chosen on the page, is listed even when no dataset in `mask` has it
        (count 0), so that it can be unchosen on its own.
        """
        pairs = self.facets[key]
        counts = pairs.counts(mask)
        found = [
            Count(pairs.values[c], pairs.labels[c], int(counts[c])) for c in np.flatnonzero(counts)
        ]
        if keep is not None and all(c.value != keep for c in found):
            label = pairs.labels[pairs.values.index(keep)] if keep in pairs.values else None
            found.append(Count(keep, label, 0))
        if key == YEAR:
            return sorted(found, key=lambda x: x.value, reverse=True)
        return sorted(found, key=lambda x: (-x.count, (x.label or x.value).lower()))

    def listing(self, mask: np.ndarray, offset: int, limit: int) -> list[int]:
        """Numbers of the matching datasets on one page, in title order."""
        return [int(i) for i in np.flatnonzero(mask)[offset : offset + limit]]

    def series(self, pairs: Pairs, by_value: bool = False) -> list[Count]:
        """Unfiltered counts of a statistics series, most first (or by value)."""
        counts = pairs.counts(None)
        found = [
            Count(pairs.values[c], pairs.labels[c], int(counts[c])) for c in np.flatnonzero(counts)
        ]
        if by_value:
            return sorted(found, key=lambda x: x.value)
        return sorted(found, key=lambda x: (-x.count, (x.label or x.value).lower()))


def build_index(db: ox.Store, specs: Iterable[FacetSpec], mkg: str) -> CatalogueIndex:
    """Read everything the pages count from the store (one pass per query, linear in size)."""
    iris, titles, text, starts = _datasets(db, mkg)
    number = {iri: i for i, iri in enumerate(iris)}
    del iris  # kept as one block (Strings), from here on the only copy
    facets = {}
    for spec in specs:
        query = queries.load(
            "index-facet", mkg=queries.iri(mkg), property=queries.iri(spec.property)
        )
        facets[spec.key] = _pairs(_rows(db, query), number, _labels(db, spec.label))
    years = list(_rows(db, queries.load("index-years", mkg=queries.iri(mkg))))
    facets[YEAR] = _pairs(years, number, _no_label)
    first: dict[str, str] = {}
    for iri, year in years:
        if iri not in first or year < first[iri]:
            first[iri] = year
    systems = _systems(db, facets.get("organ"), mkg)
    totals = next(_rows(db, queries.load("index-totals", mkg=queries.iri(mkg))), ("0", "0"))
    return CatalogueIndex(
        iris=Strings.of(number),
        titles=Strings.of(titles),
        text=text,
        starts=starts,
        facets=facets,
        first_year=_pairs(first.items(), number, _no_label),
        systems=systems,
        lists=int(totals[0]),
        challenges=int(totals[1]),
    )


def searchable(text: str) -> str:
    """Text as search compares it: one Unicode form (é typed or composed alike), lower case,
    runs of white space as one space, and no SEPARATOR."""
    folded = unicodedata.normalize("NFC", text).lower().replace(SEPARATOR, " ")
    return SPACES.sub(" ", folded)


def _datasets(db: ox.Store, mkg: str) -> tuple[list[str], list[str], str, np.ndarray]:
    """Dataset IRIs and titles in title order, and the search text with each dataset's start.

    A dataset's search text holds every title and description any list gives it.
    """
    titles: dict[str, str] = {}
    words: dict[str, set[str]] = {}
    for iri, title, description in _rows(db, queries.load("index-datasets", mkg=queries.iri(mkg))):
        kept = titles.get(iri)
        if kept is None or (title and (not kept or title.lower() < kept.lower())):
            titles[iri] = title  # the alphabetically first title any list gives
        words.setdefault(iri, set()).update(t for t in (title, description) if t)
    iris = sorted(titles, key=lambda iri: (titles[iri].lower(), iri))
    parts = [searchable(JOINER.join(sorted(words[i]))) for i in iris]
    lengths = np.fromiter((len(p) + 1 for p in parts), dtype=np.int64, count=len(parts))
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1])) if parts else np.zeros(0, np.int64)
    return iris, [titles[i] for i in iris], SEPARATOR.join(parts), starts


def _pairs(
    rows: Iterable[tuple[str, ...]], number: dict[str, int], label: Callable[[str], str | None]
) -> Pairs:
    """A facet's (dataset, value) rows as number arrays; values coded in order of appearance.

    Rows of datasets not in `number` are left out, and a pair given twice (two lists saying
    the same) is kept once, so that each dataset counts once per value.
    """
    datasets: list[int] = []
    codes: list[int] = []
    code_of: dict[str, int] = {}
    for iri, value in rows:
        if iri in number:
            datasets.append(number[iri])
            codes.append(code_of.setdefault(value, len(code_of)))
    values = list(code_of)
    pairs = np.unique(np.asarray([datasets, codes], dtype=np.int64).reshape(2, -1), axis=1)
    return Pairs(pairs[0], pairs[1], values, [label(v) for v in values])


def _no_label(value: str) -> None:
    return None


def first_value(db: ox.Store, iri: str, prop: str) -> str | None:
    """The value of the first statement `<iri> <prop> ?value` in any graph, if there is one."""
    for quad in db.quads_for_pattern(ox.NamedNode(iri), ox.NamedNode(prop), None, None):
        return str(quad.object.value)
    return None


def _labels(db: ox.Store, label_property: str) -> Callable[[str], str | None]:
    """A function from a value IRI to its first label (looked up once per value)."""
    return lambda value: first_value(db, value, label_property)


def _systems(db: ox.Store, organs: Pairs | None, mkg: str) -> Pairs:
    """Datasets per organ system: each organ counted under every top concept above it."""
    empty = Pairs(np.zeros(0, np.int64), np.zeros(0, np.int64), [], [])
    if organs is None:
        return empty
    tops: dict[str, list[str]] = {}
    labels: dict[str, str | None] = {}
    for organ, top, label in _rows(db, queries.load("index-systems", mkg=queries.iri(mkg))):
        tops.setdefault(organ, []).append(top)
        labels.setdefault(top, label or None)
    values = sorted(labels)
    code = {v: i for i, v in enumerate(values)}
    datasets: list[np.ndarray] = []
    codes: list[np.ndarray] = []
    for organ_code, organ in enumerate(organs.values):
        having = organs.datasets[organs.codes == organ_code]
        for top in tops.get(organ, []):
            datasets.append(having)
            codes.append(np.full(len(having), code[top], dtype=np.int64))
    if not datasets:
        return Pairs(empty.datasets, empty.codes, values, [labels[v] for v in values])
    # A dataset with two organs of one system counts once for it.
    pairs = np.unique(np.stack([np.concatenate(datasets), np.concatenate(codes)]), axis=1)
    return Pairs(pairs[0], pairs[1], values, [labels[v] for v in values])


def _rows(db: ox.Store, text: str) -> Iterator[tuple[str, ...]]:
    """A SELECT's rows as tuples of plain strings ("" for an unbound value).

    The engine writes the rows as TSV in native code; splitting lines is about twice as fast as
    reading each term into a Python object, which matters at millions of rows.
    """
    result = db.query(text, use_default_graph_as_union=True)
    assert isinstance(result, ox.QuerySolutions)
    lines = result.serialize(format=ox.QueryResultsFormat.TSV).decode("utf-8").split("\n")
    for line in lines[1:]:
        if line:
            yield tuple(_plain(cell) for cell in line.split("\t"))


_ESCAPE = re.compile(r"\\(?:u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|(.))")
_ESCAPED = {"t": "\t", "b": "\b", "n": "\n", "r": "\r", "f": "\f"}


def _plain(cell: str) -> str:
    """The IRI or lexical form of one TSV cell (SPARQL 1.1 TSV: terms in N-Triples syntax)."""
    if cell.startswith("<"):
        return cell[1:-1]
    if not cell.startswith('"'):
        return cell  # a number, boolean or blank node label, or "" when unbound
    lexical = cell[1 : cell.rindex('"')]
    return _ESCAPE.sub(_unescape, lexical) if "\\" in lexical else lexical


def _unescape(match: re.Match[str]) -> str:
    short, long, char = match.groups()
    if short or long:
        return chr(int(short or long, 16))
    return _ESCAPED.get(char, char)


# --- saved beside the store version (version_cache.py) ---

INDEX_FILE = "catalogue-index.npz"
FORMAT = 2  # 2: IRIs and titles as Strings blocks (1: JSON lists)


def save(index: CatalogueIndex, path: Path) -> None:
    """Write the index as one .npz file: its arrays, plus its strings as UTF-8 JSON."""
    strings = {
        "format": FORMAT,
        "text": index.text,
        "lists": index.lists,
        "challenges": index.challenges,
        "pairs": {key: [p.values, p.labels] for key, p in _all_pairs(index).items()},
    }
    arrays = {"starts": index.starts}
    for name, table in (("iris", index.iris), ("titles", index.titles)):
        arrays[f"{name}.data"] = np.frombuffer(table.data, dtype=np.uint8)
        arrays[f"{name}.ends"] = table.ends
    for key, pairs in _all_pairs(index).items():
        arrays[f"{key}.datasets"] = pairs.datasets
        arrays[f"{key}.codes"] = pairs.codes
    blob = np.frombuffer(json.dumps(strings).encode("utf-8"), dtype=np.uint8)
    with open(path, "wb") as handle:
        np.savez(handle, strings=blob, **arrays)


def load(path: Path) -> CatalogueIndex:
    """Read an index written by `save` (no pickles: arrays and JSON only)."""
    with np.load(path, allow_pickle=False) as data:
        strings = json.loads(data["strings"].tobytes().decode("utf-8"))
        if strings.get("format") != FORMAT:
            raise ValueError(f"index format {strings.get('format')}, expected {FORMAT}")
        pairs = {
            key: Pairs(data[f"{key}.datasets"], data[f"{key}.codes"], values, labels)
            for key, (values, labels) in strings["pairs"].items()
        }
        starts = data["starts"]
        iris, titles = (
            Strings(data[f"{name}.data"].tobytes(), data[f"{name}.ends"])
            for name in ("iris", "titles")
        )
    first_year, systems = pairs.pop(_FIRST_YEAR), pairs.pop(_SYSTEMS)
    return CatalogueIndex(
        iris=iris,
        titles=titles,
        text=strings["text"],
        starts=starts,
        facets=pairs,
        first_year=first_year,
        systems=systems,
        lists=strings["lists"],
        challenges=strings["challenges"],
    )


_FIRST_YEAR, _SYSTEMS = "~first-year", "~systems"  # cannot clash with a facet key of facets.toml


def _all_pairs(index: CatalogueIndex) -> dict[str, Pairs]:
    return {**index.facets, _FIRST_YEAR: index.first_year, _SYSTEMS: index.systems}
