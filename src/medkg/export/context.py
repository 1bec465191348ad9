"""The published JSON-LD context (ontology/context.jsonld) and the prefix map it declares.

Every JSON-LD export carries this context inline, so that its keys read as plain JSON and a
JSON-LD processor reads it without fetching anything. The endpoint serves the same file at
`<base>context.jsonld`. The context is written under the default base and rebased on load, like
the Turtle files of ontology/.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from medkg.config import DEFAULT_BASE, Settings
from medkg.export.errors import ExportError

CONTEXT_FILE = "context.jsonld"


def context_path(settings: Settings) -> Path:
    return settings.ontology_dir / CONTEXT_FILE


def load_context(settings: Settings) -> dict[str, Any]:
    """The context object (the value of the file's `@context`), rebased onto the configured base."""
    path = context_path(settings)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ExportError(f"{path}: cannot read the JSON-LD context: {exc.strerror}") from None
    if settings.base != DEFAULT_BASE:
        text = text.replace(DEFAULT_BASE, settings.base)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ExportError(f"{path}: not valid JSON: {exc}") from None
    context = document.get("@context") if isinstance(document, dict) else None
    if not isinstance(context, dict):
        raise ExportError(f"{path}: expected an object with an '@context' object")
    return context


def prefix_map(context: dict[str, Any]) -> dict[str, str]:
    """Prefix -> namespace IRI for every term of the context that can act as a CURIE prefix."""
    prefixes: dict[str, str] = {}
    for term, value in context.items():
        if term.startswith("@"):
            continue
        if isinstance(value, str) and value.endswith(("/", "#", "_")):
            prefixes[term] = value
        elif isinstance(value, dict) and value.get("@prefix") is True:
            prefixes[term] = str(value["@id"])
    return prefixes


def compact_iri(iri: str, prefixes: dict[str, str]) -> str | None:
    """The CURIE of `iri` under the longest matching namespace, or None when none matches."""
    best: tuple[str, str] | None = None
    for prefix, namespace in prefixes.items():
        matches = iri.startswith(namespace) and len(iri) > len(namespace)
        if matches and (best is None or len(namespace) > len(best[1])):
            best = (prefix, namespace)
    return None if best is None else f"{best[0]}:{iri[len(best[1]):]}"


def write_json(document: dict[str, Any], out: Path) -> Path:
    """Write one JSON(-LD) document, UTF-8, indented, keys in the order built."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return out
