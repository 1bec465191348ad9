"""Read the files under ontology/: the OWL ontology, SKOS vocabularies and SHACL shapes.

The files are written under the default base `https://w3id.org/medkg/`; when another base is
configured, IRIs are rewritten on load, so the same files publish under any base.
"""

from __future__ import annotations

from pathlib import Path

import rdflib

from medkg.config import DEFAULT_BASE, Settings

ONTOLOGY_FILE = "medkg.ttl"
SHAPES_FILE = "shapes.ttl"
VOCAB_DIR = "vocab"


class OntologyError(Exception):
    """An ontology, vocabulary or shapes file is missing or does not parse."""


def read_turtle(path: Path, base: str = DEFAULT_BASE) -> rdflib.Graph:
    """Parse one Turtle file of ontology/, rebased onto `base`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise OntologyError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise OntologyError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    if base != DEFAULT_BASE:
        text = text.replace(DEFAULT_BASE, base)
    graph = rdflib.Graph()
    try:
        graph.parse(data=text, format="turtle", publicID=path.as_uri())
    except Exception as exc:  # rdflib raises several unrelated types for bad Turtle
        raise OntologyError(f"{path}: not valid Turtle: {exc}") from None
    return graph


def vocabulary_files(settings: Settings) -> list[Path]:
    return sorted((settings.ontology_dir / VOCAB_DIR).glob("*.ttl"))


def ontology_graph(settings: Settings) -> rdflib.Graph:
    """The OWL ontology (medkg.ttl) alone."""
    return read_turtle(settings.ontology_dir / ONTOLOGY_FILE, settings.base)


def vocabulary_graph(settings: Settings) -> rdflib.Graph:
    """All SKOS vocabularies under ontology/vocab/ in one graph."""
    graph = rdflib.Graph()
    for path in vocabulary_files(settings):
        graph += read_turtle(path, settings.base)
    return graph


def shapes_graph(settings: Settings) -> rdflib.Graph:
    """The SHACL shapes (shapes.ttl)."""
    return read_turtle(settings.ontology_dir / SHAPES_FILE, settings.base)
