"""Hostile input files: `medkg validate` and `medkg build --sources` refuse them clearly.

Each run is a real `medkg` process (so a crash would show as a signal, not a caught exception),
with HTTP(S) proxies pointing at a loopback listener and inputs that name the same listener: any
network access would be recorded. The XXE inputs point at a canary file outside the input whose
content must appear nowhere in the output.
"""

from __future__ import annotations

import http.server
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest
from reliability_config import ROOT

INPUTS = Path(__file__).parent / "fixtures" / "inputs"
CANARY = "medkg-input-canary-51c2e8"


class _Recorder(http.server.BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.hits.append(f"{self.command} {self.path}")
        self.send_response(200)
        self.end_headers()
        self.wfile.write(CANARY.encode())

    do_POST = do_CONNECT = do_GET

    def log_message(self, *args: object) -> None:
        return


@dataclass
class Sandbox:
    folder: Path
    canary: Path
    listener: str
    hits: list[str]
    env: dict[str, str]

    def prepare(self, name: str) -> Path:
        """Copy an input fixture, filling in the canary path and the listener URL."""
        data = (INPUTS / name).read_bytes()
        data = data.replace(b"@CANARY@", self.canary.as_uri().encode())
        data = data.replace(b"@LISTENER@", self.listener.encode())
        target = self.folder / name
        target.write_bytes(data)
        return target

    def medkg(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "medkg.cli", *args],
            capture_output=True, text=True, env=self.env, timeout=300, cwd=self.folder, check=False,
        )


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    folder = tmp_path_factory.mktemp("inputs")
    canary = tmp_path_factory.mktemp("outside") / "canary.txt"
    canary.write_text(CANARY, encoding="utf-8")
    home = folder / "home"
    shutil.copytree(ROOT / "tests" / "fixtures" / "mini" / "data", home / "data")
    shutil.copytree(ROOT / "ontology", home / "ontology")
    _Recorder.hits = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    proxy = f"http://127.0.0.1:{server.server_port}"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
        "MEDKG_HOME": str(home),
        "MEDKG_STORE": str(folder / "store"),
        **{name: proxy for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")},
        "NO_PROXY": "", "no_proxy": "",
    }
    yield Sandbox(folder, canary, proxy + "/", _Recorder.hits, env)
    server.shutdown()
    server.server_close()


def _assert_clear_refusal(run: subprocess.CompletedProcess[str], path: Path, sandbox: Sandbox,
                          words: tuple[str, ...]) -> None:
    output = run.stdout + run.stderr
    assert run.returncode in (1, 2), (run.returncode, output[-2000:])
    assert "Traceback" not in output
    assert path.name in run.stderr, run.stderr
    assert any(word in run.stderr for word in words), run.stderr
    assert CANARY not in output
    assert sandbox.hits == [], f"network access: {sandbox.hits}"


REFUSED_RDF = [
    ("xxe-file.rdf", ("DOCTYPE",)),
    ("xxe-parameter.rdf", ("DOCTYPE",)),
    ("external-dtd.rdf", ("DOCTYPE",)),
    ("billion-laughs.rdf", ("DOCTYPE",)),
    ("xxe-sniffed.data", ("DOCTYPE",)),
    ("remote-context.jsonld", ("remote @context",)),
    ("file-context.jsonld", ("remote @context",)),
    ("import-context.jsonld", ("remote @context",)),
    ("nested-context.jsonld", ("remote @context",)),
    ("malformed.ttl", ("not valid Turtle",)),
    ("malformed-iri.ttl", ("not valid Turtle",)),
    ("not-utf8.ttl", ("not valid Turtle",)),
]


@pytest.mark.parametrize(("name", "words"), REFUSED_RDF, ids=[n for n, _ in REFUSED_RDF])
def test_validate_refuses_hostile_rdf(sandbox: Sandbox, name: str, words: tuple[str, ...]):
    path = sandbox.prepare(name)
    run = sandbox.medkg("validate", str(path))
    assert run.returncode == 2
    _assert_clear_refusal(run, path, sandbox, words)


def test_validate_refuses_deep_and_huge_json_ld(sandbox: Sandbox):
    deep = sandbox.folder / "deep.jsonld"
    deep.write_text('{"@id": "urn:x", "urn:p": ' + "[" * 100_000 + "]" * 100_000 + "}")
    run = sandbox.medkg("validate", str(deep))
    _assert_clear_refusal(run, deep, sandbox, ("nested",))
    huge = sandbox.folder / "huge.jsonld"
    with open(huge, "wb") as handle:  # sparse: the size check must refuse it before reading
        handle.truncate(300 * 2**20)
    run = sandbox.medkg("validate", str(huge))
    _assert_clear_refusal(run, huge, sandbox, ("bytes",))


MARKDOWN = {
    "not-utf8.md": None,
    "deep-quotes.md": "# Deep\n\n" + "> " * 5000 + "[A](https://example.org/a): nested quote\n",
    "deep-bullets.md": "# Deep\n\n" + "- " * 3000 + "[B](https://example.org/b): deep bullet x\n",
    "brackets.md": "# Brackets\n\n" + "[" * 50_000 + "x" + "]" * 50_000 + "\n",
    "broken-table.md": "# Broken\n\n| Dataset | Description\n|--|\n| [C](https://example.org/c) |"
                       " a | b | c | d |\n|\n| \x00 | <script>\n<details><summary>\n",
}


@pytest.mark.parametrize("name", sorted(MARKDOWN))
def test_build_survives_malformed_markdown(sandbox: Sandbox, name: str):
    text = MARKDOWN[name]
    path = sandbox.prepare(name) if text is None else sandbox.folder / name
    if text is not None:
        path.write_text(text, encoding="utf-8")
    run = sandbox.medkg("build", "--no-validate", "--quiet", "--sources", str(path))
    output = run.stdout + run.stderr
    assert "Traceback" not in output
    assert run.returncode in (0, 1, 2), (run.returncode, output[-2000:])
    if run.returncode:
        assert path.name in run.stderr, run.stderr
    else:
        assert "built" in run.stderr
    assert sandbox.hits == []
