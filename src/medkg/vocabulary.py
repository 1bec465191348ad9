"""Match free text against the labels of the controlled vocabularies in ontology/vocab/.

Each concept's prefLabel, altLabels and hiddenLabels become search keys. Text and labels are
folded the same way (case, accents, punctuation), and the longest label wins where labels overlap,
so "T1-MRI" finds the T1 concept rather than plain MRI. A `mkg:cellLabel` names its concept in a
cell or heading about that kind of concept ("Retinal" in a Modality column) but not inside running
text, where the word usually means something else ("retinal vessel segmentation"):
`find_in_text` leaves those labels out.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

import rdflib
from rdflib.namespace import RDF, SKOS

from medkg.config import Settings
from medkg.namespaces import CONCEPT_KINDS, Namespaces
from medkg.ontology import vocabulary_graph

LABEL_PROPERTIES = (SKOS.prefLabel, SKOS.altLabel, SKOS.hiddenLabel)
CELL_LABEL = "cellLabel"  # local name of mkg:cellLabel in the medkg ontology namespace
NOT_KEY = re.compile(r"[^a-z0-9&+]+")  # runs of anything else fold to one space


@lru_cache(maxsize=1 << 16)
def fold(text: str) -> str:
    """Fold text for matching: lower case, no accents, punctuation to spaces ('&' and '+' kept)."""
    if not text.isascii():  # ASCII has no accents to strip: skip the costly per-character pass
        text = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.lower().replace("’", "'").replace("'s ", " ")
    return NOT_KEY.sub(" ", text).strip()


@dataclass
class KindIndex:
    """Labels of one concept scheme, compiled into one longest-first pattern."""

    kind: str
    labels: dict[str, str] = field(default_factory=dict)  # folded label -> concept IRI
    cell_only: set[str] = field(default_factory=set)  # folded mkg:cellLabel keys
    pattern: re.Pattern[str] | None = None
    text_pattern: re.Pattern[str] | None = None  # without the cell-only labels
    # Lists repeat the same cell texts ("CT", "H&E", "seg") thousands of times: match each once.
    _found: dict[tuple[str, bool], tuple[str, ...]] = field(default_factory=dict, repr=False)

    def compile(self) -> None:
        self.pattern = _alternation(self.labels)
        self.text_pattern = _alternation(k for k in self.labels if k not in self.cell_only)

    def find(self, text: str) -> list[str]:
        """Concept IRIs named anywhere in the text, in order of appearance, without repeats."""
        return self._find(text, False)

    def find_in_text(self, text: str) -> list[str]:
        """`find` for running text: cell-only labels (mkg:cellLabel) do not count there."""
        return self._find(text, True)

    def _find(self, text: str, running: bool) -> list[str]:
        pattern = self.text_pattern if running else self.pattern
        if pattern is None or not text:
            return []
        cached = self._found.get((text, running))
        if cached is None:
            found: list[str] = []
            for match in pattern.finditer(fold(text)):
                iri = self.labels[match.group(0)]
                if iri not in found:
                    found.append(iri)
            cached = self._found[(text, running)] = tuple(found)
            if len(self._found) > 200_000:  # bound memory on huge inputs of unique texts
                self._found.clear()
        return list(cached)

    def exact(self, text: str) -> str | None:
        return self.labels.get(fold(text))


@dataclass
class Vocabulary:
    """Label indexes for every concept scheme, plus preferred labels for display."""

    indexes: dict[str, KindIndex]
    pref_labels: dict[str, str]
    broader: dict[str, set[str]]

    def find(self, kind: str, text: str) -> list[str]:
        return self.indexes[kind].find(text)

    def find_in_text(self, kind: str, text: str) -> list[str]:
        return self.indexes[kind].find_in_text(text)

    def exact(self, kind: str, text: str) -> str | None:
        return self.indexes[kind].exact(text)

    def label(self, iri: str) -> str:
        return self.pref_labels.get(iri, iri.rsplit("/", 1)[-1])


def build_vocabulary(graph: rdflib.Graph, ns: Namespaces) -> Vocabulary:
    """Index the concepts of a SKOS graph by their scheme."""
    indexes = {kind: KindIndex(kind) for kind in CONCEPT_KINDS}
    scheme_kind = {rdflib.URIRef(ns.scheme(kind)): kind for kind in CONCEPT_KINDS}
    pref: dict[str, str] = {}
    broader: dict[str, set[str]] = {}
    for concept, scheme in graph.subject_objects(SKOS.inScheme):
        kind = scheme_kind.get(scheme)  # type: ignore[call-overload]
        if kind is None:
            continue
        iri = str(concept)
        for prop in LABEL_PROPERTIES:
            for label in graph.objects(concept, prop):
                key = fold(str(label))
                if key:
                    indexes[kind].labels.setdefault(key, iri)
        for label in graph.objects(concept, rdflib.URIRef(ns.term(CELL_LABEL))):
            key = fold(str(label))
            if key and key not in indexes[kind].labels:
                indexes[kind].labels[key] = iri
                indexes[kind].cell_only.add(key)
        label = graph.value(concept, SKOS.prefLabel)
        if label is not None:
            pref[iri] = str(label)
        broader[iri] = {str(b) for b in graph.objects(concept, SKOS.broader)}
    for index in indexes.values():
        index.compile()
    return Vocabulary(indexes, pref, broader)


def _alternation(keys: Iterable[str]) -> re.Pattern[str] | None:
    """One pattern for the keys, longest first, on word boundaries (None for no keys)."""
    ordered = sorted(keys, key=len, reverse=True)
    if not ordered:
        return None
    alternation = "|".join(re.escape(k) for k in ordered)
    return re.compile(rf"(?<![a-z0-9])(?:{alternation})(?![a-z0-9])")


def load_vocabulary(settings: Settings) -> Vocabulary:
    """Read ontology/vocab/*.ttl and index every scheme."""
    return build_vocabulary(vocabulary_graph(settings), Namespaces(settings.base))


def concepts_of(graph: rdflib.Graph) -> Iterable[rdflib.term.Node]:
    return graph.subjects(RDF.type, SKOS.Concept)
