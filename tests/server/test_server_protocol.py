"""SPARQL 1.1 Protocol behaviour of the real server, driven with plain HTTP (requests)."""

from __future__ import annotations

import csv
import gzip
import io
import json
import time
import xml.etree.ElementTree as ET

import pyoxigraph as ox
import pytest
import rdflib
import requests

SELECT_DATASETS = (
    "PREFIX mkg: <https://w3id.org/medkg/ontology#> "
    "SELECT ?d WHERE { ?d a mkg:Dataset } ORDER BY ?d"
)
CONSTRUCT_TITLES = (
    "PREFIX dcterms: <http://purl.org/dc/terms/> PREFIX mkg: <https://w3id.org/medkg/ontology#> "
    "CONSTRUCT { ?d dcterms:title ?t } WHERE { ?d a mkg:Dataset ; dcterms:title ?t }"
)
DATASETS = [
    "https://w3id.org/medkg/dataset/breast-ct",
    "https://w3id.org/medkg/dataset/camelyon16",
    "https://w3id.org/medkg/dataset/tricky",
]


def sparql(server, **kwargs) -> requests.Response:
    method = kwargs.pop("method", "GET")
    return requests.request(method, server.url + "/sparql", timeout=30, **kwargs)


def test_get_select_defaults_to_sparql_json_over_the_union_graph(server):
    answer = sparql(server, params={"query": SELECT_DATASETS})
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/sparql-results+json; charset=utf-8"
    rows = answer.json()["results"]["bindings"]
    assert [r["d"]["value"] for r in rows] == DATASETS


def test_post_form_and_post_direct_give_the_same_answer(server):
    form = sparql(server, method="POST", data={"query": SELECT_DATASETS})
    direct = sparql(
        server,
        method="POST",
        data=SELECT_DATASETS.encode("utf-8"),
        headers={"Content-Type": "application/sparql-query"},
    )
    assert form.status_code == direct.status_code == 200
    assert form.json() == direct.json()


def test_form_body_is_decoded_once(server):
    answer = sparql(server, method="POST", data={"query": 'SELECT ?x { BIND("%41" AS ?x) }'})
    assert answer.json()["results"]["bindings"][0]["x"]["value"] == "%41"


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        ("application/sparql-results+xml", "application/sparql-results+xml"),
        ("text/csv", "text/csv"),
        ("text/tab-separated-values", "text/tab-separated-values"),
        ("application/json", "application/sparql-results+json"),
        ("text/csv;q=0.4, application/sparql-results+xml;q=0.9", "application/sparql-results+xml"),
        ("text/html, */*;q=0.1", "application/sparql-results+json"),
        # media-type parameters other than q do not stop a match (RFC 9110 12.5.1)
        ("text/csv; charset=utf-8", "text/csv"),
        ("application/sparql-results+json;q=0.5, text/csv;charset=UTF-8;q=0.9", "text/csv"),
    ],
)
def test_select_content_negotiation_honours_q_values(server, accept, media_type):
    answer = sparql(server, params={"query": SELECT_DATASETS}, headers={"Accept": accept})
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == f"{media_type}; charset=utf-8"
    assert "Accept" in answer.headers["Vary"]


@pytest.mark.parametrize("name", ["format", "output", "results"])
def test_a_format_parameter_naming_nothing_known_is_406(server, name):
    answer = sparql(server, params={"query": SELECT_DATASETS, name: "turtel"})
    assert answer.status_code == 406 and "no acceptable result format" in answer.text
    assert sparql(server, params={"query": SELECT_DATASETS, name: "csv"}).status_code == 200


def test_select_bodies_parse_in_each_format(server):
    xml = sparql(server, params={"query": SELECT_DATASETS, "format": "xml"}).content
    uris = [e.text for e in ET.fromstring(xml).iter("{http://www.w3.org/2005/sparql-results#}uri")]
    assert uris == DATASETS
    text = sparql(server, params={"query": SELECT_DATASETS, "format": "csv"}).text
    assert [row["d"] for row in csv.DictReader(io.StringIO(text))] == DATASETS
    tsv = sparql(server, params={"query": SELECT_DATASETS, "format": "tsv"}).text.splitlines()
    assert tsv[0] == "?d" and tsv[1:] == [f"<{d}>" for d in DATASETS]


def test_ask_in_json_and_xml(server):
    assert sparql(server, params={"query": "ASK { ?s ?p ?o }"}).json()["boolean"] is True
    xml = sparql(server, params={"query": "ASK { <urn:x> <urn:y> <urn:z> }", "format": "xml"}).text
    assert "<boolean>false</boolean>" in xml


