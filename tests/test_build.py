"""End-to-end builds of the tiny lists: graph content, provenance, stability, atomicity."""

from __future__ import annotations

import gc
import inspect
import json
import re
from pathlib import Path

import pyoxigraph as ox
import pytest

from medkg import build as build_module
from medkg.build import ValidationFailed, build
from medkg.config import Settings
from medkg.namespaces import Namespaces
from medkg.query import run
from medkg.sources import SourceError
from medkg.store import current_version, open_read_only, read_report


def select(settings: Settings, query: str) -> list[dict[str, str]]:
    rows = run(open_read_only(settings.store), query, Namespaces(settings.base))
    assert isinstance(rows, ox.QuerySolutions)
    names = [v.value for v in rows.variables]
    return [{n: (r[n].value if r[n] is not None else None) for n in names} for r in rows]


@pytest.fixture
def built(mini_settings: Settings) -> dict:
    return build(mini_settings)


def test_report_accounts_for_every_row(built: dict) -> None:
    per_source = {s["id"]: s for s in built["sources"]}
    assert per_source["tables"]["entries"] == 5
    assert per_source["numbered"]["entries"] == 4
    assert per_source["headings"]["entries"] == 3
    for source in built["sources"]:
        assert source["rows_read"] == source["entries"] + len(source["skipped"])
    assert built["validation"]["conforms"] is True
    assert any(u["text"] == "Zorgbladder" and u["line"] == 8 for u in built["unmatched_mentions"])


def test_report_is_written_beside_the_store(built: dict, mini_settings: Settings) -> None:
    on_disk = json.loads((mini_settings.store / "report.json").read_text())
    assert on_disk["version"] == built["version"] == current_version(mini_settings.store)


def test_duplicates_across_lists_merge_with_all_names(built: dict, mini_settings: Settings) -> None:
    rows = select(mini_settings, """SELECT ?ds (COUNT(DISTINCT ?list) AS ?lists) WHERE {
        ?ds a mkg:Dataset ; skos:altLabel "Breast Beta" ; prov:wasDerivedFrom/mkg:inList ?list }
        GROUP BY ?ds""")
    assert rows == [{"ds": "https://w3id.org/medkg/dataset/breastbeta", "lists": "3"}]
    names = {r["n"] for r in select(mini_settings, """SELECT ?n WHERE {
        <https://w3id.org/medkg/dataset/breastbeta> skos:altLabel ?n }""")}
    assert {"BreastBeta", "Breast-Beta", "Breast Beta"} <= names
    # a list's footnote markers are no part of a name: the cell's exact text stays on its entry
    assert not any("[" in name for name in names)
    raw = {r["raw"] for r in select(mini_settings, """SELECT ?raw WHERE {
        <https://w3id.org/medkg/dataset/breastbeta> prov:wasDerivedFrom/mkg:rawName ?raw }""")}
    assert "Breast-Beta [1a], [1b]" in raw


def test_conflicting_dates_keep_their_source(built: dict, mini_settings: Settings) -> None:
    rows = select(mini_settings, """SELECT ?date ?g WHERE { GRAPH ?g {
        <https://w3id.org/medkg/dataset/breastbeta> dcterms:issued ?date } } ORDER BY ?date""")
    assert rows == [
        {"date": "2018", "g": "https://w3id.org/medkg/graph/source/tables"},
        {"date": "2019", "g": "https://w3id.org/medkg/graph/source/numbered"},
    ]


def test_provenance_reaches_list_and_line(built: dict, mini_settings: Settings) -> None:
    rows = select(mini_settings, """SELECT ?file ?line WHERE {
        <https://w3id.org/medkg/dataset/lungalpha> prov:wasDerivedFrom ?e .
        ?e mkg:inList/mkg:fileName ?file ; mkg:line ?line }""")
    assert rows == [{"file": "tables.md", "line": "13"}]


