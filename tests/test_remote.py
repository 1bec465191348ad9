"""Remote queries against a real `oxigraph serve` give the same output as the local `medkg query`."""

from __future__ import annotations

import json
import re
import urllib.parse

import pyoxigraph as ox
import pytest
from test_push import (  # noqa: F401 (fixtures)
    Answer,
    Server,
    _free_port,
    fixture_settings,
    oxigraph_server,
    scripted_server,
)

from medkg.config import Settings
from medkg.namespaces import Namespaces
from medkg.push import push
from medkg.query import QueryError, run, write
from medkg.remote import RemoteError, query, with_default_prefixes
from medkg.store import open_read_only

SELECT = """SELECT ?d ?title WHERE { GRAPH ?g { ?d a mkg:Dataset ; dcterms:title ?title } } ORDER BY ?d"""
ASK = """ASK { GRAPH ?g { ?d mkg:organ <https://w3id.org/medkg/anatomy/breast> } }"""
CONSTRUCT = """CONSTRUCT { ?d dcterms:title ?t } WHERE { GRAPH ?g { ?d a mkg:Dataset ; dcterms:title ?t } }"""


@pytest.fixture()
def loaded(oxigraph_server: Server, fixture_settings: Settings) -> tuple[str, Settings]:  # noqa: F811
    push(fixture_settings, f"{oxigraph_server.url}/store", quiet=True)
    return f"{oxigraph_server.url}/query", fixture_settings


def _local(settings: Settings, text: str, fmt: str) -> str:
    store = open_read_only(settings.store)
    return write(run(store, text, Namespaces(settings.base)), fmt)


@pytest.mark.parametrize("fmt", ["json", "xml", "csv", "tsv", "table"])
def test_select_matches_the_local_output(loaded: tuple[str, Settings], fmt: str) -> None:
    endpoint, settings = loaded
    assert query(endpoint, SELECT, fmt) == _local(settings, SELECT, fmt)


def test_select_json_holds_the_datasets(loaded: tuple[str, Settings]) -> None:
    endpoint, _ = loaded
    bindings = json.loads(query(endpoint, SELECT, "json"))["results"]["bindings"]
    assert [b["title"]["value"] for b in bindings] == ["BACH", "CAMELYON16", "PANDA", "Tiny Nuclei"]


def test_ask(loaded: tuple[str, Settings]) -> None:
    endpoint, _ = loaded
    assert query(endpoint, ASK, "table") == "true"
    assert json.loads(query(endpoint, ASK, "json"))["boolean"] is True


@pytest.mark.parametrize("fmt", ["turtle", "ntriples", "jsonld", "xml"])
def test_construct_in_graph_formats(loaded: tuple[str, Settings], fmt: str) -> None:
    import rdflib
    from rdflib.compare import isomorphic

    endpoint, settings = loaded
    parse_as = {"turtle": "turtle", "ntriples": "nt", "jsonld": "json-ld", "xml": "xml"}[fmt]
    remote = rdflib.Graph().parse(data=query(endpoint, CONSTRUCT, fmt), format=parse_as)
    local = rdflib.Graph().parse(data=_local(settings, CONSTRUCT, fmt), format=parse_as)
    assert len(remote) == 4 and isomorphic(remote, local)


def test_a_format_that_does_not_fit_the_query_is_refused(loaded: tuple[str, Settings]) -> None:
    endpoint, _ = loaded
    with pytest.raises(QueryError, match="cannot be written as turtle"):
        query(endpoint, SELECT, "turtle")


def test_a_format_that_does_not_fit_exits_2_as_it_does_locally(
    loaded: tuple[str, Settings],
) -> None:
    from click.testing import CliRunner

    from medkg.cli import EXIT_INPUT, main

    endpoint, settings = loaded
    for text, fmt in [(SELECT, "turtle"), (CONSTRUCT, "csv")]:
        local = CliRunner().invoke(main, ["query", "--store", str(settings.store),
                                          "--format", fmt, text])
        remote = CliRunner().invoke(main, ["query", "--endpoint", endpoint, "--format", fmt, text])
        assert local.exit_code == remote.exit_code == EXIT_INPUT, remote.output
        assert remote.output == local.output and remote.output.count("\n") == 1
    malformed = "SELECT ?x WHERE { ?x ?y }"
    local = CliRunner().invoke(main, ["query", "--store", str(settings.store), malformed])
    remote = CliRunner().invoke(main, ["query", "--endpoint", endpoint, malformed])
    assert local.exit_code == remote.exit_code == EXIT_INPUT, remote.output
    assert f"{endpoint} answered HTTP 400: " in remote.output


