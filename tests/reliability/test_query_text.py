"""Regression tests for two query-text bugs the hostile suite found in the server.

1. Any query containing the word "from" (in a comment, a string, a variable name) was run against
   an empty default graph: rdflib's CompValue.get() answers a missing key with a truthy value, so
   `has_dataset_clause` said yes. The README's example 09 ("... comes from") answered nothing.
2. Deeply nested brackets crashed the query process (Oxigraph's parser overflowed its stack: a
   misleading "try again" 503) or rdflib's parser (RecursionError: a 500).
"""

from __future__ import annotations

import pytest
import requests
from medkg_server import query_text
from medkg_server.query_text import MAX_NESTING, QueryTooComplex, check_nesting, has_dataset_clause
from reliability_config import ROOT


@pytest.mark.parametrize(
    "text",
    [
        "# where a dataset comes from\nSELECT * WHERE { ?s ?p ?o }",
        'SELECT ?x WHERE { BIND("from" AS ?x) }',
        "SELECT ?from WHERE { ?s ?p ?from }",
    ],
)
def test_the_word_from_is_not_a_dataset_clause(text: str):
    assert has_dataset_clause(text) is False


@pytest.mark.parametrize(
    "text",
    [
        # SPARQL 1.2 (rdflib cannot parse it, so the word test alone decides) with "from" inside
        # a prefixed name, a blank node label or a language tag: these ran on an empty dataset
        'PREFIX ex: <http://e/> SELECT * { ?x ex:valid-from ?d FILTER(hasLANG(?d)) }',
        'PREFIX ex: <http://e/> SELECT * { ?x ex:date.from ?d FILTER(hasLANG(?d)) }',
        'PREFIX ex: <http://e/> SELECT * { ?x ex:a\\-from ?d FILTER(hasLANG(?d)) }',
        'SELECT * { _:a-from ?p ?o FILTER(hasLANG(?o)) }',
        'SELECT * { ?s ?p "x"@from FILTER(hasLANG(?o)) }',
    ],
)
def test_from_inside_a_name_of_a_sparql_12_query_is_not_a_dataset_clause(text: str):
    assert has_dataset_clause(text) is False


@pytest.mark.parametrize(
    "text",
    [
        "SELECT * FROM <urn:g> WHERE { ?s ?p ?o }",
        "SELECT * FROM NAMED <urn:g> { GRAPH ?g {} }",
        # SPARQL 1.2, which Oxigraph reads and rdflib's parser does not
        "SELECT * FROM <urn:g> WHERE { ?s ?p ?o LATERAL { BIND(1 AS ?x) } }",
        'VERSION "1.2" SELECT * FROM NAMED <urn:g> { GRAPH ?g { ?s ?p ?o } }',
        # a comment ends at a carriage return as at a line feed
        "# old Mac line end\rSELECT * FROM <urn:g> WHERE { ?s ?p ?o }",
    ],
)
def test_from_and_from_named_are_dataset_clauses(text: str):
    assert has_dataset_clause(text) is True


def test_nesting_counts_brackets_outside_strings_iris_and_comments():
    check_nesting('SELECT * { ?s ?p "{{{{" } # ((((((\n' + "{" * MAX_NESTING + "}" * MAX_NESTING)
    check_nesting("SELECT * { ?s <http://x.example/a(b> ?o }" + "(" * (MAX_NESTING - 2))
    with pytest.raises(QueryTooComplex, match="201 levels"):
        check_nesting("SELECT * WHERE " + "{" * (MAX_NESTING + 1) + "}" * (MAX_NESTING + 1))


def test_many_brackets_side_by_side_are_not_deep():
    groups = " UNION ".join(["{ ?s ?p ?o }"] * (2 * MAX_NESTING))
    check_nesting("SELECT * WHERE { " + groups + " }")  # over MAX_NESTING brackets, depth 2
    with pytest.raises(QueryTooComplex, match="201 levels"):
        check_nesting(groups + "(" * (MAX_NESTING + 1))


def test_deep_nesting_with_from_is_a_clear_error_not_a_crash():
    with pytest.raises(QueryTooComplex):
        has_dataset_clause("SELECT * FROM <urn:g> WHERE " + "{" * 120 + "}" * 120)


def test_example_with_from_in_its_title_answers_on_the_live_server(live):
    text = (ROOT / "data" / "example-queries" / "09-where-a-dataset-comes-from.rq").read_text()
    answer = requests.get(live.url + "/sparql", params={"query": text}, timeout=30)
    assert answer.status_code == 200
    assert answer.json()["results"]["bindings"], "example 09 answered no rows"


@pytest.mark.parametrize(
    "text",
    [
        "# where a dataset comes from\nSELECT * { ?s ?p ?o } # unparsed-1",
        "SELECT ?from { ?from <http://example.org/from> 'from' } # unparsed-2",
        'PREFIX ex: <http://example.org/> SELECT * { ?s ex:from "taken from" } # unparsed-3',
        'SELECT * { ?s ?p """from\nFROM""" } # unparsed-4',
    ],
)
def test_from_outside_the_query_code_needs_no_parse(text: str, monkeypatch) -> None:
    """The full parse (about 30 ms, one at a time) only runs when FROM is a keyword."""

    def refuse(_: str) -> None:
        raise AssertionError("parsed a query whose FROM was only in a comment, string or name")

    monkeypatch.setattr(query_text, "parseQuery", refuse)
    assert has_dataset_clause(text) is False
