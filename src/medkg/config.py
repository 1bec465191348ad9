"""Settings: the one place where medkg reads its configuration.

Values come from, in order of precedence: explicit arguments, `MEDKG_*` environment variables,
then defaults. Paths to `data/` and `ontology/` are found from `MEDKG_HOME`, else from the current
directory or its parents, else beside the installed package (an editable install or a checkout).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import pyoxigraph as ox

DEFAULT_BASE = "https://w3id.org/medkg/"
DEFAULT_STORE = ".medkg/store"


class ConfigError(Exception):
    """A setting is missing or malformed."""


def _find_home() -> Path:
    env = os.environ.get("MEDKG_HOME")
    if env:
        home = Path(env).expanduser().resolve()
        if not (home / "data" / "manifest.toml").is_file():
            raise ConfigError(f"MEDKG_HOME={env} has no data/manifest.toml")
        return home
    here = Path.cwd().resolve()
    for candidate in (here, *here.parents):
        if (candidate / "data" / "manifest.toml").is_file() and (candidate / "ontology").is_dir():
            return candidate
    package_root = Path(__file__).resolve().parents[2]
    if (package_root / "data" / "manifest.toml").is_file():
        return package_root
    raise ConfigError(
        "cannot find medkg's data/ and ontology/ folders: run from a medkg checkout "
        "or set MEDKG_HOME to one"
    )


def _base_iri(base: str) -> str:
    """The base IRI every medkg IRI is minted under, or ConfigError saying what is wrong.

    medkg appends paths (`dataset/<slug>`) and its own fragment (`ontology#`) to the base, so
    the base ends in '/' and holds no '#' (two fragments make an invalid IRI).
    """
    if not base.startswith(("http://", "https://")) or not base.endswith("/") or "#" in base:
        raise ConfigError(
            f"MEDKG_BASE={base!r} must be an http(s) IRI ending in '/', without '#' "
            "(medkg appends paths and its own 'ontology#' to it)"
        )
    try:
        ox.NamedNode(base + "ontology#")
    except ValueError as exc:
        raise ConfigError(f"MEDKG_BASE={base!r} is not a valid IRI: {exc}") from None
    return base


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if value <= 0:
        raise ConfigError(f"{name} must be positive, got {raw}")
    return value


@dataclass(frozen=True)
class Settings:
    """Resolved configuration for one run of medkg."""

    home: Path
    store: Path
    base: str = DEFAULT_BASE
    query_timeout: float = 30.0
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def ontology_dir(self) -> Path:
        return self.home / "ontology"

    @property
    def manifest(self) -> Path:
        return self.data_dir / "manifest.toml"

    def with_store(self, store: Path | str | None) -> "Settings":
        return self if store is None else replace(self, store=Path(store).expanduser().resolve())


def load_settings(store: Path | str | None = None, home: Path | str | None = None) -> Settings:
    """Read settings from arguments and the environment."""
    resolved_home = Path(home).resolve() if home else _find_home()
    base = _base_iri(os.environ.get("MEDKG_BASE", DEFAULT_BASE))
    store_path = store or os.environ.get("MEDKG_STORE") or (resolved_home / DEFAULT_STORE)
    return Settings(
        home=resolved_home,
        store=Path(store_path).expanduser().resolve(),
        base=base,
        query_timeout=_env_float("MEDKG_QUERY_TIMEOUT", 30.0),
    )
