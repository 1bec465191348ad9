"""Run the pipeline: sources -> records -> merge -> quads -> validation -> store, with a report."""

from __future__ import annotations

import gc
import multiprocessing
import os
import re
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyoxigraph as ox
from tqdm import tqdm

from medkg import __version__
from medkg.config import Settings
from medkg.docs import build_docs
from medkg.extract import Rules, check_scope, extract_parts, load_rules
from medkg.graph import dataset_quads, rdflib_to_quads
from medkg.markdown import parse_parts
from medkg.merge import Dataset, load_curation, merge
from medkg.namespaces import Namespaces, slugify
from medkg.ontology import ontology_graph, vocabulary_graph
from medkg.records import EntryRecord, Skip
from medkg.sources import Source, SourceText, extra_sources, load_manifest, read_source
from medkg.store import (
    DOCS,
    StagedVersion,
    StoreBusy,
    StoreError,
    current_version_dir,
    open_read_only,
    version_facts,
)
from medkg.vocabulary import build_vocabulary

MAPPED_KINDS = ("anatomy", "modality", "stain")
PARALLEL_BYTES = 1024 * 1024  # below this, starting processes costs more than it saves


class BuildError(Exception):
    """The build could not finish; the published store is unchanged."""


class ValidationFailed(BuildError):
    """The built graph violates the SHACL shapes."""

    def __init__(self, message: str, report: dict[str, Any]):
        super().__init__(message)
        self.report = report


RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
HTML_START = re.compile(r"\s*(?:<!doctype\s+html|<html)", re.IGNORECASE)


@dataclass
class SourceResult:
    text: SourceText
    records: list[EntryRecord]
    skips: list[Skip]


@dataclass
class BuildResult:
    """Everything a build produced, before or after it reaches the store."""

    datasets: list[Dataset]
    report: dict[str, Any]
    sources: list[SourceResult]
    settings: Settings

    def iter_quads(self) -> Iterator[ox.Quad]:
        """Every quad the build stores, generated afresh on each call (never all held at once)."""
        ns = Namespaces(self.settings.base)
        yield from dataset_quads(ns, self.datasets, [r.text for r in self.sources])
        yield from rdflib_to_quads(ontology_graph(self.settings), ns.graph("ontology"))
        yield from rdflib_to_quads(vocabulary_graph(self.settings), ns.graph("vocabulary"))

    @property
    def quads(self) -> list[ox.Quad]:
        """All quads in a list: for tests and small graphs (a large build streams iter_quads)."""
        return list(self.iter_quads())


def collect_sources(settings: Settings, extra: list[str | Path] | None = None) -> list[Source]:
    """The manifest's sources, then any given on the command line, in that order."""
    sources = load_manifest(settings.manifest)
    if extra:
        sources += extra_sources(extra, {s.id for s in sources})
    return sources


def read_all(settings: Settings, sources: list[Source], quiet: bool = True) -> tuple[list[SourceResult], Rules]:
    """Parse and extract every source (in parallel processes when the input is large)."""
    rules = load_rules(settings.data_dir)
    if _worth_parallel(sources):
        return _read_parallel(settings, sources, quiet), rules
    reader = _SourceReader(settings)
    results = [reader.read(source) for source in tqdm(sources, desc="reading lists", unit="list",
                                                      disable=quiet)]
    return results, rules


