"""Export the built graph in the formats linked-data users, catalogues and spreadsheets read.

`export(settings, fmt, out)` writes one format; `FORMATS` names them all:

- RDF dumps (dumps.py): `nq`, `trig` keep the named graphs; `nt`, `ttl`, `rdfxml`, `jsonld` hold
  the triples of the union of all graphs.
- `csv` (table.py): one flat row per dataset.
- `dcat` (dcat.py): a DCAT 3 / DCAT-AP catalogue, Turtle, or JSON-LD when `out` ends in .jsonld.
- `schemaorg` (schemaorg.py): a folder with a schema.org Dataset JSON-LD file per dataset.
- `croissant` (croissant.py): a folder with a Croissant 1.0 file per dataset.
- `sssom` (sssom.py): the vocabulary's external mappings as an SSSOM TSV.

Every format is written beside `out` and moved into place when complete (atomic.py).

JSON-LD outputs carry the published context ontology/context.jsonld inline (context.py), so
they read offline; the graph-shaped ones (`jsonld`, `dcat`) are in canonical order (jsonld.py).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyoxigraph as ox

from medkg.config import Settings
from medkg.export import croissant, dcat, dumps, schemaorg, sssom, table
from medkg.export.atomic import write_file, write_folder
from medkg.export.context import load_context
from medkg.export.errors import ExportError
from medkg.export.records import read_catalogue
from medkg.namespaces import Namespaces
from medkg.store import StoreError, open_read_only

__all__ = ["FORMATS", "WRITERS", "ExportError", "export"]

Writer = Callable[[ox.Store, Settings, Path, bool], Path]


def _dump(fmt: str) -> Writer:
    if fmt in dumps.QUAD_FORMATS:
        return lambda store, settings, out, quiet: dumps.dump_quads(store, settings, fmt, out)
    return lambda store, settings, out, quiet: dumps.dump_triples(store, settings, fmt, out, quiet)


def _catalogue_writer(write: Callable[..., Path]) -> Writer:
    def run(store: ox.Store, settings: Settings, out: Path, quiet: bool) -> Path:
        catalogue = read_catalogue(store, Namespaces(settings.base), streamed=True)
        return write(catalogue, load_context(settings), out, quiet)

    return run


def _csv(store: ox.Store, settings: Settings, out: Path, quiet: bool) -> Path:
    catalogue = read_catalogue(store, Namespaces(settings.base), streamed=True)
    return table.write_csv(catalogue.datasets, out, quiet)


def _dcat(store: ox.Store, settings: Settings, out: Path, quiet: bool) -> Path:
    ns = Namespaces(settings.base)
    return dcat.write_dcat(store, ns, read_catalogue(store, ns, streamed=True), settings, out,
                           quiet)


def _sssom(store: ox.Store, settings: Settings, out: Path, quiet: bool) -> Path:
    license_iri = read_catalogue(store, Namespaces(settings.base), with_datasets=False).license
    return sssom.write_sssom(store, settings, load_context(settings), license_iri, out, quiet)


WRITERS: dict[str, Writer] = {
    "ttl": _dump("ttl"),
    "nt": _dump("nt"),
    "nq": _dump("nq"),
    "trig": _dump("trig"),
    "jsonld": lambda store, settings, out, quiet: dumps.dump_jsonld(store, settings, out, quiet),
    "rdfxml": _dump("rdfxml"),
    "csv": _csv,
    "croissant": _catalogue_writer(croissant.write_croissant),
    "dcat": _dcat,
    "schemaorg": _catalogue_writer(schemaorg.write_schemaorg),
    "sssom": _sssom,
}
FORMATS: tuple[str, ...] = tuple(WRITERS)
# formats written as a folder of one file per dataset, with that file's suffix
FOLDER_SUFFIXES = {"croissant": ".json", "schemaorg": ".jsonld"}


def export(settings: Settings, fmt: str, out: Path, quiet: bool = False) -> Path:
    """Write the built store at `settings.store` as `fmt` to `out` (a file, or a folder for
    croissant and schemaorg); returns the path written."""
    writer = WRITERS.get(fmt)
    if writer is None:
        raise ExportError(f"unknown export format {fmt!r}; known formats: {', '.join(FORMATS)}")
    try:
        store = open_read_only(settings.store)
    except StoreError as exc:
        raise ExportError(str(exc)) from None
    out = Path(out)
    if out.parent != Path(""):
        out.parent.mkdir(parents=True, exist_ok=True)

    def write(path: Path) -> Path:
        return writer(store, settings, path, quiet)

    if fmt in FOLDER_SUFFIXES:
        return write_folder(out, FOLDER_SUFFIXES[fmt], write)
    return write_file(out, write)
