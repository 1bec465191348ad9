"""Group entry records that describe the same real-world dataset.

Rules, applied in this order (documented in README "Merging"):

1. `data/curation/aliases.tsv` rewrites a name variant to a canonical name first.
2. Two entries whose names fold to the same key (case, spaces and punctuation ignored:
   "SegPC-2021" and "segpc 2021") are the same dataset.
3. Two entries from *different* lists that give the same specific landing page URL are the same,
   unless one list gives that page to differently named entries (a challenge's page for its tasks).
4. `data/curation/merge.tsv` forces `same` pairs together and keeps `different` pairs apart;
   a `different` pair wins over rules 2 and 3 (the merge that would join them is refused and
   reported).
5. `data/curation/entries.tsv` names single entries (list id and line, with the name written
   there) that describe a dataset of their own whatever their name says: each stays a dataset
   alone, joined by no rule, and the report lists it.

Each group becomes one dataset. Its IRI slug comes from the name of its first entry in manifest
order (source order, then line), so adding a list at the end never renames existing datasets;
an entry kept apart takes its slug after all others, so curating it never renames the dataset
it was taken from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from medkg.namespaces import slugify
from medkg.records import EntryRecord
from medkg.tables import TableError, read_tsv, read_tsv_lines
from medkg.vocabulary import fold

GENERIC_PATHS = re.compile(r"^(github\.com/[^/]+/?|[^/]+/?|www\.kaggle\.com/datasets/?)$")


def name_key(name: str) -> str:
    """The merge key of a dataset name: folded, with spaces and punctuation removed."""
    return fold(name).replace(" ", "").replace("&", "and")


def url_key(url: str) -> str | None:
    """A comparable form of a landing page, or None for pages too generic to identify a dataset."""
    key = re.sub(r"^https?://(www\.)?", "", url.strip()).rstrip("/")
    host, _, rest = key.partition("/")
    key = f"{host.lower()}/{rest}" if rest else host.lower()
    if "/" not in key:
        # a bare host names a dataset only when it is a dataset's own subdomain
        return key if key.count(".") >= 2 and not key.startswith("www.") else None
    if GENERIC_PATHS.match(key + "/"):
        return None
    return key


@dataclass
class Curation:
    aliases: dict[str, str] = field(default_factory=dict)  # name key -> canonical name key
    same: list[tuple[str, str]] = field(default_factory=list)
    different: set[frozenset[str]] = field(default_factory=set)
    # where each same/different rule was written (merge.tsv line), for the report
    written: dict[tuple[str, str], str] = field(default_factory=dict)
    # entries kept apart: location ("list:line") -> (name as written, entries.tsv line)
    apart: dict[str, tuple[str, int]] = field(default_factory=dict)


def load_curation(data_dir: Path) -> Curation:
    """Read the alias and merge tables."""
    curation = Curation()
    for row in read_tsv(data_dir / "curation" / "aliases.tsv", ("variant", "name", "reason")):
        curation.aliases[name_key(row["variant"])] = name_key(row["name"])
    def canonical(name: str) -> str:
        return curation.aliases.get(name_key(name), name_key(name))

    table = data_dir / "curation" / "merge.tsv"
    for line, row in read_tsv_lines(table, ("name_a", "name_b", "decision", "reason")):
        pair = (canonical(row["name_a"]), canonical(row["name_b"]))
        if row["decision"] == "same":
            curation.same.append(pair)
        elif row["decision"] == "different":
            curation.different.add(frozenset(pair))
        else:
            raise TableError(f"{table}:{line}: decision {row['decision']!r} is neither "
                             "'same' nor 'different'")
        curation.written[pair] = f"merge.tsv:{line} {row['name_a']} ~ {row['name_b']}"
    _load_apart(data_dir / "curation" / "entries.tsv", curation)
    return curation


def _load_apart(table: Path, curation: Curation) -> None:
    """Read the entries kept apart: one `list:line` entry a row, with its name as a check."""
    for line, row in read_tsv_lines(table, ("entry", "name", "reason")):
        where, _, number = row["entry"].rpartition(":")
        if not where or not number.isdigit():
            raise TableError(f"{table}:{line}: entry {row['entry']!r} is not "
                             "'<list id>:<line>'")
        curation.apart[f"{where}:{int(number)}"] = (row["name"], line)


@dataclass
class Dataset:
    """One merged dataset: its stable slug, chosen title and every entry that mentions it."""

    slug: str
    title: str
    entries: list[EntryRecord]

    @property
    def names(self) -> list[str]:
        names: list[str] = []
        for entry in self.entries:
            for name in entry.names:
                if name not in names:
                    names.append(name)
        return names


@dataclass
class MergeResult:
    datasets: list[Dataset]
    refused: list[str]  # merges a 'different' rule kept apart, for the report
    unused: list[str] = field(default_factory=list)  # curation rows naming no entry read
    apart: list[str] = field(default_factory=list)  # entries.tsv rows applied, for the report


class _Groups:
    """Union-find over entry indexes that refuses to join groups a curation rule keeps apart."""

    def __init__(self, keys: list[str], different: set[frozenset[str]]):
        self.parent = list(range(len(keys)))
        self.keys = keys
        # keys of each joined group, by root; a group of one has none here (its key is keys[root]):
        # a million singleton sets would cost more than the whole merge needs
        self.members: dict[int, set[str]] = {}
        self.different = different

    def _members(self, root: int) -> set[str]:
        return self.members.get(root) or {self.keys[root]}

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        if self.different:
            for x in self._members(ra):
                for y in self._members(rb):
                    if frozenset((x, y)) in self.different:
                        return False
        keep, gone = min(ra, rb), max(ra, rb)
        self.parent[gone] = keep
        self.members[keep] = self._members(keep) | self.members.pop(gone, {self.keys[gone]})
        return True


def _different_links(a: EntryRecord, b: EntryRecord) -> bool:
    """Both entries give landing pages and none is shared: one list naming two datasets alike."""
    pages_a = {url_key(u) for u in a.landing_pages} - {None}
    pages_b = {url_key(u) for u in b.landing_pages} - {None}
    return bool(pages_a and pages_b and not pages_a & pages_b)


def _pages_of_several_datasets(entries: list[EntryRecord], keys: list[str]) -> set[str]:
    """Landing pages one list gives to differently named entries: a challenge's page for its tasks.

    Such a page names no single dataset, so it joins nothing across lists: otherwise another
    list's entry for the whole challenge would fuse every task the first list keeps apart.
    """
    # the first name key seen per (list, page): no set per page, a big build has a million pages
    first_name: dict[tuple[str, str], str] = {}
    shared: set[str] = set()
    for entry, key in zip(entries, keys):
        for url in entry.landing_pages:
            page = url_key(url)
            if page is not None and first_name.setdefault((entry.source_id, page), key) != key:
                shared.add(page)
    return shared


def _kept_apart(entries: list[EntryRecord], curation: Curation) -> tuple[set[int], list[str]]:
    """Indexes of the entries entries.tsv keeps apart, and its rows that match no entry read.

    A row applies only while the entry at its line still has the name written in the row: an
    edit of the list that moves lines must not set apart whatever entry lands there.
    """
    if not curation.apart:
        return set(), []
    apart: set[int] = set()
    found: set[str] = set()
    for i, entry in enumerate(entries):
        rule = curation.apart.get(entry.location)
        if rule is not None and name_key(rule[0]) in (name_key(entry.name),
                                                       name_key(entry.raw_name)):
            apart.add(i)
            found.add(entry.location)
    unused = [f"entries.tsv:{line} {location} {name}"
              for location, (name, line) in curation.apart.items() if location not in found]
    return apart, unused


def merge(entries: list[EntryRecord], curation: Curation) -> MergeResult:
    """Group entries (given in manifest order) into datasets."""
    keys = [curation.aliases.get(name_key(e.name), name_key(e.name)) for e in entries]
    apart, unused_apart = _kept_apart(entries, curation)
    for i in apart:
        keys[i] = f"{keys[i]}@{entries[i].location}"  # a key no other entry has: no name joins it
    groups = _Groups(keys, curation.different)
    refused: list[str] = []

    def join(a: int, b: int, why: str) -> None:
        if not groups.union(a, b):
            refused.append(f"{entries[a].name} ({entries[a].location}) ~ {entries[b].name} "
                           f"({entries[b].location}): {why}, kept apart by curation/merge.tsv")

    first_by_key: dict[str, int] = {}
    for i, key in enumerate(keys):
        if key not in first_by_key:
            first_by_key[key] = i
            continue
        first = entries[first_by_key[key]]
        if first.source_id == entries[i].source_id and _different_links(first, entries[i]):
            refused.append(f"{first.name} ({first.location}) ~ {entries[i].name} ({entries[i].location}): "
                           "same name in one list but different links, kept apart")
            continue
        join(first_by_key[key], i, "same name")
    for a_key, b_key in curation.same:
        if a_key in first_by_key and b_key in first_by_key:
            join(first_by_key[a_key], first_by_key[b_key], "curated as the same dataset")
    # an entry kept apart says nothing about which pages its list shares between datasets
    shared = (_pages_of_several_datasets([e for i, e in enumerate(entries) if i not in apart],
                                         [k for i, k in enumerate(keys) if i not in apart])
              if apart else _pages_of_several_datasets(entries, keys))
    first_by_url: dict[str, int] = {}
    for i, entry in enumerate(entries):
        if i in apart:
            continue
        for url in entry.landing_pages:
            key = url_key(url)
            if key is None or key in shared:
                continue
            if key in first_by_url and entries[first_by_url[key]].source_id != entry.source_id:
                join(first_by_url[key], i, f"same landing page {url}")
            first_by_url.setdefault(key, i)
    unused = [where for (a_key, b_key), where in curation.written.items()
              if a_key not in first_by_key or b_key not in first_by_key] + unused_apart
    clusters: dict[int, list[int]] = {}
    for i in range(len(entries)):
        clusters.setdefault(groups.find(i), []).append(i)
    roots = sorted(clusters)
    slugs = _slugs(entries, [r for r in roots if r not in apart] + [r for r in roots if r in apart])
    datasets = [Dataset(slugs[root], entries[root].name, [entries[i] for i in clusters[root]])
                for root in roots]
    kept = [f"{entries[i].name} ({entries[i].location}): a dataset of its own, {slugs[i]} "
            f"(entries.tsv:{curation.apart[entries[i].location][1]})" for i in sorted(apart)]
    return MergeResult(datasets, refused, unused, kept)


def _slugs(entries: list[EntryRecord], roots: list[int]) -> dict[int, str]:
    """A unique slug per group root, from its first entry's name, given out in `roots` order."""
    slugs: dict[int, str] = {}
    used: set[str] = set()
    for root in roots:
        slug = base = slugify(entries[root].name)
        n = 2
        while slug in used:
            slug, n = f"{base}-{n}", n + 1
        used.add(slug)
        slugs[root] = slug
    return slugs
