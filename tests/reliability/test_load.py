"""Load: 64 concurrent clients on the production server lose no request; slow queries block nothing.

The run length is MEDKG_LOAD_SECONDS (a few seconds in CI, 60 in bench/reliability_report.py).
"""

from __future__ import annotations

import itertools
import threading
import time

import pytest
import requests
from reliability_config import LOAD_CLIENTS, LOAD_SECONDS, ROOT
from reliability_figures import record
from reliability_load import Call, example_calls, run_load, tree_rss_bytes

pytestmark = pytest.mark.slow
BASE = "https://w3id.org/medkg/"
PATHOLOGICAL = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
_fresh = itertools.count()


def _resource_paths(url: str) -> list[str]:
    """Server paths of every dataset and concept, for linked-data page requests."""
    query = (
        "PREFIX mkg: <https://w3id.org/medkg/ontology#> "
        "SELECT DISTINCT ?r WHERE { { ?r a mkg:Dataset } UNION { ?r a mkg:AnatomicalEntity } "
        "UNION { ?r a mkg:ImagingModality } UNION { ?r a mkg:Challenge } }"
    )
    answer = requests.get(url + "/sparql", params={"query": query}, timeout=30)
    answer.raise_for_status()
    iris = [b["r"]["value"] for b in answer.json()["results"]["bindings"]]
    return ["/" + iri[len(BASE):] for iri in iris if iri.startswith(BASE)]


def _calls(url: str) -> list[Call]:
    calls = example_calls(ROOT / "data" / "example-queries")
    for path in _resource_paths(url):
        calls.append(Call(f"page {path}", path, accept="text/html"))
        calls.append(Call(f"turtle {path}", path, accept="text/turtle"))
    calls += [Call("browse", "/browse"), Call("stats", "/stats"), Call("void", "/void"),
              Call("health", "/health")]
    return calls


def test_every_example_question_answers_with_rows(production):
    for call in example_calls(ROOT / "data" / "example-queries"):
        answer = requests.get(production.url + call.path, params=call.params, timeout=30)
        assert answer.status_code == 200, (call.label, answer.text)
        assert answer.json()["results"]["bindings"], f"{call.label} answered no rows"


def test_sixty_four_clients_lose_no_request(production):
    live = production
    calls = _calls(live.url)
    assert len(calls) > 500  # every dataset page: most requests miss the caches at first
    rss_start = tree_rss_bytes(live.process.pid)
    result = run_load(live.url, calls, LOAD_CLIENTS, LOAD_SECONDS)
    rss_end = tree_rss_bytes(live.process.pid)
    p99 = result.percentile(0.99)
    record("load", clients=LOAD_CLIENTS, seconds=round(result.seconds, 1),
           requests=result.requests, failures=len(result.failures),
           per_second=round(result.requests / result.seconds, 1),
           p50_ms=round(result.percentile(0.5) * 1000, 1), p99_ms=round(p99 * 1000, 1),
           rss_start_mb=round(rss_start / 2**20, 1), rss_end_mb=round(rss_end / 2**20, 1))
    assert result.failures == []
    assert result.requests > LOAD_CLIENTS
    # Memory stays bounded: the caches are capped, no request leaks a process.
    assert rss_end < rss_start + 1024 * 2**20


def test_health_and_simple_queries_answer_while_pathological_queries_run(production):
    live = production
    slow: list[requests.Response] = []

    def run_slow() -> None:
        query = f"{PATHOLOGICAL} # slow {next(_fresh)}"  # distinct: no cache answers it
        slow.append(requests.get(live.url + "/sparql", params={"query": query, "timeout": "4"},
                                 timeout=60))

    threads = [threading.Thread(target=run_slow) for _ in range(2)]
    for thread in threads:
        thread.start()
    time.sleep(0.3)  # let both reach their query processes
    timings: list[float] = []
    for n in range(5):
        started = time.monotonic()
        health = requests.get(live.url + "/health", timeout=30)
        simple = requests.get(
            live.url + "/sparql", params={"query": f"ASK {{ ?s ?p ?o }} # quick {n} {next(_fresh)}"},
            timeout=30,
        )
        timings.append(time.monotonic() - started)
        assert health.status_code == 200 and simple.json()["boolean"] is True
    still_running = any(t.is_alive() for t in threads)
    for thread in threads:
        thread.join(60)
    record("load", kind="answers while two pathological queries ran",
           slowest_ms=round(max(timings) * 1000, 1))
    assert still_running, "the quick requests were answered while the slow queries still ran"
    assert [a.status_code for a in slow] == [503, 503]
    assert max(timings) < 1.0, f"a health check plus simple query took {max(timings):.2f} s"
