"""RDF dumps read back by rdflib, pyoxigraph (and rapper where installed) give the fixture's graph
exactly; the JSON-LD dump reads offline, passes `medkg validate` and is the same on every run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import rdflib
from export_helpers import (
    REPO,
    assert_validated_alike,
    fixture_dataset,
    fixture_union,
    oxigraph_jsonld,
    pyld_graph,
    rdflib_jsonld,
)
from rdflib.compare import isomorphic

from medkg.export import ExportError, export, jsonld, sorted_runs
from medkg.export.context import load_context, write_json
from medkg.export.jsonld import compact_document
from medkg.export.terms import to_rdflib_triple
from medkg.store import open_read_only

TRIPLE_FORMATS = {"ttl": "turtle", "nt": "nt", "rdfxml": "xml"}
QUAD_FORMATS = {"nq": "nquads", "trig": "trig"}
RAPPER_SYNTAX = {
    "ttl": "turtle", "nt": "ntriples", "rdfxml": "rdfxml", "nq": "nquads", "trig": "trig",
}  # fmt: skip


@pytest.mark.parametrize("fmt", sorted(TRIPLE_FORMATS))
def test_triple_dumps_hold_the_union_graph(export_settings, out_dir: Path, fmt: str) -> None:
    path = export(export_settings, fmt, out_dir / f"graph.{fmt}", quiet=True)
    graph = rdflib.Graph()
    graph.parse(path, format=TRIPLE_FORMATS[fmt])
    assert isomorphic(graph, fixture_union())


def test_the_union_is_sorted_in_runs_and_holds_each_triple_once(
    export_settings, out_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sorted_runs, "RUN_TRIPLES", 20)  # the fixture's quads in many sorted runs
    monkeypatch.setattr(sorted_runs, "OPEN_RUNS", 4)  # and runs merged into one as they come
    path = export(export_settings, "nt", out_dir / "graph.nt", quiet=True)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines == sorted(set(lines))  # sorted, and no triple twice
    store = open_read_only(export_settings.store)
    assert len(store) > len(lines) > 10 * 20  # several runs; triples of several lists once
    assert {str(q.triple) + " ." for q in store} == set(lines)
    assert [p.name for p in out_dir.iterdir()] == ["graph.nt"]  # no scratch left


def test_jsonld_dump_in_batches_is_the_union_graph_compacted_whole(
    export_settings, out_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jsonld, "SUBJECTS_PER_BATCH", 3)  # the fixture's subjects in many batches
    monkeypatch.setattr(jsonld, "NODES_PER_RUN", 5)  # their nodes in many sorted runs
    monkeypatch.setattr(sorted_runs, "OPEN_RUNS", 4)  # merged into one as they come
    path = export(export_settings, "jsonld", out_dir / "graph.jsonld", quiet=True)
    union = rdflib.Graph()
    for quad in open_read_only(export_settings.store):
        union.add(to_rdflib_triple(quad.triple))
    whole = write_json(compact_document(union, load_context(export_settings)), out_dir / "w.json")
    assert len(json.loads(whole.read_bytes())["@graph"]) > 5 * 4  # more node runs than open
    assert path.read_bytes() == whole.read_bytes()
    assert sorted(p.name for p in out_dir.iterdir()) == ["graph.jsonld", "w.json"]  # no scratch


def test_jsonld_dump_counts_its_nodes_on_stderr_unless_quiet(
    export_settings, out_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export(export_settings, "jsonld", out_dir / "loud.jsonld", quiet=False)
    assert "JSON-LD nodes" in capsys.readouterr().err
    export(export_settings, "jsonld", out_dir / "quiet.jsonld", quiet=True)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("fmt", sorted(QUAD_FORMATS))
def test_quad_dumps_keep_every_named_graph(export_settings, out_dir: Path, fmt: str) -> None:
    path = export(export_settings, fmt, out_dir / f"graph.{fmt}", quiet=True)
    dumped = rdflib.Dataset()
    dumped.parse(path, format=QUAD_FORMATS[fmt])
    expected = fixture_dataset()
    names = {g.identifier for g in expected.graphs() if len(g)}
    assert {g.identifier for g in dumped.graphs() if len(g)} == names
    for name in names:
        assert isomorphic(dumped.graph(name), expected.graph(name)), name


def test_jsonld_dump_carries_the_published_context_inline(export_settings, out_dir: Path) -> None:
    path = export(export_settings, "jsonld", out_dir / "graph.jsonld", quiet=True)
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["@context"] == load_context(export_settings)
    # keys read as plain JSON: the dataset nodes use the context's short names
    camelyon = next(n for n in document["@graph"] if n["@id"].endswith("/dataset/camelyon16"))
    assert "altLabel" in camelyon and "organ" in camelyon
    assert isomorphic(pyld_graph(document, export_settings), fixture_union())


def test_jsonld_dump_reads_offline_as_the_ntriples_dump(
    export_settings, out_dir: Path, no_network: None
) -> None:
    """rdflib and pyoxigraph, with no network, read the same triples as from the N-Triples."""
    path = export(export_settings, "jsonld", out_dir / "graph.jsonld", quiet=True)
    ntriples = rdflib.Graph().parse(
        export(export_settings, "nt", out_dir / "graph.nt", quiet=True), format="nt"
    )
    assert isomorphic(rdflib_jsonld(path), ntriples)
    assert isomorphic(oxigraph_jsonld(path), ntriples)


def test_medkg_validate_reads_the_jsonld_dump_as_the_ntriples_dump(
    export_settings, out_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    jsonld = export(export_settings, "jsonld", out_dir / "g.jsonld", quiet=True)
    ntriples = export(export_settings, "nt", out_dir / "g.nt", quiet=True)
    assert_validated_alike(jsonld, ntriples, monkeypatch)


def test_jsonld_dump_context_follows_the_configured_base(export_settings, out_dir: Path) -> None:
    settings = replace(export_settings, base="https://example.org/kg/")
    path = export(settings, "jsonld", out_dir / "graph.jsonld", quiet=True)
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["@context"]["mkg"] == "https://example.org/kg/ontology#"
    assert isomorphic(rdflib_jsonld(path), fixture_union())


# one export in a fresh interpreter: argv is store, home, format, output
EXPORT_SCRIPT = """
import sys
from dataclasses import replace
from pathlib import Path
from medkg.config import load_settings
from medkg.export import ExportError, export, sorted_runs
store, home, fmt, out = sys.argv[1:]
export(replace(load_settings(store=store, home=home), home=Path(home)), fmt, Path(out), quiet=True)
"""


def _export_in_new_process(settings, fmt: str, out: Path, hash_seed: str) -> bytes:
    """An export by a new interpreter whose string hashing is seeded with `hash_seed`."""
    path = os.pathsep.join(filter(None, [str(REPO / "src"), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": path}
    command = [sys.executable, "-c", EXPORT_SCRIPT,
               str(settings.store), str(settings.home), fmt, str(out)]  # fmt: skip
    result = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return out.read_bytes()


@pytest.mark.parametrize("fmt, name", [("jsonld", "graph.jsonld"), ("dcat", "catalogue.jsonld")])
def test_jsonld_exports_are_the_same_bytes_on_every_run(
    export_settings, out_dir: Path, fmt: str, name: str
) -> None:
    """rdflib's JSON-LD order follows string hashing, which differs between interpreters."""
    runs = [
        _export_in_new_process(export_settings, fmt, out_dir / seed / name, seed)
        for seed in ("1", "2", "3")
    ]
    assert runs[0] == runs[1] == runs[2]