def test_default_graph_includes_ontology_and_vocabularies(built: dict, mini_settings: Settings) -> None:
    rows = select(mini_settings, """SELECT (COUNT(*) AS ?n) WHERE {
        ?c a skos:Concept ; skos:prefLabel ?l . FILTER(LANG(?l) = "en") }""")
    assert int(rows[0]["n"]) > 50
    rows = select(mini_settings, "SELECT ?v WHERE { <https://w3id.org/medkg/ontology> owl:versionInfo ?v }")
    assert rows


def test_iris_are_stable_across_builds(mini_settings: Settings, tmp_path: Path) -> None:
    query = "SELECT ?ds WHERE { ?ds a mkg:Dataset } ORDER BY ?ds"
    build(mini_settings)
    first = select(mini_settings, query)
    other = Settings(home=mini_settings.home, store=tmp_path / "other")
    build(other)
    assert select(other, query) == first
    assert len(first) == 10


def test_failed_build_keeps_previous_store(mini_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    build(mini_settings)
    before = current_version(mini_settings.store)
    with pytest.raises(SourceError):
        build(mini_settings, extra=["/nonexistent/list.md"])
    assert current_version(mini_settings.store) == before

    def failing_validation(settings, result, staged):
        return {"conforms": False, "counts": {"Violation": 1, "Warning": 0, "Info": 0},
                "seconds": 0, "text": "1 violation"}

    monkeypatch.setattr(build_module, "validate", failing_validation)
    with pytest.raises(ValidationFailed):
        build(mini_settings)
    assert current_version(mini_settings.store) == before
    assert not list((mini_settings.store / "versions").glob(".staging-*"))


def test_a_build_while_another_writes_fails_and_keeps_both(mini_settings: Settings) -> None:
    from medkg.store import StagedVersion

    build(mini_settings, run_validation=False)
    before = current_version(mini_settings.store)
    other = StagedVersion(mini_settings.store)  # another build, still loading
    try:
        with pytest.raises(build_module.BuildError, match="another build or update"):
            build(mini_settings, run_validation=False, wait=0)
        with pytest.raises(build_module.BuildError,
                           match=r"another build or update.*\(waited 0\.2 s for it\)"):
            build(mini_settings, run_validation=False, wait=0.2)  # bounded: gives up
        assert current_version(mini_settings.store) == before
        assert other.dir.is_dir()
    finally:
        other.abandon()


def test_a_build_that_may_wait_publishes_once_the_other_writer_is_done(
    mini_settings: Settings,
) -> None:
    import threading

    from medkg.store import StagedVersion

    build(mini_settings, run_validation=False)
    before = current_version(mini_settings.store)
    other = StagedVersion(mini_settings.store)  # an update holding the writer lock a moment
    finish = threading.Timer(0.3, other.abandon)
    finish.start()
    try:
        report = build(mini_settings, run_validation=False, wait=60)
    finally:
        finish.join()
    assert not other.dir.exists()  # the other writer finished before this build wrote
    assert current_version(mini_settings.store) == report["version"] != before


def test_a_build_publishes_its_version_compacted(
    mini_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only an update's small change to a linked copy skips the full compaction; a build not."""
    publish = build_module.StagedVersion.publish
    compacted: list[object] = []

    def recording(staged: object, *args: object, **kwargs: object) -> object:
        bound = inspect.signature(publish).bind(staged, *args, **kwargs)
        bound.apply_defaults()
        compacted.append(bound.arguments["compact"])
        return publish(staged, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(build_module.StagedVersion, "publish", recording)
    build(mini_settings)
    assert compacted == [True]


def test_store_error_mid_load_abandons_the_staging(mini_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    build(mini_settings)
    before = current_version(mini_settings.store)

    def explode(self, quads):
        raise OSError("disk full")

    monkeypatch.setattr(build_module.StagedVersion, "load_quads", explode)
    with pytest.raises(OSError):
        build(mini_settings, run_validation=False)
    assert current_version(mini_settings.store) == before
    assert not list((mini_settings.store / "versions").glob(".staging-*"))


def test_merge_and_store_load_run_with_the_cyclic_collector_paused(
    mini_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, bool] = {}
    real_merge, real_load = build_module.merge, build_module.StagedVersion.load_quads

    def merge(entries, curation):  # type: ignore[no-untyped-def]
        seen["merge"] = gc.isenabled()
        return real_merge(entries, curation)

    def load_quads(self, quads):  # type: ignore[no-untyped-def]
        seen["load"] = gc.isenabled()
        return real_load(self, quads)

    monkeypatch.setattr(build_module, "merge", merge)
    monkeypatch.setattr(build_module.StagedVersion, "load_quads", load_quads)
    assert gc.isenabled()
    build(mini_settings, run_validation=False)
    assert seen == {"merge": False, "load": False}
    assert gc.isenabled()  # restored after the build



def test_a_builds_records_are_kept_out_of_the_collectors_passes_until_it_ends(
    mini_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    frozen: dict[str, int] = {}
    real_docs = build_module.build_docs

    def build_docs(settings, out_dir):  # type: ignore[no-untyped-def]
        # the first step after the store load that runs with the collector on
        frozen["docs"] = gc.get_freeze_count()
        records = [obj for obj in gc.get_objects() if isinstance(obj, build_module.EntryRecord)]
        frozen["records tracked"] = len(records)
        return real_docs(settings, out_dir)

    monkeypatch.setattr(build_module, "build_docs", build_docs)
    assert gc.get_freeze_count() == 0
    build(mini_settings, run_validation=False)
    assert frozen["docs"] > 0
    # frozen objects are out of every generation the collector walks
    assert frozen["records tracked"] == 0
    assert gc.get_freeze_count() == 0  # thawed when the build ended


def test_a_build_thaws_only_what_it_froze(mini_settings: Settings) -> None:
    gc.freeze()  # a process that froze its own objects first (a server preloading before a fork)
    try:
        before = gc.get_freeze_count()
        build(mini_settings, run_validation=False)
        assert gc.get_freeze_count() >= before  # not thawed by the build
    finally:
        gc.unfreeze()
    with build_module.cyclic_gc_paused():
        pass
    assert gc.get_freeze_count() == 0  # a paused step outside a build freezes nothing


def test_a_reading_process_freezes_what_its_reads_leave_alive(
    mini_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # what _read_parallel's processes run, here in this process
    monkeypatch.setattr(build_module, "_frozen_scopes", 0)
    monkeypatch.setattr(build_module, "_worker_reader", None)
    assert gc.get_freeze_count() == 0
    build_module._init_worker(mini_settings)
    try:
        result = build_module._read_in_worker(build_module.collect_sources(mini_settings)[0])
        assert result.records and gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()

def test_the_collector_is_restored_when_a_paused_step_fails() -> None:
    assert gc.isenabled()
    with pytest.raises(RuntimeError), build_module.cyclic_gc_paused():
        assert not gc.isenabled()
        raise RuntimeError("a failed step")
    assert gc.isenabled()
    gc.disable()
    try:
        with build_module.cyclic_gc_paused():
            pass
        assert not gc.isenabled()  # left as it was found
    finally:
        gc.enable()


def test_the_reported_quad_count_is_the_stored_one(real_settings: Settings) -> None:
    # the real lists name some datasets twice in one list (the same facts in the same graph)
    report = build(real_settings, run_validation=False)
    stored = open_read_only(real_settings.store)
    assert report["quads"] == len(stored)
    assert read_report(real_settings.store)["quads"] == len(stored)


@pytest.mark.parametrize(
    ("scope", "message"),
    [
        ('modality = "whole slide imagin"', "scope modality = 'whole slide imagin' names no"),
        ('orgn = "breast"', "unknown scope key 'orgn'"),
    ],
)
def test_a_manifest_scope_that_names_nothing_fails_the_build(
    mini_settings: Settings, scope: str, message: str
) -> None:
    build(mini_settings, run_validation=False)
    before = current_version(mini_settings.store)
    manifest = mini_settings.data_dir / "manifest.toml"
    text = manifest.read_text(encoding="utf-8")
    # the first source gets the scope (appended to its table, before the next [[source]])
    first_end = text.index("[[source]]", text.index("[[source]]") + 1)
    manifest.write_text(text[:first_end] + f"[source.scope]\n{scope}\n\n" + text[first_end:],
                        encoding="utf-8")
    with pytest.raises(SourceError, match=re.escape(message)):
        build(mini_settings, run_validation=False)
    assert current_version(mini_settings.store) == before


def test_extra_sources_merge_with_manifest_lists(mini_settings: Settings, tmp_path: Path) -> None:
    extra = tmp_path / "new-list.md"
    extra.write_text("# New\n\n| Name | Modality | Organ |\n|---|---|---|\n| LungAlpha | CT | lung |\n"
                     "| Brand New Set | MRI | brain |\n", encoding="utf-8")
    report = build(mini_settings, extra=[str(extra)])
    assert report["sources"][-1]["id"] == "new-list"
    rows = select(mini_settings, """SELECT ?list WHERE {
        <https://w3id.org/medkg/dataset/lungalpha> prov:wasDerivedFrom/mkg:inList ?list } ORDER BY ?list""")
    assert [r["list"] for r in rows] == ["https://w3id.org/medkg/source/new-list",
                                         "https://w3id.org/medkg/source/tables"]


@pytest.mark.parametrize(("prop", "ancestor", "expected"), [
    ("mkg:organ", "https://w3id.org/medkg/anatomy/digestive-system", {"deltanuc"}),
    ("mkg:modality", "https://w3id.org/medkg/modality/mri", {"gammaseg"}),
    ("mkg:stain", "https://w3id.org/medkg/stain/ihc", {"deltanuc"}),
    ("mkg:organ", "https://w3id.org/medkg/anatomy/thorax",
     {"lungalpha", "breastbeta", "placeholder-set", "shiftedset"}),  # "Chest" heading or text
])
def test_hierarchy_queries_find_datasets_through_broader(built: dict, mini_settings: Settings, prop: str,
                                                        ancestor: str, expected: set[str]) -> None:
    found = select(mini_settings, f"""SELECT DISTINCT ?ds WHERE {{
        ?ds a mkg:Dataset ; {prop}/skos:broader* <{ancestor}> }}""")
    assert {r["ds"].rsplit("/", 1)[-1] for r in found} == expected


def test_build_validation_finds_what_pyshacl_finds(mini_settings: Settings) -> None:
    """The build validates with the shapes compiled to SPARQL; pyshacl on the same store agrees."""
    from medkg.graph import quads_to_rdflib
    from medkg.validation import validate_graph

    report = build(mini_settings)["validation"]
    reference = validate_graph(quads_to_rdflib(open_read_only(mini_settings.store)), mini_settings)
    assert report["method"] == "shapes compiled to SPARQL"
    assert report["counts"] == {sev: sum(1 for i in reference.issues if i.severity == sev)
                                for sev in ("Violation", "Warning", "Info")}
    assert report["conforms"] == reference.conforms


def test_large_inputs_are_read_in_parallel_with_the_same_records(mini_settings: Settings,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from medkg.build import collect_sources, read_all

    sources = collect_sources(mini_settings)
    serial, _ = read_all(mini_settings, sources)
    monkeypatch.setattr(build_module, "PARALLEL_BYTES", 0)
    parallel, _ = read_all(mini_settings, sources)
    assert [r.records for r in parallel] == [r.records for r in serial]
    assert [r.skips for r in parallel] == [r.skips for r in serial]


def test_links_that_are_not_urls_are_reported_with_their_line(
    mini_settings: Settings, write_list
) -> None:
    lists = write_list(
        "odd-links",
        "# Odd links\n\n| Dataset | Link |\n|---|---|\n"
        "| Bad Scheme Set | [data](htps//example.org/bad) |\n"
        "| Relative Set | [page](./resources/relative.md) [site](https://example.org/ok) |\n",
    )
    report = build(mini_settings, extra=[str(lists)], run_validation=False)
    dropped = [d for d in report["dropped_links"] if d["file"] == "odd-links.md"]
    assert dropped == [
        {"source": "odd-links", "file": "odd-links.md", "line": 5, "href": "htps//example.org/bad"},
        {"source": "odd-links", "file": "odd-links.md", "line": 6,
         "href": "./resources/relative.md"},
    ]
    # the entries themselves are kept, with the links that are URLs
    landing = select(mini_settings, """
        SELECT ?page WHERE { ?d <http://purl.org/dc/terms/title> "Relative Set" ;
                               <http://www.w3.org/ns/dcat#landingPage> ?page }""")
    assert landing == [{"page": "https://example.org/ok"}]


def test_a_list_that_joins_two_published_datasets_reports_the_iri_that_goes(
    mini_settings: Settings, write_list
) -> None:
    first = build(mini_settings, run_validation=False)
    assert first["datasets_gone"] == []
    # one row: LungAlpha's name, BreastBeta's landing page
    lists = write_list(
        "bridge",
        "# Bridge\n\n| Dataset | Link |\n|---|---|\n"
        "| LungAlpha | [site](https://example.org/breastbeta) |\n",
    )
    second = build(mini_settings, extra=[str(lists)], run_validation=False)
    ns = Namespaces(mini_settings.base)
    assert second["datasets_gone"] == [
        {"iri": ns.dataset("breastbeta"), "now_in": ns.dataset("lungalpha")}
    ]
    assert read_report(mini_settings.store)["datasets_gone"] == second["datasets_gone"]
    # without the new list the build gives the IRI back, and says nothing went
    assert build(mini_settings, run_validation=False)["datasets_gone"] == []


def test_every_typed_resource_of_a_real_build_is_the_focus_of_some_shape(
    real_settings: Settings,
) -> None:
    import rdflib
    from rdflib.namespace import RDFS, SH

    build(real_settings, run_validation=False)
    shapes = rdflib.Graph().parse(real_settings.ontology_dir / "shapes.ttl")
    ontology = rdflib.Graph().parse(real_settings.ontology_dir / "medkg.ttl")
    targeted = {str(c) for c in shapes.objects(None, SH.targetClass)}
    nodes = {str(n) for n in shapes.objects(None, SH.targetNode)}
    # a shape's target class takes in the instances of its subclasses
    for sub, sup in ontology.subject_objects(RDFS.subClassOf):
        if str(sup) in targeted:
            targeted.add(str(sub))
    ontology_graph = Namespaces(real_settings.base).graph("ontology")  # OWL's own declarations
    rows = select(real_settings, f"""SELECT DISTINCT ?s ?c WHERE {{
        GRAPH ?g {{ ?s a ?c }} FILTER(?g != <{ontology_graph}>) }}""")
    types: dict[str, set[str]] = {}
    for row in rows:
        types.setdefault(row["s"], set()).add(row["c"])
    loose = {s: sorted(c) for s, c in types.items() if not (c & targeted) and s not in nodes}
    assert loose == {}


def test_an_entry_curated_apart_is_its_own_dataset_and_in_the_report(
    mini_settings: Settings,
) -> None:
    table = mini_settings.data_dir / "curation" / "entries.tsv"
    table.write_text("entry\tname\treason\nnumbered:5\tBreast-Beta\ttest: describes another "
                     "dataset\n", encoding="utf-8")
    report = build(mini_settings)
    assert report["entries_kept_apart"] == [
        "Breast-Beta (numbered:5): a dataset of its own, breast-beta (entries.tsv:2)"]
    rows = select(mini_settings, """SELECT ?ds (COUNT(DISTINCT ?list) AS ?lists) WHERE {
        ?ds a mkg:Dataset ; prov:wasDerivedFrom/mkg:inList ?list ;
            skos:altLabel ?n FILTER(?n IN ("Breast Beta", "Breast-Beta")) }
        GROUP BY ?ds ORDER BY ?ds""")
    assert rows == [{"ds": "https://w3id.org/medkg/dataset/breast-beta", "lists": "1"},
                    {"ds": "https://w3id.org/medkg/dataset/breastbeta", "lists": "2"}]


def test_the_largest_collections_question_leaves_out_counts_of_one_split(
    mini_settings: Settings, write_list,  # type: ignore[no-untyped-def]
) -> None:
    folder = write_list("sizes", "# Sizes\n\n| Dataset | Size |\n|---|---|\n"
                                 "| Split Giant | Train: 9000000 images, Test: 14 images |\n"
                                 "| Whole Giant | 8000000 images |\n")
    build(mini_settings, extra=[folder])
    rows = select(mini_settings, """SELECT ?n ?split WHERE {
        ?d skos:altLabel "Split Giant" ; mkg:count ?c . ?c rdf:value ?n ; mkg:split ?split }
        ORDER BY ?n""")
    assert rows == [{"n": "14", "split": "test"}, {"n": "9000000", "split": "train"}]
    question = (Path(__file__).resolve().parents[1] / "data" / "example-queries"
                / "13-largest-image-collections.rq").read_text(encoding="utf-8")
    largest = select(mini_settings, question)
    assert largest[0] == {"title": "Whole Giant", "n": "8000000", "unit": "images"}
    assert all(r["title"] != "Split Giant" for r in largest)


def test_label_classes_reach_the_graph_with_their_list(mini_settings: Settings) -> None:
    folder = Path(__file__).resolve().parent / "fixtures" / "label-classes"
    report = build(mini_settings, extra=[str(folder)])
    rows = select(mini_settings, """SELECT ?class ?g ?line WHERE {
        GRAPH ?g { <https://w3id.org/medkg/dataset/slash-kept-whole> mkg:labelClass ?class }
        <https://w3id.org/medkg/dataset/slash-kept-whole> prov:wasDerivedFrom/mkg:line ?line }
        ORDER BY ?class""")
    graph = "https://w3id.org/medkg/graph/source/label-classes"
    assert rows == [{"class": c, "g": graph, "line": "8"}
                    for c in ("dysplastic/malignant epithelial", "muscle", "other")]
    counts = select(mini_settings, """SELECT ?slug ?n WHERE { ?d mkg:classCount ?n .
        BIND(STRAFTER(STR(?d), "/dataset/") AS ?slug) } ORDER BY ?slug""")
    assert [(r["slug"], r["n"]) for r in counts] == [
        ("bare-count", "21"), ("binary-alone", "2"), ("binary-slash", "2"),
        ("categories-of", "7"), ("counted-classes", "4"), ("counted-names", "6"),
        ("miscounted", "2"), ("one-category", "1"), ("slash-kept-whole", "3"),
        ("unbracketed", "3")]
    # names without a count give no count; qualifiers give neither
    assert not select(mini_settings, """SELECT ?p WHERE {
        { <https://w3id.org/medkg/dataset/versus> mkg:classCount ?p }
        UNION { <https://w3id.org/medkg/dataset/qualifiers> mkg:labelClass|mkg:classCount ?p } }""")
    # a list naming another number of classes than it states: reported with file and line,
    # the stated count kept, and a warning in validation (not a violation)
    assert report["label_class_mismatches"] == [{
        "source": "label-classes", "file": "label-classes.md", "line": 17,
        "text": "2: benign, malignant, normal", "count": 2,
        "names": ["benign", "malignant", "normal"]}]
    assert report["validation"]["conforms"]
    assert "class count 2 is below the 3 label classes the lists name" in (
        report["validation"]["text"])
    # class names are no unmatched task mentions; qualifiers still are
    unmatched = {(u["line"], u["text"]) for u in report["unmatched_mentions"]
                 if u["source"] == "label-classes"}
    assert (18, "wsi level") in unmatched
    assert not {text for _, text in unmatched} & {"mitosis", "benign", "malignant", "no cancer"}