@pytest.mark.parametrize(
    ("accept", "media_type", "rdf_format"),
    [
        ("text/turtle", "text/turtle", ox.RdfFormat.TURTLE),
        ("application/n-triples", "application/n-triples", ox.RdfFormat.N_TRIPLES),
        ("application/ld+json", "application/ld+json", ox.RdfFormat.JSON_LD),
        ("application/rdf+xml", "application/rdf+xml", ox.RdfFormat.RDF_XML),
        ("application/trig", "application/trig", ox.RdfFormat.TRIG),
        ("application/n-quads", "application/n-quads", ox.RdfFormat.N_QUADS),
    ],
)
def test_construct_in_every_rdf_format(server, accept, media_type, rdf_format):
    answer = sparql(server, params={"query": CONSTRUCT_TITLES}, headers={"Accept": accept})
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == f"{media_type}; charset=utf-8"
    quads = list(ox.parse(answer.content, format=rdf_format))
    assert sorted(q.subject.value for q in quads) == DATASETS


def test_construct_without_accept_is_turtle(server):
    answer = requests.post(
        server.url + "/sparql",
        data=b"CONSTRUCT { <s> <p> 1 } WHERE {}",
        headers={"Content-Type": "application/sparql-query", "Accept": ""},
        timeout=30,
    )
    assert answer.headers["Content-Type"].startswith("text/turtle")
    triples = list(ox.parse(answer.content, format=ox.RdfFormat.TURTLE))
    assert triples[0].subject.value == "https://w3id.org/medkg/s"


def test_syntax_error_is_400_with_position(server):
    answer = sparql(server, params={"query": "SELECT * WHERE { ?s ?p }"})
    assert answer.status_code == 400
    assert answer.headers["Content-Type"].startswith("text/plain")
    assert "syntax error" in answer.text and "1:" in answer.text
    assert "Traceback" not in answer.text


@pytest.mark.parametrize("text", ["", "   \n\t", "# nothing to ask\n  # at all", "#\r"])
def test_an_empty_query_is_400_saying_so(server, text):
    answers = [
        sparql(server, params={"query": text}),
        sparql(server, method="POST", data={"query": text}),
        sparql(server, method="POST", data=text.encode(),
               headers={"Content-Type": "application/sparql-query"}),
    ]
    for answer in answers:
        assert answer.status_code == 400
        assert answer.text.strip() == "the query is empty"


def test_a_comment_before_a_query_is_not_an_empty_query(server):
    answer = sparql(server, params={"query": "# datasets\n" + SELECT_DATASETS})
    assert answer.status_code == 200 and len(answer.json()["results"]["bindings"]) == 3


def test_unacceptable_format_is_406(server):
    answer = sparql(server, params={"query": SELECT_DATASETS}, headers={"Accept": "image/png"})
    assert answer.status_code == 406
    construct_as_csv = sparql(server, params={"query": CONSTRUCT_TITLES, "format": "csv"})
    assert construct_as_csv.status_code == 406


def test_wrong_content_type_is_415_and_wrong_method_is_405(server):
    answer = sparql(server, method="POST", data=b"ASK {}", headers={"Content-Type": "text/plain"})
    assert answer.status_code == 415
    put = sparql(server, method="PUT", params={"query": "ASK {}"})
    assert put.status_code == 405
    assert "POST" in put.headers["Allow"]


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/sparql-query", gzip.compress(b"ASK {}")),
        ("application/x-www-form-urlencoded", gzip.compress(b"query=ASK+%7B%7D")),
        ("application/sparql-query", b"ASK {}"),  # labelled gzip, sent plain: not run either
    ],
    ids=["query", "form", "labelled-only"],
)
def test_a_compressed_request_body_is_415_with_a_reason(server, content_type, body):
    answer = sparql(server, method="POST", data=body,
                    headers={"Content-Type": content_type, "Content-Encoding": "gzip"})
    assert answer.status_code == 415, answer.text
    assert "Content-Encoding gzip is not accepted" in answer.text
    assert answer.headers["Accept-Encoding"] == "identity"


def test_oversized_body_is_413(server):
    padding = "#" + "x" * 70000 + "\nASK {}"
    answer = sparql(
        server,
        method="POST",
        data=padding.encode(),
        headers={"Content-Type": "application/sparql-query"},
    )
    assert answer.status_code == 413