def test_malformed_query_reports_the_server_answer(loaded: tuple[str, Settings]) -> None:
    endpoint, _ = loaded
    with pytest.raises(RemoteError, match="refused the query|HTTP 400"):
        query(endpoint, "SELECT WHERE {", "json")


def test_unreachable_endpoint() -> None:
    with pytest.raises(RemoteError, match="cannot reach"):
        query(f"http://127.0.0.1:{_free_port()}/query", SELECT, "json", timeout=5)


def test_declared_prefixes_are_not_redeclared() -> None:
    text = with_default_prefixes("PREFIX mkg: <http://example.org/> SELECT * WHERE { ?s ?p ?o }")
    assert text.count("PREFIX mkg:") == 1
    assert "PREFIX dcat: <http://www.w3.org/ns/dcat#>" in text


def test_the_command_line_queries_a_remote_endpoint(loaded: tuple[str, Settings]) -> None:
    from click.testing import CliRunner

    from medkg.cli import main

    endpoint, settings = loaded
    result = CliRunner().invoke(main, ["query", "--endpoint", endpoint, "--format", "json", SELECT])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == json.loads(_local(settings, SELECT, "json"))
    failed = CliRunner().invoke(main, ["query", "--endpoint", "http://127.0.0.1:9/sparql", SELECT])
    assert failed.exit_code == 1 and "medkg: error:" in failed.output


def _medkg_like(n: int, method: str, headers: dict[str, str], body: bytes) -> Answer:
    """Answers as medkg's server does: a format= parameter wins over the Accept header."""
    form = urllib.parse.parse_qs(body.decode())
    asked = (form.get("format") or [headers.get("Accept", "")])[0]
    if "n-triples" in asked:
        return 200, {"Content-Type": "application/n-triples"}, NT_ANSWER.encode()
    return 200, {"Content-Type": "application/rdf+xml"}, b'<?xml version="1.0"?><rdf:RDF/>'


NT_ANSWER = '<https://w3id.org/medkg/dataset/bach> <http://purl.org/dc/terms/title> "BACH" .\n'


@pytest.mark.parametrize("text", [CONSTRUCT, "DESCRIBE <https://w3id.org/medkg/dataset/bach>"])
def test_graph_results_from_a_server_that_honours_format_parameters(text: str) -> None:
    with scripted_server(_medkg_like) as target:
        assert query(f"{target.url}/sparql", text, "ntriples") == NT_ANSWER


def test_a_syntax_error_is_one_line_at_the_users_own_position(
    loaded: tuple[str, Settings],
) -> None:
    endpoint, _ = loaded
    for text in ["SELECT WHERE {", "ASK {\n  ?s ?p }"]:
        with pytest.raises(SyntaxError) as local:  # the same parser, on the text as written
            ox.Store().query(text)
        position = re.search(r"at \d+:\d+", str(local.value))
        assert position is not None
        with pytest.raises(RemoteError) as caught:
            query(endpoint, text, "json")
        message = str(caught.value)
        assert message.startswith(f"{endpoint} answered HTTP 400: ") and "\n" not in message
        assert position[0] in message, message


def test_a_redirect_is_not_followed() -> None:
    with scripted_server(lambda n, m, h, b: (200, {}, b"")) as elsewhere:
        moved = {"Location": f"{elsewhere.url}/sparql"}
        with scripted_server(lambda n, m, h, b: (303, moved, b"")) as target:
            with pytest.raises(RemoteError, match=f"redirects to {elsewhere.url}/sparql; not"):
                query(f"{target.url}/sparql", ASK, "json", token="s3cret")
    assert elsewhere.seen == []


@pytest.mark.parametrize("status", [200, 404])
def test_an_html_page_is_named_as_such(status: int) -> None:
    page = (status, {"Content-Type": "text/html; charset=utf-8"}, b"<html><p>Welcome</p></html>")
    with scripted_server(lambda n, m, h, b: page) as target:
        with pytest.raises(RemoteError, match="HTML page") as caught:
            query(f"{target.url}/", SELECT, "json")
    assert "<html>" not in str(caught.value)