class _SourceReader:
    """Reads sources one by one with the vocabulary and rules loaded once."""

    def __init__(self, settings: Settings):
        self.ns = Namespaces(settings.base)
        self.vocab = build_vocabulary(vocabulary_graph(settings), self.ns)
        self.rules = load_rules(settings.data_dir)

    def read(self, source: Source) -> SourceResult:
        check_scope(source, self.vocab)
        text = read_source(source)
        with cyclic_gc_paused():
            # part by part: a huge list never has all its blocks in memory at once
            records, skips = extract_parts(source, parse_parts(text.text), self.vocab, self.rules,
                                           self.ns)
        return SourceResult(text, records, skips)


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for the block, then restore it as it was.

    Reading allocates millions of small objects (markdown-it's tokens, cells, records) that
    stay alive for a while: the collector's passes over them took about 60% of the read time
    and found almost nothing, since none of them form cycles (about 100 cyclic objects per
    list, from the parser instances), and reference counting frees them. Merging the records
    and generating their quads are the same: with every record alive, the collector's passes
    were three quarters of the merge and a fifth of the quad generation at 100k datasets,
    and found nothing per record (merging none at all; generating the quads, some 30,000
    objects of the vocabulary graphs it parses once, whatever the size). Any cyclic garbage
    made meanwhile is collected once the collector runs again.

    Inside `build_objects_frozen` what the block leaves alive is also frozen before the collector
    resumes, so that no later pass walks it (see there).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if _frozen_scopes:
            gc.freeze()
        if was_enabled:
            gc.enable()


_frozen_scopes = 0  # builds running in this process that keep their objects frozen


@contextmanager
def build_objects_frozen() -> Iterator[None]:
    """Keep what the build's paused steps leave alive out of the collector's passes until it ends.

    Everything made while the collector is paused sits in its youngest generation, so the first
    pass after it resumes walks every record, and full passes walk them again: at 100k datasets
    that was 2 s of reading and merging, and 1.4 s of writing the ontology's pages (which are
    the same at every size) after the store was loaded; at 1M, 14 s for the pages alone. Frozen
    objects (`gc.freeze`) are skipped by every pass and still freed by reference counting when
    they go. The build unfreezes them at its end, unless something in the process had frozen
    objects before it (a server preloading before it forks): those are not the build's to thaw.
    """
    global _frozen_scopes
    thaw = gc.get_freeze_count() == 0
    _frozen_scopes += 1
    try:
        yield
    finally:
        _frozen_scopes -= 1
        if thaw and not _frozen_scopes:
            gc.unfreeze()


def _worth_parallel(sources: list[Source]) -> bool:
    """Parsing is CPU-bound: spread lists over processes once there is enough to share."""
    local = [s.location for s in sources if s.location is not None and s.location.is_file()]
    size = sum(path.stat().st_size for path in local)
    return len(sources) > 1 and (os.cpu_count() or 1) > 1 and size > PARALLEL_BYTES


_worker_reader: _SourceReader | None = None


def _init_worker(settings: Settings) -> None:
    global _worker_reader, _frozen_scopes
    _worker_reader = _SourceReader(settings)
    # a reading process lasts as long as its pool, so what a read leaves alive may stay frozen
    # (build_objects_frozen): the records are sent back and go, and the process ends with the pool
    _frozen_scopes = 1


def _read_in_worker(source: Source) -> SourceResult:
    assert _worker_reader is not None
    return _worker_reader.read(source)


def _read_parallel(settings: Settings, sources: list[Source], quiet: bool) -> list[SourceResult]:
    # Biggest lists first so that the processes finish together; results keep manifest order.
    order = sorted(range(len(sources)), key=lambda i: -(sources[i].location.stat().st_size
                                                        if sources[i].location else 0))
    workers = min(os.cpu_count() or 1, len(sources))
    context = multiprocessing.get_context("spawn")  # no fork of a process that may hold threads
    results: dict[int, SourceResult] = {}
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                             initargs=(settings,)) as pool, cyclic_gc_paused():
        # the collector paused here too: unpickling the records is allocation-heavy in the same way
        futures = {pool.submit(_read_in_worker, sources[i]): i for i in order}
        for future in tqdm(as_completed(futures), total=len(futures), desc="reading lists",
                           unit="list", disable=quiet):
            results[futures[future]] = future.result()
    return [results[i] for i in range(len(sources))]


def assemble(settings: Settings, extra: list[str | Path] | None = None, quiet: bool = True) -> BuildResult:
    """Read and merge everything the build will store; quads come from `iter_quads` (no store)."""
    started = time.perf_counter()
    results, _ = read_all(settings, collect_sources(settings, extra), quiet)
    with cyclic_gc_paused():
        entries = [r for res in results for r in res.records]
        merged = merge(entries, load_curation(settings.data_dir))
        report = make_report(results, merged.datasets, merged.refused)
        report["curation_unused"] = merged.unused
        report["entries_kept_apart"] = merged.apart
    report["timings"] = {"assemble_s": round(time.perf_counter() - started, 3)}
    return BuildResult(merged.datasets, report, results, settings)