def test_update_is_refused_on_a_read_only_server(server):
    via_post = sparql(server, method="POST", data={"update": "CLEAR ALL"})
    assert via_post.status_code == 403
    via_get = sparql(server, params={"update": "CLEAR ALL"})
    assert via_get.status_code == 400
    assert sparql(server, params={"query": "ASK { ?s ?p ?o }"}).json()["boolean"] is True


def test_row_cap_truncates_and_says_so(server):
    numbers = " ".join(str(n) for n in range(1, 16))
    query = f"SELECT ?a ?b WHERE {{ VALUES ?a {{{numbers}}} VALUES ?b {{{numbers}}} }}"
    answer = sparql(server, params={"query": query})
    assert answer.status_code == 200
    assert answer.headers["X-MedKG-Truncated"] == "true"
    assert len(answer.json()["results"]["bindings"]) == 200
    small = sparql(server, params={"query": SELECT_DATASETS})
    assert "X-MedKG-Truncated" not in small.headers


LATER = "Tue, 01 Jan 2030 00:00:00 GMT"


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"query": "SELEC"}, 400),  # a broken query
        ({"query": SELECT_DATASETS, "format": "ttl"}, 406),  # SELECT has no Turtle answer
    ],
)
@pytest.mark.parametrize("condition", [{"If-None-Match": "*"}, {"If-Modified-Since": LATER}])
def test_conditions_never_turn_an_error_into_a_304(server, params, status, condition):
    answer = sparql(server, params=params, headers=condition)
    assert answer.status_code == status, answer.text


def test_a_missing_page_stays_404_under_conditions(server):
    for condition in ({"If-None-Match": "*"}, {"If-Modified-Since": LATER}):
        answer = requests.get(server.url + "/dataset/no-such-dataset", timeout=30,
                              headers={"Accept": "text/turtle", **condition})
        assert answer.status_code == 404


def test_conditions_on_an_answer_that_exists(server):
    first = sparql(server, params={"query": SELECT_DATASETS})
    etag = first.headers["ETag"]
    for condition in ({"If-None-Match": "*"}, {"If-Modified-Since": LATER},
                      {"If-None-Match": etag}):
        again = sparql(server, params={"query": SELECT_DATASETS}, headers=condition)
        assert again.status_code == 304 and again.content == b"", condition
        # requests sends Accept-Encoding: the 304 varies on it as its 200 does (compression.py)
        assert again.headers["ETag"] == etag
        assert again.headers["Vary"] == first.headers["Vary"] == "Accept, Accept-Encoding"
    earlier = sparql(server, params={"query": SELECT_DATASETS},
                     headers={"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"})
    assert earlier.status_code == 200 and earlier.content == first.content
    # If-Match: the answer is not the one the client names
    refused = sparql(server, params={"query": SELECT_DATASETS}, headers={"If-Match": '"other"'})
    assert refused.status_code == 412
    assert sparql(server, params={"query": SELECT_DATASETS},
                  headers={"If-Match": etag}).status_code == 200


def test_head_answers_as_get_without_a_body(server):
    params = {"query": SELECT_DATASETS}
    got = sparql(server, params=params, headers={"Accept": "text/csv"})
    head = sparql(server, method="HEAD", params=params, headers={"Accept": "text/csv"})
    assert head.status_code == 200 and head.content == b""
    for name in ("Content-Type", "ETag", "Last-Modified", "Vary"):
        assert head.headers[name] == got.headers[name]
    assert sparql(server, method="HEAD", params={"query": "SELEC"}).status_code == 400


def test_media_types_of_a_post_are_case_insensitive(server):
    answer = sparql(server, method="POST", data="ASK {}",
                    headers={"Content-Type": "Application/SPARQL-Query; charset=UTF-8"})
    assert answer.status_code == 200 and answer.json()["boolean"] is True


def test_a_form_post_carries_its_query_in_the_body_only(server):
    answer = sparql(server, method="POST", params={"query": "ASK { FILTER(false) }"},
                    data={"query": "ASK {}"})
    assert answer.status_code == 400 and "in its body" in answer.text


