"""MLCommons Croissant 1.0 JSON-LD, one file per dataset.

Each file is the schema.org description (see schemaorg.py) plus what Croissant adds. Croissant
requires name, description, url, license, creator, datePublished and distribution (files with
checksums). The lists give none of creator, licence or files, so medkg does not invent them: every
required property it cannot fill is named in `missingProperty` (`mkg:missingProperty`, a medkg
extension) and in a sentence at the end of the description. No recordSet is given either, since
the lists do not describe the records inside the data.

Links: the concepts' `sameAs` are IRIs, as in the schema.org files (the context types `sameAs`
`@id`). The dataset's own `url` and `sameAs` cannot be: mlcroissant (1.1) reads them as strings
only and rejects a node reference, so they are `xsd:anyURI` literals, typed so that they read as
addresses and carry no `@language` (a plain string would take Croissant's "en"). `identifier` is
left out: it names the dataset's own `@id`, and as an IRI mlcroissant resolves it to the dataset
node itself and fails on the cycle.

Croissant 1.0 rather than 1.1: the 1.1 context turns name and description into language maps,
which would no longer read as plain strings. `mlcroissant validate` needs the context inline as an
object; it is the published context, plus Croissant's `@language`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from medkg.export.context import write_json
from medkg.export.progress import progress
from medkg.export.records import Catalogue, DatasetRecord
from medkg.export.schemaorg import dataset as schemaorg_dataset

CONFORMS_TO = "http://mlcommons.org/croissant/1.0"
REQUIRED = ("name", "description", "url", "license", "creator", "datePublished", "distribution")
# the dataset's links that mlcroissant accepts as strings only (see the module docstring)
STRING_LINKS = ("url", "sameAs")
URI_DATATYPE = "xsd:anyURI"


def croissant_context(context: dict[str, Any]) -> dict[str, Any]:
    """The published context with Croissant's default language."""
    return {**context, "@language": "en"}


def missing_required(doc: dict[str, Any]) -> list[str]:
    """Croissant-required properties absent from `doc` (the validator only warns about them)."""
    return [name for name in REQUIRED if name not in doc]


def uri_literal(value: str | list[str]) -> dict[str, str] | list[dict[str, str]]:
    """A URL (or several) as JSON-LD value objects typed xsd:anyURI."""
    if isinstance(value, list):
        return [{"@value": v, "@type": URI_DATATYPE} for v in value]
    return {"@value": value, "@type": URI_DATATYPE}


def croissant_links(body: dict[str, Any]) -> dict[str, Any]:
    """The schema.org description with its dataset-level links as mlcroissant reads them."""
    links = {k: uri_literal(v) if k in STRING_LINKS else v for k, v in body.items()}
    links.pop("identifier", None)
    return links


def dataset(record: DatasetRecord, catalogue: Catalogue, context: dict[str, Any]) -> dict[str, Any]:
    """The Croissant description of one dataset, @context included."""
    body = croissant_links(schemaorg_dataset(record, catalogue))
    doc: dict[str, Any] = {"@context": croissant_context(context), **body}
    doc["@type"] = "sc:Dataset"
    doc["conformsTo"] = CONFORMS_TO
    if record.citations:
        doc["citeAs"] = record.citations[0]
    gaps = missing_required(doc)
    if gaps:
        doc["missingProperty"] = gaps
        doc["description"] += (
            " Not stated by the source lists, so left out of this Croissant file: "
            + ", ".join(gaps)
            + "."
        )
    return doc


def write_croissant(catalogue: Catalogue, context: dict[str, Any], out: Path, quiet: bool) -> Path:
    """A folder with `<slug>.json` per dataset."""
    out.mkdir(parents=True, exist_ok=True)
    for record in progress(catalogue.datasets, "croissant", quiet):
        write_json(dataset(record, catalogue, context), out / f"{record.slug}.json")
    return out
