"""Server settings: defaults, which values may be zero, and errors that name the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from medkg.config import ConfigError
from medkg_server.settings import DEFAULTS, resolve


def test_missing_keys_take_the_defaults(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = resolve({"STORE": str(tmp_path)})
    assert settings.store == tmp_path
    assert settings.memory_quads == DEFAULTS["MEMORY_QUADS"] > 0
    assert settings.workers == DEFAULTS["WORKERS"]


@pytest.mark.parametrize("name", ["MEMORY_QUADS", "CACHE_ENTRIES"])
def test_zero_turns_a_feature_off(tmp_path, name: str) -> None:  # type: ignore[no-untyped-def]
    settings = resolve({"STORE": str(tmp_path), name: "0"})
    assert getattr(settings, name.lower()) == 0


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("MEMORY_QUADS", "-1", "MEDKG_MEMORY_QUADS must be 0 or more"),
        ("MEMORY_QUADS", "lots", "MEDKG_MEMORY_QUADS='lots' is not a whole number"),
        ("WORKERS", "0", "MEDKG_WORKERS must be positive"),
    ],
)
def test_a_bad_value_names_its_variable(tmp_path, name: str, value: str, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match=message):
        resolve({"STORE": str(tmp_path), name: value})


@pytest.mark.parametrize("token", ["true", "1e3", "1.50", "null", "007"])
def test_an_update_token_from_the_environment_is_the_text_written(
    tmp_path, monkeypatch, token: str  # type: ignore[no-untyped-def]
) -> None:
    # Flask's JSON decoding made "true" the token "True", "1e3" "1000.0" and "null" no token
    from medkg_server.app import create_app

    monkeypatch.setenv("MEDKG_UPDATE_TOKEN", token)
    settings = create_app({"STORE": str(tmp_path)}).config["MEDKG_SETTINGS"]
    assert settings.update_token == token
    assert settings.update_enabled


def test_a_store_path_that_reads_as_a_number_stays_a_path(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from medkg_server.app import create_app

    monkeypatch.chdir(tmp_path)
    # an installed package finds no data/ from here: name the checkout's, as a deployment would
    monkeypatch.setenv("MEDKG_HOME", str(Path(__file__).resolve().parents[2]))
    monkeypatch.setenv("MEDKG_STORE", "2024")  # decoded as JSON, the integer 2024 broke Path()
    assert create_app().config["MEDKG_SETTINGS"].store == tmp_path / "2024"