def make_report(results: list[SourceResult], datasets: list[Dataset], refused: list[str]) -> dict[str, Any]:
    """The build report: per source counts, skips, unmatched mentions, mapping coverage."""
    per_source: list[dict[str, Any]] = []
    coverage = {k: {"mentions": 0, "mapped": 0} for k in MAPPED_KINDS}
    unmatched: list[dict[str, Any]] = []
    mismatched: list[dict[str, Any]] = []
    dropped: list[dict[str, Any]] = []
    for res in results:
        src = res.text.source
        in_source = {d.slug for d in datasets for e in d.entries if e.source_id == src.id}
        for rec in res.records:
            for mention in rec.mentions:
                if mention.kind in coverage:
                    coverage[mention.kind]["mentions"] += 1
                    coverage[mention.kind]["mapped"] += bool(mention.concepts)
                if not mention.concepts:
                    unmatched.append({"source": src.id, "file": src.file_name, "line": rec.line,
                                      "kind": mention.kind, "field": mention.field,
                                      "text": mention.text})
            dropped.extend({"source": src.id, "file": src.file_name, "line": rec.line,
                            "href": href} for href in rec.dropped_links)
            # the stated count is kept: a list's miscount or a class split wrongly, for a person
            mismatched.extend({"source": src.id, "file": src.file_name, "line": rec.line,
                               "text": c.text, "count": c.count, "names": list(c.names)}
                              for c in rec.label_classes if c.disagrees)
        per_source.append({
            "id": src.id,
            "file": src.file_name,
            "rows_read": len(res.records) + len(res.skips),
            "entries": len(res.records),
            "datasets": len(in_source),
            "skipped": [{"file": s.file, "line": s.line, "reason": s.reason, "text": s.text}
                        for s in res.skips],
            "sha256": res.text.sha256,
            # the manifest records the digest of the copy as received: an edit since shows here
            "changed_since_received": bool(src.sha256) and src.sha256 != res.text.sha256,
        })
    total_mentions = sum(c["mentions"] for c in coverage.values())
    total_mapped = sum(c["mapped"] for c in coverage.values())
    for c in coverage.values():
        c["percent"] = round(100.0 * c["mapped"] / c["mentions"], 2) if c["mentions"] else 100.0
    return {
        "medkg_version": __version__,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "sources": per_source,
        "entries": sum(len(r.records) for r in results),
        "datasets": len(datasets),
        "datasets_in_several_lists": sum(1 for d in datasets if len({e.source_id for e in d.entries}) > 1),
        "mapping": {
            "kinds": coverage,
            "percent": round(100.0 * total_mapped / total_mentions, 2) if total_mentions else 100.0,
        },
        "unmatched_mentions": unmatched,
        "label_class_mismatches": mismatched,
        "dropped_links": dropped,
        "refused_merges": refused,
    }


def datasets_gone(settings: Settings, datasets: list[Dataset]) -> list[dict[str, str | None]]:
    """Dataset IRIs the published version has and this build does not, and where they went.

    A dataset IRI stays as long as its first entry does; one goes when its lists drop it, or
    when a new entry joins it to another dataset (a name shared with one and a landing page
    with the other). `now_in` is the dataset that holds an entry of that name now, if any.
    """
    ns = Namespaces(settings.base)
    before = _published_datasets(settings.store, ns)
    if not before:
        return []
    now = {ns.dataset(d.slug) for d in datasets}
    holder = {ns.dataset(slugify(e.name)): ns.dataset(d.slug) for d in datasets for e in d.entries}
    return [{"iri": iri, "now_in": holder.get(iri)} for iri in sorted(before - now)]


def updated_by_sparql(store_dir: Path) -> bool:
    """True when the published version holds changes made by SPARQL Update or the Graph Store.

    A build makes the graph from the lists alone, so publishing it drops those changes.
    """
    published = current_version_dir(store_dir)
    # no published version, or no readable facts: nothing says the store was written to
    return published is not None and version_facts(published).get("updated_by_sparql") is True


def _published_datasets(store_dir: Path, ns: Namespaces) -> set[str]:
    try:
        published = open_read_only(store_dir)
    except StoreError:
        return set()  # nothing published yet
    pattern = (None, ox.NamedNode(RDF_TYPE), ox.NamedNode(ns.term("Dataset")),
               ox.NamedNode(ns.graph("catalogue")))
    return {q.subject.value for q in published.quads_for_pattern(*pattern)}


class _Counter:
    """Counts the quads streaming through it into the store."""

    def __init__(self, quads: Iterator[ox.Quad]):
        self.quads = quads
        self.count = 0

    def __iter__(self) -> Iterator[ox.Quad]:
        for quad in self.quads:
            self.count += 1
            yield quad


