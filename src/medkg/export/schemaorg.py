"""schema.org `Dataset` JSON-LD, one file per dataset, as Google Dataset Search reads it.

Properties follow Google's Dataset guide: name and description (which Google wants 50 to 5000
characters long), url, identifier, alternateName, sameAs, citation, keywords,
measurementTechnique (modality and stain), about (organ), datePublished, includedInDataCatalog.
Nothing the lists do not say is filled in: creator, licence and isAccessibleForFree are left out
when unknown (schema.org treats a missing property as unknown), and temporalCoverage is left out
because the lists give release dates, not the period the data covers. `url`, `sameAs` and
`identifier` stay plain strings in the JSON, as Google's examples write them, and read as IRIs in
RDF because ontology/context.jsonld types them `@id` (as schema.org's own context does for url
and sameAs; medkg's identifiers are always IRIs). Each file carries the
published context inline, so it can be embedded in a web page and read without fetching anything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from medkg.export.context import write_json
from medkg.export.progress import progress
from medkg.export.records import Catalogue, Concept, DatasetRecord

MIN_DESCRIPTION = 50
MAX_DESCRIPTION = 5000


def defined_term(concept: Concept) -> dict[str, Any]:
    """A vocabulary concept as a schema.org DefinedTerm, linked to its external matches."""
    term: dict[str, Any] = {"@type": "DefinedTerm", "@id": concept.iri, "name": concept.label}
    if concept.notation:
        term["termCode"] = concept.notation
    if concept.scheme:
        term["inDefinedTermSet"] = {"@id": concept.scheme}
    if concept.matches:
        term["sameAs"] = list(concept.matches)
    return term


def _sentence(text: str) -> str:
    """`text` ending in a full stop."""
    text = text.rstrip()
    return text if text.endswith(".") else text + "."


def _summary(record: DatasetRecord) -> str:
    """One sentence of the dataset's modalities, organs and tasks, for a description the lists
    keep to a word or two ("Brain.")."""
    kinds = (record.modalities, record.organs, record.tasks)
    facts = "; ".join(", ".join(c.label for c in kind) for kind in kinds if kind)
    return f"{record.title}: a medical imaging dataset" + (f" ({facts})." if facts else ".")


def describe(record: DatasetRecord) -> str:
    """The lists' descriptions, then the facts a reader of a catalogue page looks for first.

    Under MIN_DESCRIPTION characters, dataset search engines flag the description; a short one
    is followed by a summary of the dataset's concepts.
    """
    parts = [_sentence(d) for d in record.descriptions]
    if not parts:
        parts.append(
            f"{record.title}: a medical imaging dataset; the lists give no description of it."
        )
    elif len(" ".join(parts)) < MIN_DESCRIPTION:
        parts.append(_summary(record))
    if record.counts:
        sizes = "; ".join(f"{c.text} ({c.split + ' split, ' if c.split else ''}according to "
                          f"{c.source})" for c in record.counts)
        parts.append(f"Size: {sizes}.")
    if len({d.value for d in record.issued}) > 1:
        said = "; ".join(f"{d.value} ({d.source})" for d in record.issued)
        parts.append(f"The lists disagree on its release date: {said}.")
    titles = "; ".join(s.title for s in record.sources)
    parts.append(f"Listed in: {titles}.")
    text = " ".join(parts)
    return text if len(text) <= MAX_DESCRIPTION else text[: MAX_DESCRIPTION - 1] + "…"


def url(record: DatasetRecord) -> str:
    """The dataset's own page where a list gives one, else its medkg IRI."""
    return record.landing_pages[0] if record.landing_pages else record.iri


def dataset(record: DatasetRecord, catalogue: Catalogue) -> dict[str, Any]:
    """The schema.org description of one dataset, without @context."""
    doc: dict[str, Any] = {"@type": "Dataset", "@id": record.iri, "name": record.title}
    alternates = [n for n in record.alt_names if n != record.title]
    if alternates:
        doc["alternateName"] = alternates
    doc["description"] = describe(record)
    doc["url"] = url(record)
    doc["identifier"] = record.iri
    # the medkg IRI is already @id and identifier; sameAs pointing back at @id would be a loop
    same_as = [p for p in record.landing_pages if p != doc["url"]]
    if same_as:
        doc["sameAs"] = same_as
    citations = list(record.papers)
    doi_links = [f"https://doi.org/{d}" for d in record.dois]
    citations += [link for link in doi_links if link not in citations]
    citations += record.citations
    if citations:
        doc["citation"] = citations
    concepts = (*record.organs, *record.modalities, *record.stains, *record.tasks)
    keywords = [c.label for c in concepts]
    keywords += [c.label for c in record.challenges]
    if keywords:
        doc["keywords"] = keywords
    techniques = [defined_term(c) for c in (*record.modalities, *record.stains)]
    if techniques:
        doc["measurementTechnique"] = techniques
    if record.organs:
        doc["about"] = [defined_term(c) for c in record.organs]
    earliest = record.earliest_issued
    if earliest is not None:
        doc["datePublished"] = earliest.value
    if record.challenges:
        doc["subjectOf"] = [
            {"@type": "Event", "@id": c.iri, "name": c.label} for c in record.challenges
        ]
    doc["includedInDataCatalog"] = {
        "@type": "DataCatalog",
        "@id": catalogue.iri,
        "name": catalogue.title or "medkg",
    }
    return doc


def write_schemaorg(
    catalogue: Catalogue, context: dict[str, Any], out: Path, quiet: bool
) -> Path:
    """A folder with `<slug>.jsonld` per dataset."""
    out.mkdir(parents=True, exist_ok=True)
    for record in progress(catalogue.datasets, "schema.org", quiet):
        document = {"@context": context, **dataset(record, catalogue)}
        write_json(document, out / f"{record.slug}.jsonld")
    return out