def test_a_form_body_that_is_not_utf8_is_refused(server):
    answer = sparql(server, method="POST", data=b"query=ASK%20%7B%20FILTER(%22%FF%22)%20%7D",
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 400 and "not UTF-8" in answer.text


def test_the_internal_cache_marker_never_reaches_a_client(server):
    answers = [
        sparql(server, method="POST", data="ASK {}",
               headers={"Content-Type": "application/sparql-query"}),
        sparql(server, method="HEAD", params={"query": "ASK {}"}),
        sparql(server, params={"query": "ASK {}"}, headers={"If-None-Match": '"other"'}),
        requests.head(server.url + "/dataset/camelyon16", timeout=30),
        requests.get(server.url + "/dataset/camelyon16", timeout=30,
                     headers={"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}),
    ]
    for answer in answers:
        assert answer.status_code == 200
        assert "X-MedKG-Cacheable" not in answer.headers


def test_etag_and_last_modified_give_304(server):
    first = sparql(server, params={"query": SELECT_DATASETS})
    etag = first.headers["ETag"]
    again = sparql(server, params={"query": SELECT_DATASETS}, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    since = sparql(
        server,
        params={"query": SELECT_DATASETS},
        headers={"If-Modified-Since": first.headers["Last-Modified"]},
    )
    assert since.status_code == 304
    other = sparql(
        server, params={"query": SELECT_DATASETS, "format": "xml"}, headers={"If-None-Match": etag}
    )
    assert other.status_code == 200
    # the query text is part of the tag: another question never revalidates as this one
    reworded = sparql(server, params={"query": SELECT_DATASETS + "\n# reworded"})
    assert reworded.status_code == 200 and reworded.headers["ETag"] != etag


def test_cors_headers_on_queries_and_preflight(server):
    answer = sparql(
        server, params={"query": "ASK {}"}, headers={"Origin": "http://elsewhere.example"}
    )
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in answer.headers
    preflight = requests.options(
        server.url + "/sparql",
        timeout=30,
        headers={"Origin": "http://elsewhere.example", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 200
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    # a browser revalidating a kept answer sends either validator
    allowed = {h.strip() for h in preflight.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"If-None-Match", "If-Modified-Since", "Content-Type", "Range"} <= allowed
    methods = {m.strip() for m in preflight.headers["Access-Control-Allow-Methods"].split(",")}
    assert {"GET", "POST", "PUT", "DELETE"} <= methods  # the Graph Store's writes, when on
    download = requests.get(server.url + "/download/medkg.nq.gz", timeout=30,
                            headers={"Origin": "http://elsewhere.example", "Range": "bytes=0-9"})
    assert download.status_code == 206
    exposed = {h.strip() for h in download.headers["Access-Control-Expose-Headers"].split(",")}
    assert {"Content-Range", "Content-Disposition", "ETag"} <= exposed


def test_service_description_by_conneg(server):
    answer = requests.get(server.url + "/sparql", headers={"Accept": "text/turtle"}, timeout=30)
    assert answer.status_code == 200
    graph = rdflib.Graph().parse(data=answer.content, format="turtle")
    sd = rdflib.Namespace("http://www.w3.org/ns/sparql-service-description#")
    endpoints = [str(o) for o in graph.objects(None, sd.endpoint)]
    assert endpoints == [server.url + "/sparql"]
    names = {str(o) for o in graph.objects(None, sd.name)}
    assert "https://w3id.org/medkg/graph/catalogue" in names
    browser = requests.get(
        server.url + "/sparql", headers={"Accept": "text/html"}, allow_redirects=False, timeout=30
    )
    assert browser.status_code == 303


@pytest.mark.parametrize("accept", [None, "*/*", "application/*"])
def test_a_client_that_names_no_html_gets_the_description_in_rdf(server, accept):
    # requests sends "*/*" unless told otherwise; None removes the header altogether
    answer = requests.get(server.url + "/sparql", headers={"Accept": accept},
                          allow_redirects=False, timeout=30)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/turtle")
    assert "sparql-service-description" in answer.text
    firefox = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    page = requests.get(server.url + "/sparql", headers={"Accept": firefox},
                        allow_redirects=False, timeout=30)
    assert page.status_code == 303


def test_the_query_only_endpoint_describes_itself(server):
    sd = rdflib.Namespace("http://www.w3.org/ns/sparql-service-description#")
    answer = requests.get(server.url + "/query", headers={"Accept": "text/turtle"}, timeout=30)
    assert answer.status_code == 200
    graph = rdflib.Graph().parse(data=answer.content, format="turtle")
    assert [str(o) for o in graph.objects(None, sd.endpoint)] == [server.url + "/query"]
    assert sd.SPARQL11Update not in set(graph.objects(None, sd.supportedLanguage))


def test_void_has_statistics_and_linksets(server):
    for path in ("/void", "/.well-known/void"):
        answer = requests.get(
            server.url + path, headers={"Accept": "application/n-triples"}, timeout=30
        )
        assert answer.status_code == 200
    void = rdflib.Namespace("http://rdfs.org/ns/void#")
    graph = rdflib.Graph().parse(data=answer.content, format="nt")
    catalogue = rdflib.URIRef("https://w3id.org/medkg/catalogue")
    assert graph.value(catalogue, void.entities).toPython() == 3  # mkg:Dataset instances
    assert graph.value(catalogue, void.triples).toPython() > 100
    targets = {str(o) for o in graph.objects(None, void.objectsTarget)}
    assert "http://purl.obolibrary.org/obo/UBERON_" in targets


def test_health_and_access_log(server):
    answer = requests.get(server.url + "/health", timeout=30)
    assert answer.json()["status"] == "ok" and answer.json()["store_version"]
    requests.get(
        server.url + "/sparql", params={"query": "ASK { <urn:log-marker> ?p ?o }"}, timeout=30
    )
    # the access log is written in batches (batched_log.py): within a second or so
    deadline = time.monotonic() + 10
    lines: list[str] = []
    while not lines and time.monotonic() < deadline:
        time.sleep(0.05)
        lines = [line for line in server.log.read_text().splitlines() if "log-marker" in line]
    assert lines and " 200 " in lines[-1] and lines[-1].endswith("ms")
    assert "medkg_server.access" in lines[-1]


def test_error_never_leaks_a_traceback(server):
    bad_graph = sparql(server, params={"query": "ASK {}", "default-graph-uri": "not an iri"})
    assert bad_graph.status_code == 400
    bad_timeout = sparql(server, params={"query": "ASK {}", "timeout": "soon"})
    assert bad_timeout.status_code == 400
    for answer in (bad_graph, bad_timeout):
        assert "Traceback" not in answer.text
    assert json.loads(requests.get(server.url + "/health", timeout=30).text)["status"] == "ok"


@pytest.mark.parametrize("limit", ["soon", "nan", "NaN", "inf", "-inf", "0", "-3"])
def test_a_time_limit_must_be_a_positive_finite_number(server, limit):
    answer = sparql(server, params={"query": f'SELECT ?a {{ BIND("{limit}" AS ?a) FILTER(true) }}',
                                    "timeout": limit})
    assert answer.status_code == 400
    assert "timeout" in answer.text and "Traceback" not in answer.text
    # the next question gets its own answer (a NaN limit once left a query process mid-job)
    mark = f"after-{limit}"
    after = sparql(server, params={"query": f'SELECT ?b {{ BIND("{mark}" AS ?b) FILTER(true) }}'},
                   headers={"Accept": "application/sparql-results+json"})
    assert after.status_code == 200
    assert after.json()["results"]["bindings"] == [{"b": {"type": "literal", "value": mark}}]


def test_from_holds_in_a_query_only_oxigraph_can_parse(server):
    catalogue = "<https://w3id.org/medkg/graph/catalogue>"

    def count(query: str) -> int:
        answer = sparql(server, params={"query": query},
                        headers={"Accept": "application/sparql-results+json"})
        assert answer.status_code == 200, answer.text
        return int(answer.json()["results"]["bindings"][0]["n"]["value"])

    plain = count(f"SELECT (COUNT(*) AS ?n) FROM {catalogue} WHERE {{ ?s ?p ?o }}")
    lateral = count(f"SELECT (COUNT(*) AS ?n) FROM {catalogue} "
                    "WHERE { ?s ?p ?o LATERAL { BIND(1 AS ?x) } }")
    union = count("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o LATERAL { BIND(1 AS ?x) } }")
    assert lateral == plain < union


def test_a_look_up_with_digits_sparql_does_not_read_is_a_syntax_error(server):
    text = "SELECT ?o WHERE { <https://w3id.org/medkg/dataset/x> ?p ?o } LIMIT \uff11"
    answer = sparql(server, params={"query": text})
    assert answer.status_code == 400 and "syntax" in answer.text.lower()


def test_concurrent_queries_that_need_the_query_parser(server):
    """FROM and SERVICE checks parse the query; many at once must all get proper answers."""
    from concurrent.futures import ThreadPoolExecutor

    def send(n: int) -> int:
        query = f"SELECT ?x FROM <urn:graph:{n}> WHERE {{ ?x ?p ?o }}"
        if n % 2:
            query = f"SELECT * WHERE {{ SERVICE <http://127.0.0.1:9/{n}> {{ ?s ?p ?o }} }}"
        return sparql(server, params={"query": query}).status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(send, range(48)))
    assert statuses == [200 if n % 2 == 0 else 403 for n in range(48)]