def validate(settings: Settings, result: BuildResult, staged: ox.Store) -> dict[str, Any]:
    """Run the SHACL shapes over the staged store; returns the report's validation section.

    The shapes are compiled to SPARQL and run by Oxigraph (medkg.sparql_validation), which finds
    exactly what pyshacl finds (tests compare the two on every shape's examples) in a fraction
    of the time and memory; pyshacl stays the reference and serves `medkg validate FILE`.
    """
    from medkg.sparql_validation import validate_store_sparql
    from medkg.validation import format_report

    started = time.perf_counter()
    outcome = validate_store_sparql(staged, settings)
    return {
        "conforms": outcome.conforms,
        "counts": {sev: sum(1 for i in outcome.issues if i.severity == sev)
                   for sev in ("Violation", "Warning", "Info")},
        "method": "shapes compiled to SPARQL",
        "seconds": round(time.perf_counter() - started, 3),
        "text": format_report(outcome, settings=settings),
    }


def refuse_empty_sources(results: list[SourceResult]) -> None:
    """Fail on a list, from the manifest or --sources, that gave no dataset entry at all.

    Such a list is a mistake, not data: an HTML page where a raw markdown file was meant, or a
    table whose broken separator row makes it read as text. Publishing without it would drop
    every dataset it gave before, so the build stops and names it (the store is unchanged).
    """
    empty = [res for res in results if not res.records]
    if not empty:
        return
    named = ", ".join(f"{res.text.source.id} ({res.text.source.path})" for res in empty)
    if any(not res.text.text.strip() for res in empty):
        # a list cut to nothing (a failed copy, a cron job that fetched while it was rewritten)
        hint = "the file is empty"
    elif any(HTML_START.match(res.text.text) for res in empty):
        hint = "an HTML page, not a markdown list? give the raw file's URL"
    else:
        hint = "is its table well formed?"
    raise BuildError(f"no dataset entry read from {named} ({hint})")


def build(settings: Settings, extra: list[str | Path] | None = None, run_validation: bool = True,
          quiet: bool = True, wait: float = 0) -> dict[str, Any]:
    """Build the graph and publish it atomically into settings.store; returns the report.

    The new version is loaded beside the published one and swapped in only when every step
    succeeds (and, with validation, the graph conforms); otherwise it is deleted. Another
    writer (a build, a SPARQL update, a Graph Store write) holding the store is waited for at
    most `wait` seconds (0: not at all), then the build fails with BuildError.
    """
    with build_objects_frozen():
        return _build(settings, extra, run_validation, quiet, wait)


def _build(settings: Settings, extra: list[str | Path] | None, run_validation: bool, quiet: bool,
           wait: float) -> dict[str, Any]:
    result = assemble(settings, extra, quiet)
    refuse_empty_sources(result.sources)
    result.report["datasets_gone"] = datasets_gone(settings, result.datasets)
    settings.store.mkdir(parents=True, exist_ok=True)
    try:
        staged = StagedVersion(settings.store, wait=wait)
    except StoreBusy as exc:
        waited = f" (waited {wait:g} s for it)" if wait else ""
        raise BuildError(f"{exc}{waited}") from None
    try:
        # read under the writer lock: an update published while the lists were read counts too
        result.report["sparql_updates_dropped"] = updated_by_sparql(settings.store)
        started = time.perf_counter()
        counted = _Counter(result.iter_quads())
        with cyclic_gc_paused():
            staged.load_quads(tqdm(counted, desc="storing", unit="quad", disable=quiet,
                                   mininterval=0.5))
        result.report["quads"] = counted.count
        result.report["timings"]["store_s"] = round(time.perf_counter() - started, 3)
        if run_validation:
            result.report["validation"] = validate(settings, result, staged.db)
            if not result.report["validation"]["conforms"]:
                raise ValidationFailed("the built graph violates the SHACL shapes; store unchanged",
                                       result.report)
        else:
            result.report["validation"] = {"skipped": True}
        # the endpoint serves these pages at the ontology's IRI, version by version
        build_docs(settings, staged.dir / DOCS)
        result.report["version"] = staged.name
        staged.publish(result.report)
    except BaseException:
        staged.abandon()
        raise
    return result.report
