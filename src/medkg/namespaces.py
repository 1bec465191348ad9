"""RDF namespaces and the IRIs medkg mints, all derived from one base."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

DCAT = "http://www.w3.org/ns/dcat#"
DCTERMS = "http://purl.org/dc/terms/"
SCHEMA = "https://schema.org/"
PROV = "http://www.w3.org/ns/prov#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
OWL = "http://www.w3.org/2002/07/owl#"
XSD = "http://www.w3.org/2001/XMLSchema#"
FOAF = "http://xmlns.com/foaf/0.1/"
VOID = "http://rdfs.org/ns/void#"
SH = "http://www.w3.org/ns/shacl#"

CONCEPT_KINDS = ("anatomy", "modality", "stain", "task", "venue")


def slugify(text: str) -> str:
    """Lower-case ASCII slug: letters, digits and single hyphens."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    folded = folded.replace("+", "-plus").replace("&", "-and-")
    slug = re.sub(r"[^a-z0-9]+", "-", folded.lower()).strip("-")
    return slug or "unnamed"


@dataclass(frozen=True)
class Namespaces:
    """IRIs under one base (`https://w3id.org/medkg/` unless configured)."""

    base: str

    @property
    def mkg(self) -> str:
        return f"{self.base}ontology#"

    @property
    def ontology(self) -> str:
        return f"{self.base}ontology"

    @property
    def catalogue(self) -> str:
        return f"{self.base}catalogue"

    def dataset(self, slug: str) -> str:
        return f"{self.base}dataset/{slug}"

    def concept(self, kind: str, local_id: str) -> str:
        return f"{self.base}{kind}/{local_id}"

    def scheme(self, kind: str) -> str:
        return f"{self.base}scheme/{kind}"

    def challenge(self, slug: str) -> str:
        return f"{self.base}challenge/{slug}"

    def source(self, source_id: str) -> str:
        return f"{self.base}source/{source_id}"

    def entry(self, source_id: str, line: int) -> str:
        return f"{self.base}source/{source_id}/entry/{line}"

    def graph(self, name: str) -> str:
        return f"{self.base}graph/{name}"

    def source_graph(self, source_id: str) -> str:
        return f"{self.base}graph/source/{source_id}"

    def term(self, local: str) -> str:
        return f"{self.mkg}{local}"
