"""Time limits that hold: a pathological query is stopped, and the server keeps answering others."""

from __future__ import annotations

import threading
import time

import requests

# A four-way cross product of every triple with itself: far beyond any time limit on any machine.
PATHOLOGICAL = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"
SIMPLE = "ASK { ?s ?p ?o }"


def test_pathological_query_times_out_while_others_are_served(server):
    slow: dict[str, requests.Response] = {}

    def run_slow() -> None:
        slow["answer"] = requests.get(
            server.url + "/sparql", params={"query": PATHOLOGICAL}, timeout=60
        )

    worker = threading.Thread(target=run_slow)
    worker.start()
    time.sleep(0.5)  # let the slow query reach its query process (no assertion on time)

    health = requests.get(server.url + "/health", timeout=30)
    simple = requests.get(server.url + "/sparql", params={"query": SIMPLE}, timeout=30)
    assert health.status_code == 200
    assert simple.status_code == 200 and simple.json()["boolean"] is True
    assert worker.is_alive(), "the simple requests were answered while the slow query still ran"

    worker.join(60)
    answer = slow["answer"]
    assert answer.status_code == 503
    assert "time limit" in answer.text
    assert answer.headers["Retry-After"]


def test_server_recovers_after_a_killed_query(server):
    first = requests.get(
        server.url + "/sparql", params={"query": PATHOLOGICAL, "timeout": "1"}, timeout=60
    )
    assert first.status_code == 503 and "1 s" in first.text
    for n in range(4):
        # distinct queries, so the cache cannot answer for the pool
        query = f"SELECT (COUNT(*) AS ?n) WHERE {{ ?s ?p ?o }} LIMIT {n + 1}"
        answer = requests.get(server.url + "/sparql", params={"query": query}, timeout=30)
        assert answer.status_code == 200
        assert int(answer.json()["results"]["bindings"][0]["n"]["value"]) > 100


def test_client_timeout_cannot_exceed_the_server_maximum(server):
    answer = requests.get(
        server.url + "/sparql", params={"query": SIMPLE, "timeout": "100000"}, timeout=30
    )
    assert answer.status_code == 200


def test_quick_query_is_not_stuck_behind_two_slow_ones(server):
    """Both regular query processes are busy: the pool grows, so a new quick query is answered."""
    slow: list[requests.Response] = []

    def run_slow(n: int) -> None:
        query = PATHOLOGICAL + f" # slow {n}"  # distinct texts: no cache can answer them
        slow.append(requests.get(server.url + "/sparql", params={"query": query}, timeout=60))

    workers = [threading.Thread(target=run_slow, args=(n,)) for n in range(2)]
    for worker in workers:
        worker.start()
    time.sleep(0.5)  # let both reach their query processes (no assertion on time)
    quick = requests.get(
        server.url + "/sparql", params={"query": "ASK { ?s ?p ?o } # quick, uncached"}, timeout=30
    )
    assert quick.status_code == 200 and quick.json()["boolean"] is True
    assert any(w.is_alive() for w in workers), "answered while the slow queries still ran"
    for worker in workers:
        worker.join(60)
    assert [a.status_code for a in slow] == [503, 503]
