"""The `medkg` command line: build, query, validate, export, stats, push, docs, serve.

Heavy imports happen inside commands so that `medkg --help` stays fast. Library errors are
turned into one clear line on stderr and an exit code; no traceback reaches the user.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any, NoReturn

import click
from click.core import ParameterSource

from medkg import __version__

EXIT_INPUT = 2
SHOWN_LINKS = 5  # dropped links printed after a build (report.json lists them all)
SERVICE_KEYWORD = re.compile(r"\bservice\b", re.IGNORECASE)
# a cron build outlasts an update or Graph Store write holding the store's writer lock (they
# take seconds), yet never waits forever behind a stuck writer
BUILD_WAIT_SECONDS = 30.0

store_option = click.option(
    "--store", "store", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Store folder (default: $MEDKG_STORE, else .medkg/store in the project).",
)
quiet_option = click.option("--quiet", "-q", is_flag=True, help="No progress output.")


def fail(message: str, code: int = 1) -> NoReturn:
    click.echo(f"medkg: error: {message}", err=True)
    sys.exit(code)


def cannot_write(path: Path, reason: str) -> NoReturn:
    """Exit on an output path that cannot be written (a path the user chose: an input error)."""
    click.echo(f"medkg: cannot write {path}: {reason}", err=True)
    sys.exit(EXIT_INPUT)


def os_failure(exc: OSError, out: Path) -> NoReturn:
    """Exit with one line for an OSError met while writing `out`.

    When the error names `out`, a path inside it or a folder on its way (or names nothing), the
    write failed: `cannot write OUT: REASON`. Any other file it names (one being read) is the
    one the line names instead.
    """
    culprit = exc.filename if isinstance(exc.filename, str) else None
    if culprit is not None and not _on_the_way(culprit, out):
        fail(f"{culprit}: {_reason(exc)}", EXIT_INPUT)
    if isinstance(exc, FileExistsError):
        # mkdir(exist_ok=True) only raises this when the thing in the way is not a folder
        what = "it" if culprit is None or _same(culprit, out) else culprit
        cannot_write(out, f"{what} exists and is not a folder")
    if isinstance(exc, IsADirectoryError) and (culprit is None or _same(culprit, out)):
        cannot_write(out, "it is a folder; give a file name")
    if isinstance(exc, NotADirectoryError) and (blocker := _not_a_folder(out)) is not None:
        cannot_write(out, f"{blocker} is not a folder")
    reason = _reason(exc)
    if culprit is not None and not _same(culprit, out):
        reason = f"{culprit}: {reason}"
    cannot_write(out, reason)


def _reason(exc: OSError) -> str:
    # pyoxigraph's OSErrors carry no strerror, only a message
    return exc.strerror or " ".join(str(exc).split())


def _same(a: str | Path, b: str | Path) -> bool:
    return os.path.abspath(a) == os.path.abspath(b)


def _not_a_folder(out: Path) -> Path | None:
    """The first folder on the way to `out` that exists but is not a folder, if any."""
    parents = reversed(Path(os.path.abspath(out)).parents)
    return next((p for p in parents if p.exists() and not p.is_dir()), None)


def _on_the_way(culprit: str, out: Path) -> bool:
    """Whether `culprit` is `out`, inside it, or one of the folders that lead to it."""
    path, target = Path(os.path.abspath(culprit)), Path(os.path.abspath(out))
    return path == target or target in path.parents or path in target.parents


def settings_for(store: Path | None) -> Any:
    from medkg.config import ConfigError, load_settings

    try:
        settings = load_settings(store=store)
    except ConfigError as exc:
        fail(str(exc), EXIT_INPUT)
    return settings


def open_store(settings: Any) -> Any:
    from medkg.store import StoreError, open_read_only

    try:
        return open_read_only(settings.store)
    except StoreError as exc:
        fail(str(exc))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="medkg")
def main() -> None:
    """medkg: a knowledge graph of public medical imaging datasets."""


@main.command()
@store_option
@click.option("--sources", "extra", multiple=True, type=str,
              help="Extra markdown list (file, folder or http(s) URL); repeatable.")
@click.option("--no-validate", is_flag=True, help="Skip SHACL validation.")
@click.option("--wait", "wait", type=click.FloatRange(min=0), default=BUILD_WAIT_SECONDS,
              show_default=True, metavar="SECONDS",
              help="Wait at most this long for another build, SPARQL update or Graph Store "
                   "write to finish with the store (0: fail at once).")
@quiet_option
def build(store: Path | None, extra: tuple[str, ...], no_validate: bool, wait: float,
          quiet: bool) -> None:
    """Build the graph from data/ and replace the store atomically."""
    from medkg.build import BuildError, ValidationFailed, build as run_build
    from medkg.ontology import OntologyError
    from medkg.sources import SourceError
    from medkg.tables import TableError as CurationError

    settings = settings_for(store)
    try:
        report = run_build(settings, list(extra), run_validation=not no_validate,
                           quiet=quiet, wait=wait)
    except ValidationFailed as exc:
        click.echo(exc.report["validation"]["text"], err=True)
        fail(f"{exc} ({_store_left(settings.store)})")
    except (BuildError, SourceError, OntologyError, CurationError) as exc:
        fail(f"{exc} ({_store_left(settings.store)})", EXIT_INPUT)
    except OSError as exc:
        os_failure(exc, settings.store)
    if not quiet:
        click.echo(render_report(report))
    if report.get("sparql_updates_dropped"):
        # said even with -q: a cron build must not drop what users wrote without a word
        click.echo("medkg: warning: the previous version held changes made by SPARQL Update or "
                   "the Graph Store; this build is made from the lists alone and does not keep "
                   "them", err=True)
    click.echo(f"built {report['datasets']} datasets ({report['quads']} quads) into "
               f"{settings.store} [version {report['version']}]", err=quiet)


def _store_left(store: Path) -> str:
    """What a failed build left at `store`: the previous version, or (a first build) nothing."""
    from medkg.store import exists

    if exists(store):
        return f"previous store kept at {store}"
    return f"no store was written at {store}"


def render_report(report: dict[str, Any]) -> str:
    """The build report as a table a person reads on screen."""
    lines = ["", f"{'source':24} {'rows':>5} {'entries':>7} {'datasets':>8} {'skipped':>7}"]
    for src in report["sources"]:
        lines.append(f"{src['id']:24} {src['rows_read']:>5} {src['entries']:>7} "
                     f"{src['datasets']:>8} {len(src['skipped']):>7}")
    lines.append(f"{'total':24} {'':>5} {report['entries']:>7} {report['datasets']:>8}"
                 f"   ({report['datasets_in_several_lists']} datasets appear in several lists)")
    changed = [src["id"] for src in report["sources"] if src.get("changed_since_received")]
    if changed:
        lines.append("lists edited since received (their sha256 differs from the manifest's): "
                     + ", ".join(changed))
    lines.append("")
    lines.append("skipped rows (file:line  reason):")
    for src in report["sources"]:
        for skip in src["skipped"]:
            lines.append(f"  {skip['file']}:{skip['line']}  {skip['reason']}")
    mapping = report["mapping"]
    kinds = ", ".join(f"{k} {v['mapped']}/{v['mentions']} ({v['percent']}%)"
                      for k, v in mapping["kinds"].items())
    lines.append("")
    lines.append(f"vocabulary mapping: {mapping['percent']}% of organ, modality and stain "
                 f"mentions ({kinds})")
    unmatched = [u for u in report["unmatched_mentions"] if u["kind"] in mapping["kinds"]]
    if unmatched:
        lines.append("unmapped mentions:")
        for u in unmatched:
            lines.append(f"  {u['file']}:{u['line']}  {u['kind']}: {u['text']!r}")
    mismatched = report.get("label_class_mismatches", [])
    if mismatched:
        lines.append("label classes named in another number than stated (the stated count kept):")
        lines += [f"  {m['file']}:{m['line']}  {m['count']} stated, {len(m['names'])} named: "
                  f"{m['text']!r}" for m in mismatched]
    dropped = report.get("dropped_links", [])
    if dropped:
        # mostly links relative to the upstream repository: a few lines, the rest in report.json
        lines.append(f"links not stored (not http(s) URLs): {len(dropped)}, each in report.json")
        lines += [f"  {d['file']}:{d['line']}  {d['href']!r}" for d in dropped[:SHOWN_LINKS]]
        if len(dropped) > SHOWN_LINKS:
            lines.append(f"  ... and {len(dropped) - SHOWN_LINKS} more")
    gone = report.get("datasets_gone", [])
    if gone:
        lines.append(f"datasets published before and not now ({len(gone)}; their IRIs stop "
                     "resolving; a 'different' row in data/curation/merge.tsv keeps them apart):")
        for g in gone:
            where = f"  (its entries are now in {g['now_in']})" if g["now_in"] else ""
            lines.append(f"  {g['iri']}{where}")
    if report.get("curation_unused"):
        lines.append("curation rows that name no entry read (a misspelt name, a moved line, or "
                     "a list not read):")
        lines += [f"  {where}" for where in report["curation_unused"]]
    if report.get("entries_kept_apart"):
        lines.append("entries kept apart as datasets of their own (data/curation/entries.tsv):")
        lines += [f"  {e}" for e in report["entries_kept_apart"]]
    if report.get("refused_merges"):
        lines.append("merges kept apart:")
        lines += [f"  {r}" for r in report["refused_merges"]]
    validation = report.get("validation", {})
    if validation.get("skipped"):
        lines.append("SHACL validation: skipped (--no-validate)")
    elif validation:
        counts = validation["counts"]
        verdict = "conforms" if validation["conforms"] else "DOES NOT CONFORM"
        lines.append(f"SHACL validation: {verdict} ({counts['Violation']} violations, "
                     f"{counts['Warning']} warnings, {counts['Info']} info) in "
                     f"{validation['seconds']} s")
    return "\n".join(lines)


@main.command()
@store_option
@click.option("--format", "fmt", default="table", show_default=True,
              type=click.Choice(["table", "json", "xml", "csv", "tsv", "turtle", "ntriples",
                                 "jsonld"]))
@click.option("--endpoint", default=None,
              help="Query a remote SPARQL endpoint instead of the store.")
@click.option("--token", default=None, envvar="MEDKG_QUERY_TOKEN",
              help="Bearer token sent to --endpoint (never printed).")
@click.argument("query")
def query(store: Path | None, fmt: str, endpoint: str | None, token: str | None,
          query: str) -> None:
    """Run SPARQL QUERY (text, @file.rq, or - for stdin) on the store.

    Exit 0 on success; 2 when the query, its file or the format is wrong (with --endpoint: also
    when the endpoint refuses the query as malformed, HTTP 400); 1 when the store or the
    endpoint fails.
    """
    from medkg.query import QueryError, read_query_argument, run, short_message, write

    try:
        text = read_query_argument(query, sys.stdin.buffer.read() if query == "-" else None)
    except QueryError as exc:
        fail(str(exc), EXIT_INPUT)
    given = click.get_current_context().get_parameter_source("token")
    if token is not None and not endpoint and given is ParameterSource.COMMANDLINE:
        fail("--token is sent to --endpoint; a query on the local store needs none", EXIT_INPUT)
    if endpoint:
        from medkg.remote import QueryRefused, RemoteError, query as remote_query

        try:
            _print_answer(remote_query(endpoint, text, fmt, token=token))
        except (QueryError, QueryRefused) as exc:
            fail(str(exc), EXIT_INPUT)
        except RemoteError as exc:
            fail(str(exc))
        return
    from medkg.namespaces import Namespaces

    settings = settings_for(store)
    db = open_store(settings)
    try:
        _print_answer(write(run(db, text, Namespaces(settings.base)), fmt))
    except QueryError as exc:
        fail(str(exc), EXIT_INPUT)
    except (OSError, RuntimeError) as exc:
        # pyoxigraph calls a SERVICE's endpoint over HTTP while the results are read: a failed
        # call raises OSError (its message may hold the endpoint's whole answer), an unreadable
        # answer RuntimeError
        during = " (while calling a SERVICE endpoint)" if SERVICE_KEYWORD.search(text) else ""
        fail(f"query failed{during}: {short_message(str(exc))}")




def _print_answer(text: str) -> None:
    """An answer as it is: CSV, TSV and RDF end with their own line break, a table does not."""
    click.echo(text, nl=not text.endswith("\n"))

@main.command()
@store_option
@click.option("--report-ttl", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the SHACL validation report as Turtle.")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
def validate(store: Path | None, report_ttl: Path | None, files: tuple[Path, ...]) -> None:
    """SHACL-validate the store, or the given RDF files (exit 0 conforms, 1 not, 2 bad input)."""
    from medkg.validation import InputError, format_report, validate_files, write_report_turtle

    settings = settings_for(store)
    try:
        if files:
            result = validate_files(list(files), settings)
        else:
            from medkg.sparql_validation import validate_store_sparql

            result = validate_store_sparql(open_store(settings), settings)
    except InputError as exc:
        fail(str(exc), EXIT_INPUT)
    click.echo(format_report(result))
    if report_ttl:
        try:
            write_report_turtle(result, report_ttl)
        except OSError as exc:
            os_failure(exc, report_ttl)
    sys.exit(0 if result.conforms else 1)


@main.command()
@store_option
@click.option("--format", "fmt", required=True, help="ttl, nt, nq, trig, jsonld, rdfxml, csv, "
              "croissant, dcat, schemaorg, sssom")
@click.option("--out", required=True, type=click.Path(path_type=Path),
              help="Output file or folder.")
@quiet_option
def export(store: Path | None, fmt: str, out: Path, quiet: bool) -> None:
    """Write a dump or a catalogue format of the graph."""
    from medkg.export import ExportError, export as run_export

    settings = settings_for(store)
    open_store(settings)  # a clear error when nothing was built yet
    try:
        written = run_export(settings, fmt, out, quiet=quiet)
    except ExportError as exc:
        fail(str(exc), EXIT_INPUT)
    except OSError as exc:
        os_failure(exc, out)
    click.echo(f"wrote {written}", err=True)


@main.command()
@store_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
def stats(store: Path | None, as_json: bool) -> None:
    """Counts: datasets per source, modality, organ, stain, task, challenge, year."""
    from medkg.namespaces import Namespaces
    from medkg.stats import all_stats

    settings = settings_for(store)
    data = all_stats(open_store(settings), Namespaces(settings.base))
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    totals = data.pop("totals")
    click.echo(f"{totals['datasets']} datasets from {totals['entries']} list entries, "
               f"{totals['quads']} quads")
    for facet, rows in data.items():
        click.echo(f"\ndatasets per {facet}:")
        for label, n in rows:  # type: ignore[union-attr]
            click.echo(f"  {n:>5}  {label}")


@main.command()
@store_option
@click.option("--endpoint", required=True, help="SPARQL endpoint (Graph Store Protocol or Update).")
@click.option("--graph", default=None, help="Put everything into this one named graph.")
@click.option("--token", default=None, envvar="MEDKG_PUSH_TOKEN",
              help="Bearer token (also from $MEDKG_PUSH_TOKEN).")
@click.option("--batch", default=50_000, show_default=True, help="Triples per request.")
@click.option("--timeout", default=300.0, show_default=True,
              type=click.FloatRange(min=0, min_open=True),
              help="Seconds to wait for the target's answer to each request.")
@quiet_option
def push(store: Path | None, endpoint: str, graph: str | None, token: str | None, batch: int,
         timeout: float, quiet: bool) -> None:
    """Load the graph into another triple store, replacing the graphs medkg owns."""
    from medkg.push import PushError, push as run_push

    settings = settings_for(store)
    open_store(settings)
    try:
        report = run_push(settings, endpoint, graph, token, batch, quiet, timeout)
    except PushError as exc:
        fail(str(exc))
    click.echo(str(report), err=True)


@main.command()
@store_option
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output folder (default: <store>/docs), replaced whole once the pages are "
                   "written; one holding other than .html files is refused.")
def docs(store: Path | None, out: Path | None) -> None:
    """Generate HTML documentation of the ontology and vocabularies."""
    from medkg.docs import write_docs
    from medkg.export import ExportError
    from medkg.ontology import OntologyError

    settings = settings_for(store)
    out_dir = out or settings.store / "docs"
    try:
        index = write_docs(settings, out_dir)
    except (OntologyError, ExportError) as exc:
        fail(str(exc), EXIT_INPUT)
    except OSError as exc:
        os_failure(exc, out_dir)
    click.echo(f"wrote {index}")


@main.command()
@store_option
@click.option("--host", default="127.0.0.1", show_default=True, envvar="MEDKG_HOST")
@click.option("--port", default=8000, show_default=True, envvar="MEDKG_PORT", type=int)
@click.option("--workers", default=2, show_default=True, envvar="MEDKG_WORKERS", type=int)
@quiet_option
def serve(store: Path | None, host: str, port: int, workers: int, quiet: bool) -> None:
    """Serve the SPARQL endpoint and linked-data pages (builds the store first if there is none)."""
    from medkg.store import exists

    settings = settings_for(store)
    if not exists(settings.store):
        click.echo(f"no store at {settings.store}: building it first", err=True)
        ctx = click.get_current_context()
        ctx.invoke(build, store=settings.store, extra=(), no_validate=False, quiet=quiet)
    from medkg.config import ConfigError
    from medkg_server import serve as run_server

    try:
        run_server(settings, host=host, port=port, workers=workers)
    except ConfigError as exc:
        fail(str(exc), EXIT_INPUT)


if __name__ == "__main__":
    main()