def test_a_slow_endpoint_times_out() -> None:
    import threading

    release = threading.Event()

    def hang(n: int, method: str, headers: dict[str, str], body: bytes) -> Answer:
        release.wait(10)
        return 200, {}, b""

    with scripted_server(hang) as target:
        try:
            with pytest.raises(RemoteError, match=r"did not answer within 0.3 s"):
                query(f"{target.url}/sparql", ASK, "json", timeout=0.3)
        finally:
            release.set()


@pytest.mark.parametrize("endpoint", ["http://[::1/sparql", "http://127.0.0.1:9/my sparql"])
def test_a_malformed_url_is_a_remote_error(endpoint: str) -> None:
    with pytest.raises(RemoteError, match="not a valid URL"):
        query(endpoint, ASK, "json")


ASK_TRUE = (200, {"Content-Type": "application/sparql-results+json"}, b'{"head":{},"boolean":true}')


def test_the_command_line_sends_a_token_and_never_prints_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from click.testing import CliRunner

    from medkg.cli import main

    monkeypatch.delenv("MEDKG_QUERY_TOKEN", raising=False)
    with scripted_server(lambda n, m, h, b: ASK_TRUE) as target:
        given = CliRunner().invoke(main, ["query", "--endpoint", f"{target.url}/sparql",
                                          "--token", "s3cret", ASK])
        monkeypatch.setenv("MEDKG_QUERY_TOKEN", "fr0m-env")
        from_env = CliRunner().invoke(main, ["query", "--endpoint", f"{target.url}/sparql", ASK])
    assert given.output == from_env.output == "true\n"
    assert [auth for _, _, auth in target.seen] == ["Bearer s3cret", "Bearer fr0m-env"]


def test_a_token_echoed_by_the_endpoint_is_not_printed() -> None:
    from click.testing import CliRunner

    from medkg.cli import main

    def echo(n: int, method: str, headers: dict[str, str], body: bytes) -> Answer:
        return 401, {"Content-Type": "text/plain"}, f"bad {headers['Authorization']}".encode()

    with scripted_server(echo) as target:
        result = CliRunner().invoke(main, ["query", "--endpoint", f"{target.url}/sparql",
                                           "--token", "s3cret", ASK])
    assert result.exit_code == 1 and "HTTP 401: bad Bearer [token]" in result.output
    assert "s3cret" not in result.output


def test_a_token_a_header_cannot_carry_is_refused_without_showing_it() -> None:
    from click.testing import CliRunner

    from medkg.cli import main

    with scripted_server(lambda n, m, h, b: ASK_TRUE) as target:
        result = CliRunner().invoke(main, ["query", "--endpoint", f"{target.url}/sparql",
                                           "--token", "s3c ret\nx", ASK])
    assert result.exit_code == 1 and "an HTTP header cannot carry" in result.output
    assert "s3c" not in result.output and target.seen == []


def test_a_token_without_an_endpoint_is_refused(fixture_settings: Settings) -> None:  # noqa: F811
    from click.testing import CliRunner

    from medkg.cli import main

    store = str(fixture_settings.store)
    refused = CliRunner().invoke(main, ["query", "--store", store, "--token", "s3cret", ASK])
    assert refused.exit_code == 2 and "--token is sent to --endpoint" in refused.output
    from_env = CliRunner(env={"MEDKG_QUERY_TOKEN": "s3cret"}).invoke(
        main, ["query", "--store", store, ASK])
    assert from_env.exit_code == 0 and from_env.output == "true\n"


def test_an_endpoint_with_a_password_in_it_is_refused_without_printing_it() -> None:
    from click.testing import CliRunner

    from medkg.cli import main

    with scripted_server(lambda n, m, h, b: ASK_TRUE) as target:
        endpoint = target.url.replace("http://", "http://user:pa55word@") + "/sparql"
        result = CliRunner().invoke(main, ["query", "--endpoint", endpoint, ASK])
    assert result.exit_code == 1 and "must not carry a user name or password" in result.output
    assert "pa55word" not in result.output and target.seen == []
