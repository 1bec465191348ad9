"""The vocabulary's mappings to external ontologies as an SSSOM TSV with its YAML header.

Rows come from the skos:*Match statements of the store's vocabulary graph (what the built graph
really says); ontology/mappings-verified.tsv adds the external label and how each mapping was
checked, which goes into `comment`. A mapping listed there was curated and checked by hand, hence
`semapv:ManualMappingCuration`. A mapping the table does not list is in the vocabulary files but
nobody recorded how it was made or checked it (an edit that skipped the table, a vocabulary
from elsewhere), so it is `semapv:UnspecifiedMatching`, SEMAPV's term for a mapping made by a
method that is not stated: any other term would claim a method or a check nobody recorded.
CURIE prefixes come from the published JSON-LD context, plus one `medkg.<kind>` prefix per
concept kind for the subjects.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox

from medkg.config import Settings
from medkg.export.context import compact_iri, prefix_map
from medkg.export.errors import ExportError
from medkg.export.progress import progress
from medkg.namespaces import CONCEPT_KINDS, SKOS, Namespaces

MAPPINGS_FILE = "mappings-verified.tsv"
TABLE_COLUMNS = (
    "concept", "predicate", "object", "object_label", "source", "verification", "justification",
)  # fmt: skip
MATCH_PREDICATES = ("exactMatch", "closeMatch", "broadMatch", "narrowMatch", "relatedMatch")
VERIFIED_JUSTIFICATION = "semapv:ManualMappingCuration"
UNVERIFIED_JUSTIFICATION = "semapv:UnspecifiedMatching"
STANDARD_PREFIXES = {"skos": SKOS, "semapv": "https://w3id.org/semapv/vocab/"}
SSSOM_COLUMNS = (
    "subject_id", "subject_label", "predicate_id", "object_id", "object_label",
    "mapping_justification", "comment",
)  # fmt: skip


@dataclass(frozen=True)
class Verified:
    """One row of ontology/mappings-verified.tsv."""

    object_label: str
    source: str
    verification: str
    justification: str


def _expand(value: str, prefixes: dict[str, str], default_namespace: str) -> str:
    """A full IRI from an IRI, a CURIE of a known prefix, or a name relative to
    `default_namespace`."""
    if value.startswith(("http://", "https://")):
        return value
    prefix, colon, local = value.partition(":")
    if colon and prefix in prefixes:
        return prefixes[prefix] + local
    return default_namespace + value


def read_verified(
    path: Path, prefixes: dict[str, str], base: str
) -> dict[tuple[str, str, str], Verified]:
    """(concept IRI, predicate IRI, object IRI) -> what the verification table says of it."""
    try:
        handle = path.open(encoding="utf-8", newline="")
    except OSError as exc:
        raise ExportError(f"{path}: cannot read the verified mappings: {exc.strerror}") from None
    with handle:
        reader = csv.DictReader(handle, delimiter="\t")
        missing = [c for c in TABLE_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ExportError(f"{path}: missing column(s) {', '.join(missing)}")
        table = {}
        for row in reader:
            key = (
                _expand(row["concept"].strip(), prefixes, base),
                _expand(row["predicate"].strip(), prefixes, SKOS),
                _expand(row["object"].strip(), prefixes, ""),
            )
            table[key] = Verified(*(row[c].strip() for c in TABLE_COLUMNS[3:]))
    return table


def store_mappings(store: ox.Store, ns: Namespaces) -> list[tuple[str, str, str, str]]:
    """(concept, label, predicate, object) for every mapping of the vocabulary graph, sorted."""
    predicates = ", ".join(f"<{SKOS}{p}>" for p in MATCH_PREDICATES)
    query = f"""SELECT ?c ?label ?p ?o WHERE {{ GRAPH <{ns.graph('vocabulary')}> {{
          ?c ?p ?o FILTER(?p IN ({predicates}) && isIRI(?o))
          OPTIONAL {{ ?c <{SKOS}prefLabel> ?label }} }} }} ORDER BY ?c ?p ?o"""
    rows = []
    for solution in store.query(query):  # type: ignore[union-attr]
        label = solution["label"].value if solution["label"] is not None else ""
        rows.append((solution["c"].value, label, solution["p"].value, solution["o"].value))
    return rows


def curie_map(settings: Settings, context: dict) -> dict[str, str]:
    """Prefixes of the context, the SSSOM-standard ones and one per medkg concept kind."""
    prefixes = {**prefix_map(context), **STANDARD_PREFIXES}
    ns = Namespaces(settings.base)
    for kind in CONCEPT_KINDS:
        prefixes[f"medkg.{kind}"] = ns.concept(kind, "")
    return prefixes


def _curie(iri: str, prefixes: dict[str, str]) -> str:
    curie = compact_iri(iri, prefixes)
    if curie is None:
        raise ExportError(
            f"no CURIE prefix for {iri}: add its namespace to ontology/context.jsonld"
        )
    return curie


def _justification(verified: Verified | None) -> str:
    """How the mapping was made, as far as the verification table vouches for it."""
    return UNVERIFIED_JUSTIFICATION if verified is None else VERIFIED_JUSTIFICATION


def _comment(verified: Verified | None) -> str:
    if verified is None:
        return "not listed in ontology/mappings-verified.tsv, so not verified"
    return f"{verified.justification} (verification {verified.verification}: {verified.source})"


def write_sssom(
    store: ox.Store,
    settings: Settings,
    context: dict,
    license_iri: str | None,
    out: Path,
    quiet: bool,
) -> Path:
    """The SSSOM TSV of all concept mappings."""
    if not license_iri or not license_iri.startswith(("http://", "https://")):
        raise ExportError(
            "the catalogue has no dcterms:license IRI, which SSSOM requires as `license`"
        )
    prefixes = curie_map(settings, context)
    table_path = settings.ontology_dir / MAPPINGS_FILE
    verified = read_verified(table_path, prefixes, settings.base)
    rows: list[dict[str, str]] = []
    mappings = store_mappings(store, Namespaces(settings.base))
    for concept, label, predicate, obj in progress(mappings, "sssom", quiet):
        found = verified.get((concept, predicate, obj))
        rows.append({
            "subject_id": _curie(concept, prefixes),
            "subject_label": label,
            "predicate_id": _curie(predicate, prefixes),
            "object_id": _curie(obj, prefixes),
            "object_label": found.object_label if found else "",
            "mapping_justification": _justification(found),
            "comment": _comment(found),
        })  # fmt: skip
    curie_columns = ("subject_id", "predicate_id", "object_id")
    used = {r[c].split(":", 1)[0] for r in rows for c in curie_columns}
    used |= {"semapv"}
    header = [
        "# curie_map:",
        *(f"#   {p}: {prefixes[p]}" for p in sorted(used)),
        f"# mapping_set_id: {settings.base}mappings.sssom.tsv",
        "# mapping_set_title: medkg vocabulary mappings to external ontologies",
        f"# license: {license_iri}",
    ]
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8", newline="") as handle:
        handle.write("\n".join(header) + "\n")
        writer = csv.DictWriter(
            handle, fieldnames=SSSOM_COLUMNS, delimiter="\t", lineterminator="\n"
        )
        writer.writeheader()
        writer.writerows(rows)
    return out