@pytest.mark.skipif(shutil.which("rapper") is None, reason="rapper (raptor2-utils) not installed")
@pytest.mark.parametrize("fmt", sorted(RAPPER_SYNTAX))
def test_rapper_parses_each_dump(export_settings, out_dir: Path, fmt: str) -> None:
    path = export(export_settings, fmt, out_dir / f"graph.{fmt}", quiet=True)
    result = subprocess.run(
        ["rapper", "-q", "-i", RAPPER_SYNTAX[fmt], "-o", "nquads", str(path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    reread = rdflib.Dataset()
    reread.parse(data=result.stdout, format="nquads")
    union = rdflib.Graph()
    for s, p, o, _ in reread.quads():
        union.add((s, p, o))
    assert isomorphic(union, fixture_union())
    if fmt in QUAD_FORMATS:
        assert len(result.stdout.splitlines()) == sum(1 for _ in fixture_dataset().quads())


def _store_with(store_dir: Path, nquads: str) -> Path:
    from medkg.store import StagedVersion

    staged = StagedVersion(store_dir)
    staged.load_nquads(nquads.encode("utf-8"))
    staged.publish({})
    return store_dir


def test_rdfxml_refuses_a_predicate_it_cannot_name(export_settings, out_dir: Path) -> None:
    """pyoxigraph wrote `<oxprefix: xmlns:oxprefix=".../123">`, which no XML parser reads; a
    predicate that ends in an XML name (even after digits, or not in ASCII) still writes."""
    graph = "<https://w3id.org/medkg/graph/catalogue>"
    fine = ("http://example.org/1ab", "http://example.org/größe")
    lines = [f'<http://example.org/s> <{p}> "x"@en-GB {graph} .' for p in fine]
    settings = replace(export_settings, store=_store_with(out_dir / "ok", "\n".join(lines)))
    path = export(settings, "rdfxml", out_dir / "ok.rdf", quiet=True)
    read = rdflib.Graph().parse(path, format="xml")
    assert {str(p) for p in read.predicates()} == set(fine)
    bad = f'<http://example.org/s> <http://example.org/123> "x" {graph} .'
    settings = replace(export_settings, store=_store_with(out_dir / "bad", bad))
    with pytest.raises(ExportError, match="http://example.org/123"):
        export(settings, "rdfxml", out_dir / "bad.rdf", quiet=True)
    assert not (out_dir / "bad.rdf").exists()
